// deploy/docker-compose.yaml, checked statically (no Docker engine here): build contexts and files exist, every
// long-running service has a health check, every dependency names a service with a condition it can meet, and the
// services agree with each other: otlp-capture's configuration loads with its environment, the Collector's
// configuration resolves against its environment and points at otlp-capture's port with the same CA and token,
// and the S3 / ClickHouse credentials and addresses match the servers'.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ResolvedConfig } from '../../src/config/load.js';
import { captureExporters, collectorProblems, endpointPort } from './collector-checks.js';
import {
  COMPOSE_DIR,
  composeServices,
  flagValue,
  healthcheckPort,
  isOneShot,
  locate,
  readCompose,
  type ComposeService,
} from './compose-model.js';
import { hasReadToken, LOADER_ENV, listenPorts, loadConfigText, parseComposeDuration, portOf, reachableListens } from './capture-config.js';
import { expandCollectorEnv } from './env-refs.js';
import { at, isTree, parseYamlDocuments, repoPath, tree, type Tree } from './repo-yaml.js';

const compose = readCompose();
const services = composeServices(compose);

function service(name: string): ComposeService {
  const found = services.get(name);
  if (!found) throw new Error(`no service ${name}`);
  return found;
}

const capture = service('otlp-capture');
const collector = service('otel-collector');

/** The file a container reads at `containerPath`, when it is bind-mounted from the repository. */
function boundFile(on: ComposeService, containerPath: string): string {
  const located = locate(on, containerPath);
  if (!located || located.mount.kind !== 'bind') throw new Error(`${on.name}: ${containerPath} is not bind-mounted`);
  return path.join(located.mount.source, located.rest);
}

/** Volume name and path inside it, for a path in a container that is on a named volume. */
function onVolume(on: ComposeService, containerPath: string): string {
  const located = locate(on, containerPath);
  if (!located || located.mount.kind !== 'volume') throw new Error(`${on.name}: ${containerPath} is not on a named volume`);
  return `${located.mount.source}:${located.rest}`;
}

const captureConfigPath = flagValue(['serve', '--config', '/etc/otlp-capture/config.yaml'], '--config')!;
const captureConfig: ResolvedConfig = loadConfigText(readFileSync(boundFile(capture, captureConfigPath), 'utf8'), capture.environment);
const collectorConfigFile = boundFile(collector, flagValue(collector.raw.command, '--config')!);
const collectorExpansion = expandCollectorEnv(parseYamlDocuments(readFileSync(collectorConfigFile, 'utf8'), collectorConfigFile)[0], collector.environment);
const collectorConfig = tree(collectorExpansion.value, 'collector config');

test('has the stack the README describes', () => {
  expect([...services.keys()].sort()).toEqual([
    'backend', 'certs', 'clickhouse', 'init-volumes', 'minio', 'minio-init', 'otel-collector', 'otlp-capture',
  ]);
});

describe.each([...services.keys()])('service %s', (name) => {
  const it = service(name);

  test('uses a pinned image, or a build whose context and Dockerfile exist', () => {
    const build = it.raw.build;
    if (build !== undefined) {
      const settings = isTree(build) ? build : { context: build };
      const context = path.resolve(COMPOSE_DIR, String(settings.context));
      expect(statSync(context).isDirectory()).toBe(true);
      expect(existsSync(path.join(context, String(settings.dockerfile ?? 'Dockerfile')))).toBe(true);
    } else {
      expect(String(it.raw.image)).toMatch(/^[\w./-]+:[\w.-]+$/);
      expect(String(it.raw.image)).not.toMatch(/:latest$/);
    }
  });

  test('has a health check, or is a one-shot job that others wait to complete', () => {
    if (isOneShot(it)) {
      expect(it.raw.healthcheck).toBeUndefined();
      expect(it.ports).toEqual([]);
      const waiters = [...services.values()].filter((other) => name in other.dependsOn);
      expect(waiters.length).toBeGreaterThan(0);
      for (const other of waiters) expect(other.dependsOn[name]).toBe('service_completed_successfully');
    } else {
      const healthcheck = tree(it.raw.healthcheck, `${name}.healthcheck`);
      expect(healthcheck.disable).toBeUndefined();
      const test = healthcheck.test as unknown[];
      expect(['CMD', 'CMD-SHELL']).toContain(test[0]);
      expect(test.length).toBeGreaterThan(1);
    }
  });

  test('depends only on defined services, each with a condition it can reach', () => {
    for (const [target, condition] of Object.entries(it.dependsOn)) {
      const other = service(target);
      if (isOneShot(other)) expect(condition).toBe('service_completed_successfully');
      else {
        expect(condition).toBe('service_healthy');
        expect(other.raw.healthcheck).toBeDefined();
      }
    }
  });

  test('mounts bind sources that exist and named volumes that are declared', () => {
    const declared = Object.keys(tree(compose.volumes, 'volumes'));
    for (const mount of it.mounts) {
      if (mount.kind === 'bind') expect(existsSync(mount.source)).toBe(true);
      else expect(declared).toContain(mount.source);
    }
  });
});

