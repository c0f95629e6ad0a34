// CaptureServer in-process: the whole data path wired from config, its admin endpoints, a failed start that
// releases what it took, and a stop whose grace period runs out leaving data for the next start.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CaptureServer } from '../../src/app/capture-server.js';
import { loadConfig, type ResolvedConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { SqliteIndexStore } from '../../src/index/sqlite-index-store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { LOOPBACK_LISTENERS } from '../helpers/loopback-listeners.js';

let dir: string;
const running: CaptureServer[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capture-server-'));
});

afterEach(async () => {
  for (const server of running.splice(0)) await server.stop(0);
  fs.rmSync(dir, { recursive: true, force: true });
});

function config(overrides: Record<string, unknown> = {}): ResolvedConfig {
  return loadConfig({
    env: {},
    overrides: {
      dataDir: path.join(dir, 'data'),
      ...LOOPBACK_LISTENERS,
      'spool.durability': 'none',
      'log.level': 'silent',
      ...overrides,
    },
  });
}

async function start(cfg: ResolvedConfig): Promise<{ server: CaptureServer; grpc: number; admin: number }> {
  const server = new CaptureServer(cfg, silentLogger());
  const ports = await server.start();
  running.push(server);
  return { server, ...ports };
}

async function stop(server: CaptureServer, graceMs: number): Promise<{ drained: boolean }> {
  running.splice(running.indexOf(server), 1);
  return server.stop(graceMs);
}

async function indexedIds(cfg: ResolvedConfig): Promise<string[]> {
  const index = new SqliteIndexStore(cfg.index.sqlite.path, { readonly: true });
  await index.start();
  try {
    return (await index.listRequests({ limit: 100_000 })).map((r) => r.id);
  } finally {
    await index.close();
  }
}

async function send(grpcPort: number, count: number): Promise<void> {
  const client = new RawOtlpClient(`127.0.0.1:${grpcPort}`);
  for (let n = 0; n < count; n++) expect(await client.export('traces', uniqueTraceRequest(n, 500))).toEqual({ ok: true });
  client.close();
}

test('starts on ephemeral ports, is healthy and ready, and a stop drains everything into the index', async () => {
  const cfg = config({ 'archiver.maxObjectAge': '1h' });
  const { server, grpc, admin } = await start(cfg);
  expect(grpc).toBeGreaterThan(0);
  expect(admin).toBeGreaterThan(0);
  expect(await (await fetch(`http://127.0.0.1:${admin}/healthz`)).text()).toBe('ok\n');
  const ready = await fetch(`http://127.0.0.1:${admin}/readyz`);
  expect([ready.status, await ready.text()]).toEqual([200, 'ready\n']);

  await send(grpc, 5);
  const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  expect(metrics).toMatch(/otlpcapture_requests_received_total\{signal="traces",tenant="default"\} 5/);

  expect(await stop(server, 10_000)).toEqual({ drained: true });
  expect(await indexedIds(cfg)).toHaveLength(5);
  await expect(fetch(`http://127.0.0.1:${admin}/healthz`)).rejects.toThrow(); // admin port closed
  const leftInSpool = fs.readdirSync(cfg.spool.dir).filter((name) => name.endsWith('.spool'));
  expect(leftInSpool).toEqual([]);
});

test('a start that fails (gRPC port taken) says which address, and releases the data dir for the next start', async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    const failing = new CaptureServer(config({ 'server.grpc.listen': `127.0.0.1:${port}` }), silentLogger());
    const error = await failing.start().then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(`cannot listen for OTLP/gRPC on 127.0.0.1:${port}`);
  } finally {
    blocker.close();
  }
  // The spool's directory lock and the index were released: the same data dir starts at once.
  const { server, grpc } = await start(config());
  await send(grpc, 1);
  expect(await stop(server, 10_000)).toEqual({ drained: true });
});

test('a stop without grace time leaves unarchived requests in the spool; the next start archives them once', async () => {
  const cfg = config({ 'archiver.maxObjectAge': '1h' });
  const first = await start(cfg);
  await send(first.grpc, 4);
  expect(await stop(first.server, 0)).toEqual({ drained: false });
  expect(await indexedIds(cfg)).toEqual([]);

  const second = await start(cfg);
  expect(await stop(second.server, 10_000)).toEqual({ drained: true });
  const ids = await indexedIds(cfg);
  expect(ids).toHaveLength(4);
  expect(new Set(ids).size).toBe(4);
});
