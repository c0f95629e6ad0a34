// The listeners' configuration: the API listener (address, its own TLS, the unauthenticated opt-in), the transport
// limits of both gRPC listeners and of OTLP/HTTP in human units, and replay.allowedTargets — each refused with a
// message naming the key when it cannot work.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { http2ListenerLimits } from '../../src/transport/http2-limits.js';
import { configFailure, loadYamlConfig } from '../helpers/config-file.js';

let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'listener-config-'))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const load = (yaml: string, env: NodeJS.ProcessEnv = {}) => loadYamlConfig(dir, yaml, env);
const failure = (yaml: string): string => configFailure(dir, yaml);

test('gRPC transport limits in human units, per listener, read through the transport-neutral shape', () => {
  const config = load(`
server:
  grpc:
    maxConcurrentStreams: 50
    maxConnections: 10
    keepaliveTime: 2m
    keepaliveTimeout: 5s
    minPingInterval: 30s
    permitPingsWithoutCalls: false
    maxConnectionIdle: 0
    maxConnectionAge: 15m
    maxConnectionAgeGrace: 1m
  api:
    maxReceiveBytes: 256KiB
    maxConnectionAge: 1h
`);
  expect(http2ListenerLimits(config.server.grpc)).toEqual({
    maxReceiveBytes: 64 * 2 ** 20,
    maxConcurrentStreams: 50,
    maxConnections: 10,
    keepaliveTimeMs: 120_000,
    keepaliveTimeoutMs: 5_000,
    minPingIntervalMs: 30_000,
    permitPingsWithoutCalls: false,
    maxConnectionIdleMs: 0,
    maxConnectionAgeMs: 15 * 60_000,
    maxConnectionAgeGraceMs: 60_000,
  });
  expect(http2ListenerLimits(config.server.api)).toMatchObject({ maxReceiveBytes: 256 * 1024, maxConnectionAgeMs: 3_600_000, maxConcurrentStreams: 16 });
});

test('OTLP/HTTP timeouts and connection cap; a header timeout longer than the request timeout is refused', () => {
  const config = load('server:\n  http:\n    headersTimeout: 2s\n    requestTimeout: 30s\n    keepAliveTimeout: 5s\n    maxConnections: 100\n');
  expect(config.server.http).toMatchObject({ headersTimeout: 2000, requestTimeout: 30_000, keepAliveTimeout: 5000, maxConnections: 100 });
  expect(failure('server:\n  http:\n    headersTimeout: 2m\n    requestTimeout: 1m\n')).toMatch(/server\.http\.headersTimeout: must be at most requestTimeout/);
  expect(failure('server:\n  http:\n    maxConnections: 0\n')).toMatch(/server\.http\.maxConnections/);
});

test('wrong values name their key', () => {
  expect(failure('server:\n  grpc:\n    maxConcurrentStreams: 0\n')).toMatch(/server\.grpc\.maxConcurrentStreams/);
  expect(failure('server:\n  api:\n    keepaliveTime: often\n')).toMatch(/server\.api\.keepaliveTime: expected a duration/);
  expect(failure('server:\n  api:\n    allowUnauthenticated: maybe\n')).toMatch(/server\.api\.allowUnauthenticated: expected true or false/);
  expect(failure('server:\n  api:\n    listen: everywhere\n')).toMatch(/server\.api\.listen: expected HOST:PORT/);
  expect(failure('server:\n  api:\n    maxConcurrentReplays: 0\n')).toMatch(/server\.api\.maxConcurrentReplays/);
});

test('the API listener may have its own TLS files (relative to the working directory), and its address from the environment', () => {
  const config = load('server:\n  api:\n    listen: 0.0.0.0:4319\n    tls: { certFile: api.crt, keyFile: api.key, clientCaFile: ca.crt, requireClientCert: true }\n');
  expect(config.server.api.tls).toMatchObject({
    certFile: path.join(dir, 'api.crt'),
    keyFile: path.join(dir, 'api.key'),
    clientCaFile: path.join(dir, 'ca.crt'),
    requireClientCert: true,
  });
  expect(config.server.tls).toBeUndefined();
  expect(load('', { OTLP_CAPTURE_API_LISTEN: '[::1]:9319' }).server.api.listen).toBe('[::1]:9319');
});

test('replay.allowedTargets: HOST:PORT patterns with * in the host; anything else is refused', () => {
  expect(load('replay:\n  allowedTargets: ["collector.staging.svc:4317", "*.staging.svc:4317", "10.0.0.*:4317", "[::1]:4317"]\n').replay.allowedTargets).toHaveLength(4);
  for (const bad of ['collector', 'collector:*', 'http://collector:4317', 'collector:99999', 'a b:4317', '']) {
    expect(failure(`replay:\n  allowedTargets: [${JSON.stringify(bad)}]\n`)).toMatch(/replay\.allowedTargets\.0: expected HOST:PORT, with \* allowed in the host part/);
  }
});
