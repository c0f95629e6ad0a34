// collector-config/: every Collector configuration is structurally sound (as `otelcol validate` would judge the
// parts we can check without the binary), and the exporter toward otlp-capture has what the README promises:
// gzip, a persistent queue, retries that never give up, a bearer token over TLS, and the tenant header.
import { readFileSync } from 'node:fs';
import { loadConfig } from '../../src/config/load.js';
import { parseListen } from '../../src/config/units.js';
import { captureExporters, collectorProblems, componentType, endpointPort } from './collector-checks.js';
import { expandCollectorEnv } from './env-refs.js';
import { at, readYaml, repoPath, tree, yamlFilesUnder, type Tree } from './repo-yaml.js';

const FILES = yamlFilesUnder('collector-config');
const CAPTURE_CONFIGS = ['collector-config/fan-out-mtls.yaml', 'collector-config/fan-out.yaml', 'collector-config/gateway.yaml'];
/** What a deployment must provide: the only variables without a default. */
const REQUIRED_ENV = { BACKEND_OTLP_ENDPOINT: 'backend.example.com:4317' };

const defaults = loadConfig({ env: {} });
const defaultGrpcPort = parseListen(defaults.server.grpc.listen)!.port;

/** A configuration with every env reference at its default (and the required ones set). */
function expanded(file: string): Tree {
  const { value, missing } = expandCollectorEnv(readYaml(file), REQUIRED_ENV);
  expect(missing).toEqual([]);
  return tree(value, file);
}

test('collector-config/ holds the fan-out (plain and mutual TLS) and agent → gateway configurations', () => {
  expect(FILES).toEqual([
    'collector-config/agent.yaml',
    'collector-config/fan-out-mtls.yaml',
    'collector-config/fan-out.yaml',
    'collector-config/gateway.yaml',
  ]);
});

describe.each(FILES)('%s', (file) => {
  test('is structurally sound: known components, pipelines and extensions all defined and used, no port twice', () => {
    expect(collectorProblems(expanded(file))).toEqual([]);
  });

  test('documents every environment variable it reads in its header comment', () => {
    const text = readFileSync(repoPath(file), 'utf8');
    const header = text.split('\n').filter((line) => line.startsWith('#')).join('\n');
    const { referenced } = expandCollectorEnv(readYaml(file), {});
    expect(referenced.length).toBeGreaterThan(0);
    for (const name of referenced) expect({ name, documented: header.includes(name) }).toEqual({ name, documented: true });
  });
});

describe.each(CAPTURE_CONFIGS)('%s: the exporter toward otlp-capture', (file) => {
  const config = expanded(file);
  const exporters = captureExporters(config);
  const [id, exporter] = exporters[0] ?? ['', {}];
  const extensions = tree(config.extensions, `${file} extensions`);
  const started = at(config, 'service.extensions') as string[];

  test('is one OTLP/gRPC exporter that every signal pipeline uses', () => {
    expect(exporters).toHaveLength(1);
    const pipelines = tree(at(config, 'service.pipelines'), 'pipelines');
    expect(Object.keys(pipelines).map(componentType).sort()).toEqual(['logs', 'metrics', 'traces']);
    for (const pipeline of Object.values(pipelines)) expect(at(pipeline, 'exporters')).toContain(id);
  });

  test('compresses with gzip and points at otlp-capture’s default gRPC port', () => {
    expect(exporter.compression).toBe('gzip');
    expect(endpointPort(exporter.endpoint)).toBe(defaultGrpcPort);
  });

  test('queues on disk: sending_queue.storage is a started file_storage extension', () => {
    expect(at(exporter, 'sending_queue.enabled')).toBe(true);
    const storage = at(exporter, 'sending_queue.storage') as string;
    expect(componentType(storage)).toBe('file_storage');
    expect(Object.keys(extensions)).toContain(storage);
    expect(started).toContain(storage);
    expect(at(extensions[storage], 'create_directory')).toBe(true);
  });

  test('retries on failure and never drops a batch for taking too long (the queue holds it)', () => {
    expect(at(exporter, 'retry_on_failure.enabled')).toBe(true);
    expect(at(exporter, 'retry_on_failure.max_elapsed_time')).toBe(0);
  });

  test('authenticates with a started bearertokenauth extension, over TLS verified with a CA file', () => {
    const authenticator = at(exporter, 'auth.authenticator') as string;
    expect(componentType(authenticator)).toBe('bearertokenauth');
    expect(started).toContain(authenticator);
    expect(typeof (at(extensions[authenticator], 'filename') ?? at(extensions[authenticator], 'token'))).toBe('string');
    expect(at(exporter, 'tls.insecure')).not.toBe(true);
    expect(typeof at(exporter, 'tls.ca_file')).toBe('string');
  });

  test('names the tenant in the header otlp-capture reads (admission.tenantHeader)', () => {
    const headers = tree(exporter.headers, 'headers');
    const tenantHeader = Object.keys(headers).find((name) => name.toLowerCase() === defaults.admission.tenantHeader);
    expect(tenantHeader).toBe('X-Scope-OrgID');
    expect(String(headers[tenantHeader!])).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/);
  });

  test('gets bounded batches: each pipeline batches with a maximum size', () => {
    for (const pipeline of Object.values(tree(at(config, 'service.pipelines'), 'pipelines'))) {
      const batch = (at(pipeline, 'processors') as string[]).find((name) => componentType(name) === 'batch');
      expect(batch).toBeDefined();
      expect(at(config, `processors.${batch!}.send_batch_max_size`)).toBeGreaterThan(0);
    }
  });
});