test('dependencies have no cycle, and every declared volume is used', () => {
  const visiting = new Set<string>();
  const done = new Set<string>();
  const visit = (name: string): void => {
    if (done.has(name)) return;
    if (visiting.has(name)) throw new Error(`dependency cycle through ${name}`);
    visiting.add(name);
    for (const target of Object.keys(service(name).dependsOn)) visit(target);
    visiting.delete(name);
    done.add(name);
  };
  for (const name of services.keys()) visit(name);
  const used = new Set([...services.values()].flatMap((it) => it.mounts.filter((m) => m.kind === 'volume').map((m) => m.source)));
  expect(Object.keys(tree(compose.volumes, 'volumes')).filter((volume) => !used.has(volume))).toEqual([]);
});

test('only listeners that demand a token (or ingest) are published beyond the host’s loopback', () => {
  // The demo's databases carry its default credentials: MinIO's console and ClickHouse's HTTP interface would hand
  // the archive and the index to anyone who can reach the host. otlp-capture guards each of its listeners (ingest
  // and read tokens, /metrics by token, health open); the Collector's are OTLP ingest.
  const open = new Set(['otlp-capture', 'otel-collector']);
  const exposed = [...services.values()]
    .filter((it) => !open.has(it.name))
    .flatMap((it) => it.bindings.filter((b) => !b.address.startsWith('127.')).map((b) => `${it.name} ${b.address}:${b.host}`));
  expect(exposed).toEqual([]);
  expect(service('clickhouse').bindings.length + service('minio').bindings.length).toBeGreaterThan(0);
});

test('no host port is published twice', () => {
  const hostPorts = [...services.values()].flatMap((it) => it.ports.map(([host]) => host));
  expect(new Set(hostPorts).size).toBe(hostPorts.length);
});

describe('otlp-capture', () => {
  test('sets only environment variables the configuration loader reads', () => {
    expect(Object.keys(capture.environment).filter((name) => !LOADER_ENV.has(name))).toEqual([]);
  });

  test('its mounted configuration loads with that environment: TLS, an ingest and a read token file, S3 and ClickHouse', () => {
    expect(captureConfig.storage.type).toBe('s3');
    expect(captureConfig.index.type).toBe('clickhouse');
    expect(captureConfig.server.tls).toBeDefined();
    expect(captureConfig.auth.bearerTokens.map((token) => [path.basename(token.tokenFile!), token.scopes])).toEqual([
      ['token', ['ingest']],
      ['read-token', ['read', 'replay', 'metrics']],
    ]);
    expect(captureConfig.dataDir).toBe('/var/lib/otlp-capture');
    expect(onVolume(capture, captureConfig.dataDir)).toBe('capture-data:');
  });

  test('publishes the ports it listens on beyond loopback, and its health check asks the admin port for /readyz', () => {
    const ports = listenPorts(captureConfig);
    expect(capture.ports.map(([, container]) => container).sort()).toEqual(reachableListens(captureConfig).map(portOf).sort());
    expect(healthcheckPort(capture)).toBe(ports.admin);
    expect(JSON.stringify(tree(capture.raw.healthcheck, 'healthcheck').test)).toContain('/readyz');
  });

  test('serves the read API beyond loopback only with a read token, and replays only to the stand-in backend', () => {
    expect(reachableListens(captureConfig)).toContain(captureConfig.server.api.listen);
    expect(hasReadToken(captureConfig)).toBe(true);
    expect(captureConfig.server.api.allowUnauthenticated).toBe(false);
    expect(captureConfig.replay.allowedTargets).toEqual(['backend:4317']);
    expect(services.has('backend')).toBe(true);
  });

  test('is given longer to stop than its drain grace period', () => {
    expect(parseComposeDuration(capture.raw.stop_grace_period)).toBeGreaterThanOrEqual(captureConfig.shutdown.gracePeriod + 10_000);
  });

  test('reaches MinIO and ClickHouse with the credentials those servers are given', () => {
    const minio = service('minio');
    const s3 = new URL(capture.environment.S3_ENDPOINT!);
    expect([s3.hostname, s3.port]).toEqual(['minio', '9000']);
    expect(capture.environment.S3_ACCESS_KEY).toBe(minio.environment.MINIO_ROOT_USER);
    expect(capture.environment.S3_SECRET_KEY).toBe(minio.environment.MINIO_ROOT_PASSWORD);
    expect(captureConfig.storage.s3.forcePathStyle).toBe(true);
    expect(captureConfig.storage.s3.bucket).toBe(service('minio-init').environment.BUCKET);
    const clickhouse = service('clickhouse');
    const url = new URL(captureConfig.index.clickhouse.url);
    expect([url.hostname, url.port]).toEqual(['clickhouse', '8123']);
    expect(captureConfig.index.clickhouse.user).toBe(clickhouse.environment.CLICKHOUSE_USER);
    expect(captureConfig.index.clickhouse.password).toBe(clickhouse.environment.CLICKHOUSE_PASSWORD);
  });
});

