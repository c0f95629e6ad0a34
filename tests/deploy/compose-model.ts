// deploy/docker-compose.yaml read the way Compose reads it: services with their environment (interpolated against
// an empty host environment, i.e. the file's defaults), mounts, published ports and dependencies.
import path from 'node:path';
import { interpolateCompose } from './env-refs.js';
import { isTree, readYaml, repoPath, tree, type Tree } from './repo-yaml.js';

export const COMPOSE_FILE = 'deploy/docker-compose.yaml';
/** Relative paths in the compose file are relative to its directory. */
export const COMPOSE_DIR = repoPath('deploy');

export interface Mount {
  kind: 'volume' | 'bind';
  /** Volume name, or the bind source as an absolute path. */
  source: string;
  target: string;
  readOnly: boolean;
}

export interface ComposeService {
  name: string;
  raw: Tree;
  environment: Record<string, string>;
  mounts: Mount[];
  /** [host port, container port] of every published port. */
  ports: [number, number][];
  /** The same published ports with the host address they bind to (0.0.0.0, every interface, when none is given). */
  bindings: { address: string; host: number; container: number }[];
  dependsOn: Record<string, string>;
}

export function readCompose(): Tree {
  return tree(readYaml(COMPOSE_FILE), COMPOSE_FILE);
}

function environment(value: unknown): Record<string, string> {
  const entries: [string, string][] = Array.isArray(value)
    ? value.map((item) => {
        const [key, ...rest] = String(item).split('=');
        return [key as string, rest.join('=')];
      })
    : Object.entries(isTree(value) ? value : {}).map(([key, item]) => [key, item === null ? '' : String(item)]);
  return Object.fromEntries(entries.map(([key, item]) => [key, interpolateCompose(item, {}).value]));
}

function mounts(value: unknown): Mount[] {
  return (Array.isArray(value) ? value : []).map((item): Mount => {
    if (isTree(item)) {
      const source = String(item.source);
      return item.type === 'bind'
        ? { kind: 'bind', source: path.resolve(COMPOSE_DIR, source), target: String(item.target), readOnly: item.read_only === true }
        : { kind: 'volume', source, target: String(item.target), readOnly: item.read_only === true };
    }
    const [source = '', target = '', mode = ''] = String(item).split(':');
    const bind = source.startsWith('.') || source.startsWith('/');
    return {
      kind: bind ? 'bind' : 'volume',
      source: bind ? path.resolve(COMPOSE_DIR, source) : source,
      target,
      readOnly: mode.split(',').includes('ro'),
    };
  });
}

function bindings(value: unknown): { address: string; host: number; container: number }[] {
  return (Array.isArray(value) ? value : []).map((item) => {
    if (typeof item !== 'string') throw new Error(`publish ports as quoted "HOST:CONTAINER" strings, got ${JSON.stringify(item)}`);
    const match = /^(?:([\d.]+):)?(\d+):(\d+)(?:\/tcp)?$/.exec(item);
    if (!match) throw new Error(`not a HOST:CONTAINER port: ${item}`);
    return { address: match[1] ?? '0.0.0.0', host: Number(match[2]), container: Number(match[3]) };
  });
}

function dependsOn(value: unknown): Record<string, string> {
  if (Array.isArray(value)) return Object.fromEntries(value.map((name) => [String(name), '(no condition)']));
  return Object.fromEntries(Object.entries(isTree(value) ? value : {}).map(([name, item]) => [name, String((item as Tree | null)?.condition ?? '(no condition)')]));
}

export function composeServices(compose: Tree): Map<string, ComposeService> {
  const services = tree(compose.services, 'services');
  return new Map(
    Object.entries(services).map(([name, value]) => {
      const raw = tree(value, `services.${name}`);
      return [
        name,
        { name, raw, environment: environment(raw.environment), mounts: mounts(raw.volumes), ports: bindings(raw.ports).map((b) => [b.host, b.container] as [number, number]), bindings: bindings(raw.ports), dependsOn: dependsOn(raw.depends_on) },
      ];
    }),
  );
}

/** Where a path inside a container comes from: the mount with the longest matching target, and the rest of the path. */
export function locate(service: ComposeService, containerPath: string): { mount: Mount; rest: string } | undefined {
  const candidates = service.mounts
    .filter((mount) => containerPath === mount.target || containerPath.startsWith(`${mount.target}/`))
    .sort((a, b) => b.target.length - a.target.length);
  const mount = candidates[0];
  return mount && { mount, rest: path.posix.relative(mount.target, containerPath) };
}

/** A one-shot service: it runs to completion (restart "no") and others wait for it to have succeeded. */
export function isOneShot(service: ComposeService): boolean {
  return service.raw.restart === 'no';
}

/** The `http://127.0.0.1:PORT/…` a health check asks, if it asks one. */
export function healthcheckPort(service: ComposeService): number | undefined {
  const test = (service.raw.healthcheck as Tree | undefined)?.test;
  const match = /https?:\/\/(?:127\.0\.0\.1|localhost):(\d+)\//.exec(JSON.stringify(test ?? ''));
  return match ? Number(match[1]) : undefined;
}

/** The value of a `--flag=value` or `--flag value` in a command list. */
export function flagValue(command: unknown, flag: string): string | undefined {
  const args = Array.isArray(command) ? command.map(String) : [];
  for (const [i, arg] of args.entries()) {
    if (arg === flag) return args[i + 1];
    if (arg.startsWith(`${flag}=`)) return arg.slice(flag.length + 1);
  }
  return undefined;
}
