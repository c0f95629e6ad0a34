// The README's grpcurl section, checked against what the server serves: every service, method and symbol exists in
// proto/, every `-d` body is valid protobuf JSON for the method's request type (as grpcurl reads it: proto or JSON
// field names, enum names, 64-bit integers and Timestamps as strings), headers are the ones otlp-capture reads, and
// every address is a port the deployments actually give the listener that serves what the command names: the OTLP
// listener for OTLP services and messages, the API listener for CaptureService, either for health and `list`.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import protobuf from 'protobufjs';
import { loadConfig } from '../../src/config/load.js';
import { PROTO_DIR } from '../../src/protos.js';
import { listenPorts, loadConfigText } from './capture-config.js';
import { composeServices, readCompose } from './compose-model.js';
import { configArg, configMapFile, isCapture, kustomizations, podTemplates } from './kube-model.js';
import { repoPath } from './repo-yaml.js';

function protoFiles(dir: string, prefix = ''): string[] {
  return readdirSync(path.join(dir, prefix), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? protoFiles(dir, path.posix.join(prefix, entry.name)) : entry.name.endsWith('.proto') ? [path.posix.join(prefix, entry.name)] : [],
  );
}

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : path.join(PROTO_DIR, target));
root.loadSync(protoFiles(PROTO_DIR), { keepCase: true });
root.resolveAll();

interface Command {
  text: string;
  flags: [string, string | true][];
  positional: string[];
  stdin: string | undefined;
}

const VALUE_FLAGS = new Set(['-d', '-H', '-cacert', '-cert', '-key', '-authority', '-servername', '-rpc-header', '-reflect-header', '-max-time', '-connect-timeout']);
const BOOLEAN_FLAGS = new Set(['-plaintext', '-insecure', '-v']);

/** Splits a shell line into words: single and double quotes group, nothing is expanded. */
function words(line: string): string[] {
  const out: string[] = [];
  for (const match of line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) out.push((match[1] ?? match[2] ?? match[3]) as string);
  return out;
}

function grpcurlCommands(readme: string): Command[] {
  const section = /\n## grpcurl\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
  const lines = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((block) => (block[1] as string).split('\n'));
  const commands: Command[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (!line.startsWith('grpcurl ')) continue;
    let text = line;
    let stdin: string | undefined;
    const heredoc = /<<'(\w+)'$/.exec(line);
    if (heredoc) {
      const end = lines.indexOf(heredoc[1] as string, i + 1);
      stdin = lines.slice(i + 1, end).join('\n');
      text = line.slice(0, heredoc.index).trim();
      i = end;
    }
    const flags: [string, string | true][] = [];
    const positional: string[] = [];
    const list = words(text).slice(1);
    for (let j = 0; j < list.length; j++) {
      const word = list[j] as string;
      if (VALUE_FLAGS.has(word)) flags.push([word, list[++j] as string]);
      else if (BOOLEAN_FLAGS.has(word)) flags.push([word, true]);
      else if (word.startsWith('-')) throw new Error(`unknown grpcurl flag ${word} in: ${line}`);
      else positional.push(word);
    }
    commands.push({ text: line, flags, positional, stdin });
  }
  return commands;
}

const readme = readFileSync(repoPath('README.md'), 'utf8');
const COMMANDS = grpcurlCommands(readme);

type Listener = 'grpc' | 'api';

/**
 * Ports people reach otlp-capture's gRPC listeners on, by listener: the defaults, compose's published ports, the
 * Kubernetes ConfigMaps' ports (reached through port-forward).
 */