describe('the OpenTelemetry Collector', () => {
  const [, exporter] = captureExporters(collectorConfig)[0] ?? ['', {} as Tree];

  test('runs a configuration from collector-config/, unchanged, with every variable it needs set', () => {
    expect(path.dirname(collectorConfigFile)).toBe(repoPath('collector-config'));
    expect(collectorExpansion.missing).toEqual([]);
    expect(collectorProblems(collectorConfig)).toEqual([]);
  });

  test('exports to otlp-capture’s service name and configured gRPC port', () => {
    expect(String(exporter.endpoint).split(':')[0]).toBe('otlp-capture');
    expect(endpointPort(exporter.endpoint)).toBe(listenPorts(captureConfig).grpc);
  });

  test('trusts the CA that signed otlp-capture’s certificate and sends the token otlp-capture accepts', () => {
    const tls = captureConfig.server.tls!;
    // Same volume: the certs one-shot writes the CA, the server certificate and the token side by side.
    expect(onVolume(capture, tls.certFile)).toBe('certs:server.crt');
    expect(onVolume(collector, String(at(exporter, 'tls.ca_file')))).toBe('certs:ca.crt');
    const authenticator = String(at(exporter, 'auth.authenticator'));
    const tokenFile = String(at(collectorConfig, `extensions.${authenticator}.filename`));
    // The token that may ingest, and only that: the Collector never holds the read token.
    const ingest = captureConfig.auth.bearerTokens.filter((token) => token.scopes.includes('ingest'));
    expect(ingest.map((token) => token.scopes)).toEqual([['ingest']]);
    expect(onVolume(collector, tokenFile)).toBe(onVolume(capture, ingest[0]!.tokenFile!));
  });

  test('keeps its persistent queue on a named volume that init-volumes hands to its user', () => {
    const storage = String(at(exporter, 'sending_queue.storage'));
    const directory = String(at(collectorConfig, `extensions.${storage}.directory`));
    expect(onVolume(collector, directory)).toBe('collector-queue:');
    const init = service('init-volumes');
    const queueMount = init.mounts.find((mount) => mount.source === 'collector-queue')!;
    expect(JSON.stringify(init.raw.command)).toContain(`chown -R 10001:10001 ${queueMount.target}`);
  });

  test('exports to the stand-in backend’s receiver, and both Collectors’ health checks ask their health_check port', () => {
    const backend = service('backend');
    const backendConfigFile = boundFile(backend, flagValue(backend.raw.command, '--config')!);
    const backendConfig = tree(parseYamlDocuments(readFileSync(backendConfigFile, 'utf8'), backendConfigFile)[0], 'backend');
    expect(collectorProblems(backendConfig)).toEqual([]);
    const toBackend = String(at(collectorConfig, 'exporters.otlp/backend.endpoint'));
    expect(toBackend.split(':')[0]).toBe('backend');
    expect(endpointPort(toBackend)).toBe(endpointPort(at(backendConfig, 'receivers.otlp.protocols.grpc.endpoint')));
    for (const [it, config] of [[collector, collectorConfig], [backend, backendConfig]] as const) {
      expect(healthcheckPort(it)).toBe(endpointPort(at(config, 'extensions.health_check.endpoint')));
    }
  });

  test('health checks run a busybox that init-volumes copies into the volume they mount', () => {
    const init = service('init-volumes');
    const toolsMount = init.mounts.find((mount) => mount.source === 'healthcheck-tools')!;
    expect(JSON.stringify(init.raw.command)).toContain(`cp /bin/busybox ${toolsMount.target}/busybox`);
    for (const it of [collector, service('backend')]) {
      const binary = String((tree(it.raw.healthcheck, 'healthcheck').test as unknown[])[1]);
      expect(onVolume(it, binary)).toBe('healthcheck-tools:busybox');
      expect(it.dependsOn['init-volumes']).toBe('service_completed_successfully');
    }
  });
});
