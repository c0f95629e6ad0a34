// A structural check of OpenTelemetry Collector configurations, standing in for `otelcol validate` (no Collector
// binary here): component types the contrib distribution has, pipelines that reference defined components, the
// extensions that exporters rely on started by the service, and no two listeners on one port.
import { at, isTree, type Tree } from './repo-yaml.js';

type Kind = 'receivers' | 'processors' | 'exporters' | 'extensions' | 'connectors';
const KINDS: readonly Kind[] = ['receivers', 'processors', 'exporters', 'extensions', 'connectors'];

/** Component types of otelcol-contrib that these configurations may use (a typo is not one of them). */
export const KNOWN_TYPES: Readonly<Record<Kind, ReadonlySet<string>>> = {
  receivers: new Set(['otlp', 'prometheus', 'hostmetrics', 'filelog', 'kubeletstats', 'k8s_cluster', 'jaeger', 'zipkin']),
  processors: new Set([
    'batch', 'memory_limiter', 'resource', 'attributes', 'resourcedetection', 'k8sattributes', 'transform', 'filter',
    'tail_sampling', 'probabilistic_sampler',
  ]),
  // `otlp_grpc` / `otlp_http` are the names from Collector v0.144 on (`otlp` / `otlphttp` remain as aliases).
  exporters: new Set(['otlp', 'otlp_grpc', 'otlphttp', 'otlp_http', 'debug', 'nop', 'prometheus', 'loadbalancing', 'file']),
  extensions: new Set([
    'health_check', 'file_storage', 'bearertokenauth', 'headers_setter', 'basicauth', 'oauth2client', 'pprof', 'zpages',
  ]),
  connectors: new Set(['forward', 'routing', 'spanmetrics', 'count']),
};

const AUTH_EXTENSIONS = new Set(['bearertokenauth', 'headers_setter', 'basicauth', 'oauth2client']);
const STORAGE_EXTENSIONS = new Set(['file_storage']);
const SIGNALS = new Set(['traces', 'metrics', 'logs']);
const GRPC_OTLP_EXPORTERS = new Set(['otlp', 'otlp_grpc']);

/** `otlp/capture` → `otlp`. */
export function componentType(id: string): string {
  return id.split('/')[0] as string;
}

function section(config: Tree, kind: Kind): Tree {
  const value = config[kind];
  return isTree(value) ? value : {};
}