function knownPorts(): Record<Listener, Set<number>> {
  const defaults = listenPorts(loadConfig({ env: {} }));
  const ports: Record<Listener, Set<number>> = { grpc: new Set([defaults.grpc]), api: new Set([defaults.api]) };
  const capture = composeServices(readCompose()).get('otlp-capture')!;
  const compose = listenPorts(loadConfigText(readFileSync(repoPath('deploy/compose/otlp-capture.yaml'), 'utf8'), capture.environment));
  for (const [host, container] of capture.ports) {
    if (container === compose.grpc) ports.grpc.add(host);
    if (container === compose.api) ports.api.add(host);
  }
  for (const pod of kustomizations().flatMap(podTemplates)) {
    const container = pod.containers.find(isCapture)!;
    const kube = listenPorts(loadConfigText(configMapFile(pod, container, configArg(container)!), {}));
    ports.grpc.add(kube.grpc);
    ports.api.add(kube.api);
  }
  return ports;
}

/** Which listeners serve what a command names (its method, or the symbol it lists or describes). */
function servedBy(command: Command): Listener[] {
  const [, what, symbol] = command.positional;
  const name = what === 'list' || what === 'describe' ? symbol ?? '' : what ?? '';
  if (name === '' || name.startsWith('grpc.health.v1.')) return ['grpc', 'api'];
  return name.startsWith('otlpcapture.') ? ['api'] : ['grpc'];
}

function lookup(symbol: string): protobuf.ReflectionObject | null {
  return root.lookup(symbol.startsWith('.') ? symbol : `.${symbol}`);
}

const jsonName = (name: string): string => name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
const INTEGER_64 = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const NUMBER = new Set(['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32', 'float', 'double']);