test('the mutual TLS variant is fan-out.yaml plus a client certificate and key', () => {
  const plain = expanded('collector-config/fan-out.yaml');
  const mutual = expanded('collector-config/fan-out-mtls.yaml');
  const tls = tree(at(mutual, 'exporters.otlp/capture.tls'), 'tls');
  expect(typeof tls.cert_file).toBe('string');
  expect(typeof tls.key_file).toBe('string');
  const strip = (config: Tree): unknown => JSON.parse(JSON.stringify(config, (key, value: unknown) => (key === 'tls' ? undefined : value)));
  expect(strip(mutual)).toEqual(strip(plain));
});

test('agent → gateway: the agent has no capture exporter and sends to the gateway’s OTLP/gRPC receiver port', () => {
  const agent = expanded('collector-config/agent.yaml');
  const gateway = expanded('collector-config/gateway.yaml');
  expect(captureExporters(agent)).toEqual([]);
  const toGateway = at(agent, 'exporters.otlp/gateway') as Tree;
  expect(toGateway.compression).toBe('gzip');
  expect(at(toGateway, 'retry_on_failure.enabled')).toBe(true);
  expect(endpointPort(toGateway.endpoint)).toBe(endpointPort(at(gateway, 'receivers.otlp.protocols.grpc.endpoint')));
});

describe('the structural check itself refuses a broken configuration', () => {
  const base = (): Tree => structuredClone(expanded('collector-config/fan-out.yaml'));
  const cases: [string, (config: Tree) => void, string][] = [
    ['an undefined exporter in a pipeline', (c) => (at(c, 'service.pipelines.traces.exporters') as string[]).push('otlp/nowhere'), '"otlp/nowhere" is not defined'],
    ['a queue on an undefined storage', (c) => ((at(c, 'exporters.otlp/capture.sending_queue') as Tree).storage = 'file_storage/gone'), 'is not a defined extension'],
    ['an extension never started', (c) => ((at(c, 'service') as Tree).extensions = ['health_check', 'bearertokenauth/capture']), 'never started'],
    ['a bearer token over plaintext', (c) => ((at(c, 'exporters.otlp/capture') as Tree).tls = { insecure: true }), 'refused by the extension'],
    ['a misspelt component type', (c) => ((c.processors as Tree)['batchh'] = {}), 'unknown processor type "batchh"'],
    ['two listeners on one port', (c) => ((at(c, 'extensions.health_check') as Tree).endpoint = '0.0.0.0:4317'), 'port 4317'],
  ];
  test.each(cases)('%s', (_name, breakIt, expected) => {
    expect(collectorProblems(base())).toEqual([]);
    const broken = base();
    breakIt(broken);
    expect(collectorProblems(broken).join('\n')).toContain(expected);
  });
});
