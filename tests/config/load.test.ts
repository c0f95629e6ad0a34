// loadConfig: defaults, the YAML file, OTLP_CAPTURE_* variables and command-line overrides, in that rising
// precedence; every refusal is a ConfigError whose message names the key and says what is expected.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ENV_OVERRIDES, loadConfig, type LoadOptions } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'config-test-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function yamlFile(text: string, name = 'config.yaml'): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

/** The ConfigError's message; fails the test when loading succeeds or throws anything else. */
function failure(options: LoadOptions): string {
  try {
    loadConfig({ env: {}, ...options });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('loadConfig accepted the configuration');
}

describe('defaults', () => {
  test('no file, no environment: the embedded default with every path absolute under dataDir', () => {
    const config = loadConfig({ env: {}, cwd: '/srv/capture' });
    expect(config.dataDir).toBe('/srv/capture/data');
    expect(config.spool.dir).toBe('/srv/capture/data/spool');
    expect(config.storage.filesystem.dir).toBe('/srv/capture/data/objects');
    expect(config.index.sqlite.path).toBe('/srv/capture/data/index.sqlite');
    expect(config.server.grpc).toEqual({
      listen: '0.0.0.0:4317',
      maxReceiveBytes: 64 * 2 ** 20,
      maxConcurrentStreams: 100,
      maxConnections: 4096,
      initialWindowSize: 65_536,
      keepaliveTime: 60_000,
      keepaliveTimeout: 20_000,
      minPingInterval: 5_000,
      permitPingsWithoutCalls: true,
      maxConnectionIdle: 5 * 60_000,
      maxConnectionAge: 10 * 60_000,
      maxConnectionAgeGrace: 30_000,
    });
    expect(config.server.http).toEqual({
      listen: '0.0.0.0:4318',
      maxReceiveBytes: 64 * 2 ** 20,
      maxJsonBytes: 8 * 2 ** 20,
      headersTimeout: 10_000,
      requestTimeout: 60_000,
      keepAliveTimeout: 30_000,
      maxConnections: 4096,
    });
    // The API is loopback-only, and never ages connections out (a Replay stream may run long).
    expect(config.server.api).toEqual({
      listen: '127.0.0.1:4319',
      tls: undefined,
      allowUnauthenticated: false,
      maxReceiveBytes: 2 ** 20,
      maxConcurrentStreams: 16,
      maxConnections: 64,
      keepaliveTime: 60_000,
      keepaliveTimeout: 20_000,
      minPingInterval: 5_000,
      permitPingsWithoutCalls: true,
      maxConnectionIdle: 5 * 60_000,
      maxConnectionAge: 0,
      maxConnectionAgeGrace: 0,
      maxConcurrentReads: 4,
      maxConcurrentReplays: 2,
      maxFindTraceBytes: 16 * 2 ** 20,
      maxJsonViewBytes: 16 * 2 ** 20,
      tailBuffer: 1000,
    });
    expect(config.replay).toEqual({ allowedTargets: [] });
    expect(config.server.admin).toEqual({ listen: '0.0.0.0:8888', allowUnauthenticatedMetrics: false });
    expect(config.admission).toEqual({
      maxInFlightBytes: 256 * 2 ** 20,
      tenantHeader: 'x-scope-orgid',
      defaultTenant: 'default',
      retryAfter: 1000,
      maxWait: 2000,
      waitQueueRequests: 256,
      maxTraceIdsPerRequest: 100_000,
      maxServicesPerRequest: 10_000,
    });
    expect(config.spool).toMatchObject({ maxBytes: 4 * 2 ** 30, segmentBytes: 64 * 2 ** 20, durability: 'fsync', handoverBytes: 16 * 2 ** 20 });
    expect(config.archiver).toEqual({
      maxObjectBytes: 64 * 2 ** 20,
      maxObjectAge: 60_000,
      codec: 'zstd',
      uploadConcurrency: 4,
      maxOpenObjects: 32,
      maxOpenTraceIds: 250_000,
      retryInitialBackoff: 500,
      retryMaxBackoff: 30_000,
      maxLag: 300_000,
      keepClientBlocks: true,
    });
    expect(config.storage.type).toBe('filesystem');
    expect(config.index.type).toBe('sqlite');
    expect(config.shutdown.gracePeriod).toBe(30_000);
    expect(config.log.level).toBe('info');
  });

  test('an empty file, or one holding only a comment, is the default too', () => {
    const expected = loadConfig({ env: {}, cwd: dir });
    expect(loadConfig({ env: {}, cwd: dir, file: yamlFile('') })).toEqual(expected);
    expect(loadConfig({ env: {}, cwd: dir, file: yamlFile('# nothing set\n') })).toEqual(expected);
  });

  test('without a cwd option, relative paths resolve against the process working directory', () => {
    const config = loadConfig({ env: {}, overrides: { dataDir: 'somewhere' } });
    expect(config.dataDir).toBe(path.join(process.cwd(), 'somewhere'));
    expect(path.isAbsolute(config.spool.dir)).toBe(true);
  });
});

describe('the YAML file', () => {
  test('values in human units are parsed; explicit paths win over the dataDir layout', () => {
    const file = yamlFile(`
dataDir: /var/lib/capture
server:
  grpc:
    listen: "[::1]:14317"
    maxReceiveBytes: 128MiB
    maxConcurrentStreams: 32
    initialWindowSize: 1MiB
    keepaliveTime: 1m
    keepaliveTimeout: 5s
    maxConnectionIdle: 10m
    maxConnectionAge: 5m
    maxConnectionAgeGrace: 30s
  admin:
    listen: 127.0.0.1:18888
admission:
  maxInFlightBytes: 1.5GiB
  tenantHeader: X-Tenant-Id
  defaultTenant: acme
  retryAfter: 2s
  maxWait: 1500ms
  waitQueueBytes: 512MiB
  waitQueueRequests: 64
spool:
  dir: /fast/spool
  maxBytes: 10GB
  segmentBytes: 1048576
  durability: none
  handoverBytes: 0
archiver:
  maxObjectBytes: 8MiB
  maxObjectAge: 1h30m
  codec: brotli
  level: 5
  keepClientBlocks: false
  uploadConcurrency: 8
  maxOpenObjects: 2
  retryInitialBackoff: 250ms
  retryMaxBackoff: 1m
storage:
  filesystem:
    dir: relative/objects
index:
  sqlite:
    path: /db/index.sqlite
shutdown:
  gracePeriod: 45s
log:
  level: debug
`);
    const config = loadConfig({ env: {}, file, cwd: '/home/ops' });
    expect(config.dataDir).toBe('/var/lib/capture');
    expect(config.server.grpc).toEqual({
      listen: '[::1]:14317',
      maxReceiveBytes: 128 * 2 ** 20,
      maxConcurrentStreams: 32,
      maxConnections: 4096,
      initialWindowSize: 1_048_576,
      keepaliveTime: 60_000,
      keepaliveTimeout: 5000,
      minPingInterval: 5_000,
      permitPingsWithoutCalls: true,
      maxConnectionIdle: 600_000,
      maxConnectionAge: 300_000,
      maxConnectionAgeGrace: 30_000,
    });
    expect(config.server.admin.listen).toBe('127.0.0.1:18888');
    expect(config.admission).toEqual({
      maxInFlightBytes: 1_610_612_736,
      tenantHeader: 'x-tenant-id', // gRPC metadata keys are lowercase
      defaultTenant: 'acme',
      retryAfter: 2000,
      maxWait: 1500,
      waitQueueBytes: 512 * 2 ** 20,
      waitQueueRequests: 64,
      maxTraceIdsPerRequest: 100_000,
      maxServicesPerRequest: 10_000,
    });
    expect(config.spool).toEqual({ dir: '/fast/spool', maxBytes: 10e9, segmentBytes: 1_048_576, durability: 'none', handoverBytes: 0 });
    expect(config.archiver).toEqual({
      maxObjectBytes: 8 * 2 ** 20,
      maxObjectAge: 5_400_000,
      codec: 'brotli',
      level: 5,
      uploadConcurrency: 8,
      maxOpenObjects: 2,
      maxOpenTraceIds: 250_000,
      retryInitialBackoff: 250,
      retryMaxBackoff: 60_000,
      // Not set: 5 minutes past maxObjectAge, since objects stay open that long.
      maxLag: 5_700_000,
      keepClientBlocks: false,
    });
    expect(config.storage.filesystem.dir).toBe('/home/ops/relative/objects');
    expect(config.index.sqlite.path).toBe('/db/index.sqlite');
    expect(config.shutdown.gracePeriod).toBe(45_000);
    expect(config.log.level).toBe('debug');
  });

  test('a relative dataDir resolves against cwd, and the derived paths follow it', () => {
    const config = loadConfig({ env: {}, file: yamlFile('dataDir: ./capture-data\n'), cwd: '/opt/app' });
    expect(config.dataDir).toBe('/opt/app/capture-data');
    expect(config.spool.dir).toBe('/opt/app/capture-data/spool');
    expect(config.storage.filesystem.dir).toBe('/opt/app/capture-data/objects');
    expect(config.index.sqlite.path).toBe('/opt/app/capture-data/index.sqlite');
  });

  test('a key written without a value counts as unset (a section whose settings are all commented out)', () => {
    const config = loadConfig({ env: {}, file: yamlFile('log:\n  # level: debug\nspool:\n  maxBytes:\n  durability: none\n') });
    expect(config.log.level).toBe('info');
    expect(config.spool.maxBytes).toBe(4 * 2 ** 30);
    expect(config.spool.durability).toBe('none');
  });

  test('archiver.maxLag: as given, and it must be longer than maxObjectAge', () => {
    expect(loadConfig({ env: {}, file: yamlFile('archiver:\n  maxLag: 90s\n') }).archiver.maxLag).toBe(90_000);
    expect(() => loadConfig({ env: {}, file: yamlFile('archiver:\n  maxObjectAge: 2m\n  maxLag: 1m\n') })).toThrow(
      /archiver\.maxLag: must be longer than archiver\.maxObjectAge \(120000 ms\)/,
    );
  });

  test('a YAML number is bytes for a size; a duration needs its unit (a bare number used to mean milliseconds)', () => {
    const config = loadConfig({ env: {}, file: yamlFile('spool:\n  maxBytes: 1000000\narchiver:\n  maxObjectAge: 1500ms\n') });
    expect(config.spool.maxBytes).toBe(1_000_000);
    expect(config.archiver.maxObjectAge).toBe(1500);
    expect(() => loadConfig({ env: {}, file: yamlFile('archiver:\n  maxObjectAge: 60\n') })).toThrow(
      'archiver.maxObjectAge: expected a duration such as 60s, 5m or 1h30m, got 60 (a duration needs a unit: write 60s for seconds or 60ms for milliseconds',
    );
    expect(() => loadConfig({ env: {}, file: yamlFile('shutdown:\n  gracePeriod: "90"\n') })).toThrow(/got "90" \(a duration needs a unit: write 90s/);
  });
});

describe('precedence: defaults < YAML < environment < command line', () => {
  const file = (): string =>
    yamlFile('dataDir: /from/yaml\nserver:\n  grpc:\n    listen: 10.0.0.1:1111\n  admin:\n    listen: 10.0.0.1:2222\nlog:\n  level: warn\n');

  test('the file overrides defaults', () => {
    const config = loadConfig({ env: {}, file: file() });
    expect(config.dataDir).toBe('/from/yaml');
    expect(config.server.grpc.listen).toBe('10.0.0.1:1111');
    expect(config.log.level).toBe('warn');
    expect(config.spool.durability).toBe('fsync'); // untouched key keeps its default
  });

  test('each OTLP_CAPTURE_* variable overrides exactly its key in the file', () => {
    const env = {
      OTLP_CAPTURE_DATA_DIR: '/from/env',
      OTLP_CAPTURE_GRPC_LISTEN: '127.0.0.1:3333',
      OTLP_CAPTURE_ADMIN_LISTEN: '127.0.0.1:4444',
      OTLP_CAPTURE_LOG_LEVEL: 'error',
      OTLP_CAPTURE_SPOOL_DURABILITY: 'none',
      OTLP_CAPTURE_API_LISTEN: '0.0.0.0:5555',
    };
    // Every variable used here is one the loader knows (the adapters' own variables have their own tests).
    expect(Object.keys(ENV_OVERRIDES)).toEqual(expect.arrayContaining(Object.keys(env)));
    const config = loadConfig({ env, file: file() });
    expect(config.dataDir).toBe('/from/env');
    expect(config.spool.dir).toBe('/from/env/spool');
    expect(config.server.grpc.listen).toBe('127.0.0.1:3333');
    expect(config.server.admin.listen).toBe('127.0.0.1:4444');
    expect(config.server.api.listen).toBe('0.0.0.0:5555');
    expect(config.log.level).toBe('error');
    expect(config.spool.durability).toBe('none');
    expect(config.server.grpc.maxReceiveBytes).toBe(64 * 2 ** 20); // siblings of an overridden key survive
  });

  test('an empty variable counts as unset', () => {
    const config = loadConfig({ env: { OTLP_CAPTURE_DATA_DIR: '', OTLP_CAPTURE_LOG_LEVEL: '' }, file: file() });
    expect(config.dataDir).toBe('/from/yaml');
    expect(config.log.level).toBe('warn');
  });

  test('command-line overrides beat the environment; undefined flags change nothing', () => {
    const env = { OTLP_CAPTURE_DATA_DIR: '/from/env', OTLP_CAPTURE_GRPC_LISTEN: '127.0.0.1:3333' };
    const config = loadConfig({
      env,
      file: file(),
      overrides: { dataDir: '/from/flag', 'server.grpc.listen': undefined, 'archiver.maxObjectAge': '250ms' },
    });
    expect(config.dataDir).toBe('/from/flag');
    expect(config.server.grpc.listen).toBe('127.0.0.1:3333');
    expect(config.archiver.maxObjectAge).toBe(250);
  });

  test('overrides reach keys whose section the file does not have, or leaves empty', () => {
    const config = loadConfig({ env: {}, file: yamlFile('archiver:\nlog:\n'), overrides: { 'archiver.codec': 'none', 'spool.maxBytes': '1GiB' } });
    expect(config.archiver.codec).toBe('none');
    expect(config.spool.maxBytes).toBe(2 ** 30);
    expect(config.log.level).toBe('info');
  });

  test('process.env is read when no env is given', () => {
    const saved = process.env.OTLP_CAPTURE_LOG_LEVEL;
    process.env.OTLP_CAPTURE_LOG_LEVEL = 'trace';
    try {
      expect(loadConfig({ cwd: dir }).log.level).toBe('trace');
    } finally {
      if (saved === undefined) delete process.env.OTLP_CAPTURE_LOG_LEVEL;
      else process.env.OTLP_CAPTURE_LOG_LEVEL = saved;
    }
  });
});

describe('errors name the key and what is expected', () => {
  test('unknown keys, at the top level and nested', () => {
    const message = failure({ file: yamlFile('spoool:\n  maxBytes: 1GiB\narchiver:\n  maxObjectAgee: 5s\n') });
    expect(message).toContain('configuration (');
    expect(message).toContain('config.yaml');
    expect(message).toMatch(/\(top level\): unknown key\(s\) "spoool"/);
    expect(message).toMatch(/archiver: unknown key\(s\) "maxObjectAgee"/);
  });

  test.each([
    ['spool:\n  maxBytes: lots\n', /spool\.maxBytes: expected a size such as 64MiB or 1048576, got "lots"/],
    ['spool:\n  maxBytes: -1\n', /spool\.maxBytes: expected a size such as 64MiB or 1048576, got -1/],
    ['spool:\n  segmentBytes: 1.5\n', /spool\.segmentBytes: expected a size .*, got 1\.5/],
    ['server:\n  grpc:\n    maxReceiveBytes: true\n', /server\.grpc\.maxReceiveBytes: expected a size such as 64MiB or 1048576, got true/],
    ['admission:\n  maxInFlightBytes: [1, 2]\n', /admission\.maxInFlightBytes: expected a size .*, got \[1,2\]/],
    ['archiver:\n  maxObjectAge: soon\n', /archiver\.maxObjectAge: expected a duration such as 60s, 5m or 1h30m, got "soon"/],
    ['archiver:\n  maxObjectAge: "60"\n', /archiver\.maxObjectAge: expected a duration .*, got "60"/],
    ['shutdown:\n  gracePeriod: {a: 1}\n', /shutdown\.gracePeriod: expected a duration such as 60s, 5m or 1h30m, got \{"a":1\}/],
    ['server:\n  grpc:\n    listen: "4317"\n', /server\.grpc\.listen: expected HOST:PORT such as 0\.0\.0\.0:4317 or \[::1\]:4317/],
    ['server:\n  admin:\n    listen: "localhost:70000"\n', /server\.admin\.listen: expected HOST:PORT/],
    ['server:\n  grpc:\n    listen: "::1:4317"\n', /server\.grpc\.listen: expected HOST:PORT .*\[::1\]:4317/],
    ['admission:\n  defaultTenant: ../etc\n', /admission\.defaultTenant: expected 1-63 characters of A-Z a-z 0-9 \. _ -/],
    [`admission:\n  defaultTenant: ${'a'.repeat(64)}\n`, /admission\.defaultTenant: expected 1-63 characters/],
    ['spool:\n  durability: sometimes\n', /spool\.durability: .*expected one of "fsync"\|"none"/],
    ['archiver:\n  codec: lz4\n', /archiver\.codec: .*expected one of "none"\|"gzip"\|"brotli"/],
    ['archiver:\n  uploadConcurrency: 0\n', /archiver\.uploadConcurrency: .*>=1/],
    ['archiver:\n  codec: gzip\n  level: 12\n', /archiver\.level: gzip levels are 0 to 9, got 12/],
    ['archiver:\n  level: 23\n', /archiver\.level: .*<=22/],
    ['archiver:\n  level: 0\n', /archiver\.level: zstd levels are 1 to 22, got 0/],
    ['log:\n  level: loud\n', /log\.level: .*expected one of "fatal"\|"error"/],
    ['server: oops\n', /server: .*expected object, received string/],
    ['dataDir: ""\n', /dataDir: .*>=1 characters/],
  ])('%j', (text, pattern) => {
    expect(failure({ file: yamlFile(text) })).toMatch(pattern);
  });

  test('all problems are reported at once, one line each', () => {
    const message = failure({ file: yamlFile('spool:\n  maxBytes: lots\n  durability: maybe\nlog:\n  level: loud\n') });
    expect(message.split('\n').filter((line) => line.startsWith('  - '))).toHaveLength(3);
  });

  test('a bad value from an environment variable names the variable as well as the key', () => {
    const message = failure({ env: { OTLP_CAPTURE_GRPC_LISTEN: 'nowhere', OTLP_CAPTURE_SPOOL_DURABILITY: 'fast' } });
    expect(message).toMatch(/server\.grpc\.listen \(from OTLP_CAPTURE_GRPC_LISTEN\): expected HOST:PORT/);
    expect(message).toMatch(/spool\.durability \(from OTLP_CAPTURE_SPOOL_DURABILITY\): .*"fsync"\|"none"/);
  });

  test('a bad value from the command line says so', () => {
    const message = failure({ overrides: { 'server.admin.listen': 'localhost' } });
    expect(message).toMatch(/server\.admin\.listen \(from the command line\): expected HOST:PORT/);
  });

  test('an override under a key the file sets to a scalar is an error, not a silent replacement of the file', () => {
    const file = yamlFile('server: oops\n');
    const message = failure({ file, env: { OTLP_CAPTURE_GRPC_LISTEN: '127.0.0.1:4317' } });
    expect(message).toContain(file);
    expect(message).toMatch(/server: must be a mapping of settings, got "oops"/);
    expect(message).toContain('OTLP_CAPTURE_GRPC_LISTEN');
  });

  test('invalid YAML names the file and the line', () => {
    const file = yamlFile('archiver:\n  codec: [gzip\nlog: x\n');
    const message = failure({ file });
    expect(message).toContain(`config file ${file} is not valid YAML`);
    expect(message).toMatch(/line \d+/);
  });

  test('duplicate keys are invalid YAML, not a silent last-one-wins', () => {
    expect(failure({ file: yamlFile('log:\n  level: warn\nlog:\n  level: debug\n') })).toMatch(/not valid YAML: .*unique/);
  });

  test.each([
    ['a list', '- dataDir\n- /tmp\n'],
    ['a string', 'just some text\n'],
    ['a number', '42\n'],
  ])('a top level that is %s, not a mapping', (_, text) => {
    const file = yamlFile(text);
    expect(failure({ file })).toBe(`config file ${file} must hold a mapping of settings at the top level`);
  });

  test('a missing file, and a directory given as the file', () => {
    const missing = path.join(dir, 'nope.yaml');
    expect(failure({ file: missing })).toBe(`cannot read config file ${missing}: ENOENT`);
    expect(failure({ file: dir })).toBe(`cannot read config file ${dir}: EISDIR`);
  });

  test('a path through a regular file, and (when not root) a file without read permission', () => {
    const file = yamlFile('log:\n  level: warn\n');
    expect(failure({ file: path.join(file, 'inner.yaml') })).toBe(`cannot read config file ${file}/inner.yaml: ENOTDIR`);
    if (process.getuid?.() === 0) return; // root reads anything
    fs.chmodSync(file, 0o000);
    expect(failure({ file })).toBe(`cannot read config file ${file}: EACCES`);
  });
});