function names(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/** The port of a `host:port` endpoint, or undefined. */
export function endpointPort(endpoint: unknown): number | undefined {
  if (typeof endpoint !== 'string') return undefined;
  const match = /:(\d+)$/.exec(endpoint);
  return match ? Number(match[1]) : undefined;
}

/** Ports this Collector listens on, with who listens (receivers, health_check, its own metrics). */
export function listeningPorts(config: Tree): { port: number; by: string }[] {
  const ports: { port: number; by: string }[] = [];
  for (const [id, receiver] of Object.entries(section(config, 'receivers'))) {
    for (const [protocol, settings] of Object.entries(isTree(at(receiver, 'protocols')) ? (at(receiver, 'protocols') as Tree) : {})) {
      // The otlp receiver's defaults when no endpoint is given.
      const fallback = protocol === 'grpc' ? 4317 : protocol === 'http' ? 4318 : undefined;
      const port = endpointPort(at(settings, 'endpoint')) ?? fallback;
      if (port !== undefined) ports.push({ port, by: `receivers.${id}.protocols.${protocol}` });
    }
  }
  for (const [id, extension] of Object.entries(section(config, 'extensions'))) {
    if (componentType(id) === 'health_check') ports.push({ port: endpointPort(at(extension, 'endpoint')) ?? 13133, by: `extensions.${id}` });
  }
  const readers = at(config, 'service.telemetry.metrics.readers');
  for (const [i, reader] of (Array.isArray(readers) ? readers : []).entries()) {
    const port = at(reader, 'pull.exporter.prometheus.port');
    if (typeof port === 'number') ports.push({ port, by: `service.telemetry.metrics.readers[${i}]` });
  }
  if (readers === undefined) ports.push({ port: 8888, by: 'service.telemetry (default metrics port)' });
  return ports;
}

/** Everything wrong with a Collector configuration (env references already expanded); empty when it is sound. */
export function collectorProblems(input: unknown): string[] {
  if (!isTree(input)) return ['the configuration is not a mapping'];
  const config = input;
  const problems: string[] = [];
  for (const key of Object.keys(config)) {
    if (![...KINDS, 'service'].includes(key)) problems.push(`unknown top-level key "${key}"`);
  }
  for (const kind of KINDS) {
    for (const id of Object.keys(section(config, kind))) {
      if (!/^[a-z][a-z0-9_]*(\/[A-Za-z0-9_.-]+)?$/.test(id)) problems.push(`${kind}.${id}: not a component id (type[/name])`);
      if (!KNOWN_TYPES[kind].has(componentType(id))) problems.push(`${kind}.${id}: unknown ${kind.slice(0, -1)} type "${componentType(id)}"`);
    }
  }

  const service = config.service;
  if (!isTree(service)) return [...problems, 'no service section'];
  const started = names(service.extensions);
  for (const id of started) {
    if (!(id in section(config, 'extensions'))) problems.push(`service.extensions: "${id}" is not defined under extensions`);
  }
  for (const id of Object.keys(section(config, 'extensions'))) {
    if (!started.includes(id)) problems.push(`extensions.${id}: defined but not in service.extensions (never started)`);
  }

  const pipelines = isTree(service.pipelines) ? service.pipelines : {};
  if (Object.keys(pipelines).length === 0) problems.push('service.pipelines: none defined');
  const used = { receivers: new Set<string>(), processors: new Set<string>(), exporters: new Set<string>() };
  for (const [id, pipeline] of Object.entries(pipelines)) {
    if (!SIGNALS.has(componentType(id))) problems.push(`service.pipelines.${id}: unknown signal "${componentType(id)}"`);
    for (const role of ['receivers', 'processors', 'exporters'] as const) {
      const listed = names(at(pipeline, role));
      if (role !== 'processors' && listed.length === 0) problems.push(`service.pipelines.${id}.${role}: empty`);
      for (const name of listed) {
        used[role].add(name);
        const defined = name in section(config, role) || (role !== 'processors' && name in section(config, 'connectors'));
        if (!defined) problems.push(`service.pipelines.${id}.${role}: "${name}" is not defined`);
      }
    }
  }
  for (const role of ['receivers', 'processors', 'exporters'] as const) {
    for (const id of Object.keys(section(config, role))) {
      if (!used[role].has(id)) problems.push(`${role}.${id}: defined but used by no pipeline`);
    }
  }

  for (const [id, exporter] of Object.entries(section(config, 'exporters'))) {
    const authenticator = at(exporter, 'auth.authenticator');
    if (authenticator !== undefined) {
      if (typeof authenticator !== 'string' || !(authenticator in section(config, 'extensions'))) {
        problems.push(`exporters.${id}.auth.authenticator: "${String(authenticator)}" is not a defined extension`);
      } else if (!AUTH_EXTENSIONS.has(componentType(authenticator))) {
        problems.push(`exporters.${id}.auth.authenticator: "${authenticator}" is not an authenticator`);
      } else if (
        componentType(authenticator) === 'bearertokenauth' &&
        GRPC_OTLP_EXPORTERS.has(componentType(id)) &&
        at(exporter, 'tls.insecure') === true
      ) {
        // The extension's gRPC credentials require transport security: every call would fail.
        problems.push(`exporters.${id}: bearertokenauth over plaintext gRPC (tls.insecure: true) is refused by the extension`);
      }
    }
    const storage = at(exporter, 'sending_queue.storage');
    if (storage !== undefined) {
      if (typeof storage !== 'string' || !(storage in section(config, 'extensions'))) {
        problems.push(`exporters.${id}.sending_queue.storage: "${String(storage)}" is not a defined extension`);
      } else if (!STORAGE_EXTENSIONS.has(componentType(storage))) {
        problems.push(`exporters.${id}.sending_queue.storage: "${storage}" is not a storage extension`);
      }
    }
  }

  const seen = new Map<number, string>();
  for (const { port, by } of listeningPorts(config)) {
    const other = seen.get(port);
    if (other !== undefined) problems.push(`port ${port}: both ${other} and ${by} listen on it`);
    seen.set(port, by);
  }
  return problems;
}

/** Exporters that send to otlp-capture: OTLP/gRPC exporters named `capture` (`otlp/capture`). */
export function captureExporters(config: unknown): [string, Tree][] {
  return Object.entries(isTree(config) && isTree(config.exporters) ? config.exporters : {})
    .filter(([id]) => GRPC_OTLP_EXPORTERS.has(componentType(id)) && id.split('/')[1] === 'capture')
    .map(([id, value]) => [id, isTree(value) ? value : {}]);
}