/** Problems with `value` as protobuf JSON of `type`, as grpcurl (protojson) would read it. */
function jsonProblems(type: protobuf.Type, value: unknown, where: string): string[] {
  if (type.fullName === '.google.protobuf.Timestamp') {
    return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? [] : [`${where}: expected an RFC 3339 timestamp string`];
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${where}: expected an object for ${type.fullName}`];
  return Object.entries(value).flatMap(([key, item]) => {
    const field = type.fields[key] ?? Object.values(type.fields).find((f) => jsonName(f.name) === key);
    if (!field) return [`${where}.${key}: no such field in ${type.fullName}`];
    field.resolve();
    if (field.map) {
      return typeof item === 'object' && item !== null ? Object.values(item).flatMap((v, i) => fieldProblems(field, v, `${where}.${key}[${i}]`)) : [`${where}.${key}: expected a map`];
    }
    if (field.repeated) return Array.isArray(item) ? item.flatMap((v, i) => fieldProblems(field, v, `${where}.${key}[${i}]`)) : [`${where}.${key}: expected a list`];
    return fieldProblems(field, item, `${where}.${key}`);
  });
}

function fieldProblems(field: protobuf.Field, value: unknown, where: string): string[] {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return jsonProblems(resolved, value, where);
  if (resolved instanceof protobuf.Enum) return typeof value === 'number' || (typeof value === 'string' && value in resolved.values) ? [] : [`${where}: not a value of ${resolved.fullName}`];
  const ok =
    field.type === 'string' ? typeof value === 'string'
    : field.type === 'bool' ? typeof value === 'boolean'
    : field.type === 'bytes' ? typeof value === 'string' && /^[A-Za-z0-9+/=_-]*$/.test(value)
    : INTEGER_64.has(field.type) ? (typeof value === 'string' && /^-?\d+$/.test(value)) || Number.isSafeInteger(value)
    : NUMBER.has(field.type) ? typeof value === 'number'
    : false;
  return ok ? [] : [`${where}: ${JSON.stringify(value)} is not a ${field.type}`];
}

test('the grpcurl section lists services, describes, checks health, and calls ListRequests and FindTrace', () => {
  const methods = COMMANDS.map((command) => command.positional[1] ?? '');
  expect(methods).toEqual(
    expect.arrayContaining([
      'list',
      'describe',
      'grpc.health.v1.Health/Check',
      'otlpcapture.v1.CaptureService/ListRequests',
      'otlpcapture.v1.CaptureService/FindTrace',
    ]),
  );
  expect(COMMANDS.length).toBeGreaterThanOrEqual(12);
});

describe.each(COMMANDS.map((command) => [command.text, command] as const))('%s', (_text, command) => {
  const [address, what, symbol] = command.positional;

  test('targets a port that the listener serving it has in some deployment, plaintext or with a CA', () => {
    const port = Number(/^(?:localhost|127\.0\.0\.1):(\d+)$/.exec(address ?? '')?.[1]);
    const known = knownPorts();
    expect(servedBy(command).some((listener) => known[listener].has(port))).toBe(true);
    const plaintext = command.flags.some(([flag]) => flag === '-plaintext');
    const cacert = command.flags.some(([flag]) => flag === '-cacert');
    expect(plaintext !== cacert).toBe(true);
  });

  test('sends only the headers otlp-capture reads (a Bearer token, the tenant header)', () => {
    const tenantHeader = loadConfig({ env: {} }).admission.tenantHeader;
    for (const [flag, value] of command.flags.filter(([f]) => f === '-H')) {
      const [name, ...rest] = String(value).split(':');
      expect([flag, name!.toLowerCase()]).toEqual([flag, expect.stringMatching(new RegExp(`^(authorization|${tenantHeader})$`))]);
      if (name!.toLowerCase() === 'authorization') expect(rest.join(':').trim()).toMatch(/^Bearer \S+$/);
    }
  });

  test('names symbols that exist, and sends a valid request body', () => {
    if (what === 'list' || what === 'describe') {
      expect(command.flags.filter(([flag]) => flag === '-d')).toEqual([]);
      if (symbol !== undefined) expect(lookup(symbol)).not.toBeNull();
      return;
    }
    const [serviceName, methodName] = (what ?? '').split('/');
    const service = lookup(serviceName!);
    expect(service).toBeInstanceOf(protobuf.Service);
    const method = (service as protobuf.Service).methods[methodName!];
    expect(method).toBeDefined();
    method!.resolve();
    const body = command.flags.find(([flag]) => flag === '-d')?.[1];
    if (body === undefined) return;
    const text = body === '@' ? command.stdin : String(body);
    expect(text).toBeDefined();
    expect(jsonProblems(method!.resolvedRequestType!, JSON.parse(text!), 'request')).toEqual([]);
  });
});

test('the port check tells the listeners apart: CaptureService only on API ports, OTLP only on OTLP ports', () => {
  const known = knownPorts();
  expect([...known.api].sort((a, b) => a - b)).toEqual([4319, 14319]);
  expect([...known.grpc].sort((a, b) => a - b)).toEqual([4317, 14317]);
  const command = (line: string): Command => grpcurlCommands(`\n## grpcurl\n\`\`\`sh\n${line}\n\`\`\`\n## `)[0]!;
  expect(servedBy(command('grpcurl -plaintext localhost:4317 otlpcapture.v1.CaptureService/ListRequests'))).toEqual(['api']);
  expect(servedBy(command('grpcurl -plaintext localhost:4319 describe opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'))).toEqual(['grpc']);
  expect(servedBy(command('grpcurl -plaintext localhost:4319 list'))).toEqual(['grpc', 'api']);
});

test('the body check itself refuses wrong fields, enum values and types', () => {
  const request = lookup('otlpcapture.v1.ListRequestsRequest') as protobuf.Type;
  expect(jsonProblems(request, { signal: 'SIGNAL_TRACES', pageSize: 5, since: '2026-01-01T00:00:00Z' }, 'r')).toEqual([]);
  expect(jsonProblems(request, { sigal: 'SIGNAL_TRACES' }, 'r')).toEqual(['r.sigal: no such field in .otlpcapture.v1.ListRequestsRequest']);
  expect(jsonProblems(request, { signal: 'TRACES' }, 'r')).toHaveLength(1);
  expect(jsonProblems(request, { page_size: '5' }, 'r')).toHaveLength(1);
  expect(jsonProblems(request, { since: 'yesterday' }, 'r')).toHaveLength(1);
});
