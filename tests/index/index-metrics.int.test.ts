// The index backlog as metrics, wired in a real serve (in process) with the ClickHouse index: ClickHouse 18.16 down
// at start, so rows wait in the outbox — readiness says why, the outbox gauges and flush failures rise — then
// ClickHouse comes up and everything drains back to 0 and ready. With SQLite (write-through) the gauges stay at 0.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CaptureServer } from '../../src/app/capture-server.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { startClickHouse, type ClickHouseServer } from '../helpers/clickhouse-server.js';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';

let dir: string;
let clickhouse: ClickHouseServer;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'index-metrics-'));
  clickhouse = await startClickHouse();
  await clickhouse.stop();
});

afterAll(async () => {
  await clickhouse?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

function serverFor(overrides: Record<string, unknown>): CaptureServer {
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: path.join(dir, String(overrides['index.type'])),
      'server.grpc.listen': '127.0.0.1:0',
      'server.admin.listen': '127.0.0.1:0',
      'server.http.listen': '127.0.0.1:0',
      'spool.durability': 'none',
      'archiver.maxObjectAge': '100ms',
      'archiver.retryInitialBackoff': '50ms',
      'archiver.retryMaxBackoff': '300ms',
      'log.level': 'silent',
      ...overrides,
    },
  });
  return new CaptureServer(config, silentLogger());
}

async function scrape(adminPort: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(otlpcapture_(?:index_\w+|ready|not_ready_reason\{reason="index"\}|objects_archived_total\{signal="traces"\})) (\S+)$/gm)) {
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

async function send(grpcPort: number, count: number): Promise<void> {
  const client = new RawOtlpClient(`127.0.0.1:${grpcPort}`);
  for (let n = 0; n < count; n++) expect(await client.export('traces', uniqueTraceRequest(n, 200))).toEqual({ ok: true });
  client.close();
}

test('ClickHouse down: not ready for the index, rows wait in the outbox and failures count; up again: all drains', async () => {
  const server = serverFor({ 'index.type': 'clickhouse', 'index.clickhouse.url': clickhouse.url, 'index.clickhouse.database': 'metrics_test' });
  const { grpc, admin } = await server.start();
  try {
    const down = await waitFor('flush failures while ClickHouse is down', async () => {
      const m = await scrape(admin);
      return m.otlpcapture_index_flush_failures_total! >= 1 ? m : undefined;
    });
    expect(down).toMatchObject({ otlpcapture_ready: 0, 'otlpcapture_not_ready_reason{reason="index"}': 1, otlpcapture_index_backend_up: 0 });

    await send(grpc, 6);
    const queued = await waitFor('objects archived into the outbox', async () => {
      const m = await scrape(admin);
      return m['otlpcapture_objects_archived_total{signal="traces"}']! >= 1 && m.otlpcapture_index_outbox_lag_seconds! >= 0.2 ? m : undefined;
    });
    expect(queued.otlpcapture_index_outbox_objects).toBe(queued['otlpcapture_objects_archived_total{signal="traces"}']);
    expect(queued.otlpcapture_index_outbox_requests).toBeGreaterThanOrEqual(1);
    expect(queued.otlpcapture_index_backend_up).toBe(0);
    const failuresBefore = queued.otlpcapture_index_flush_failures_total!;
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect((await scrape(admin)).otlpcapture_index_flush_failures_total).toBeGreaterThan(failuresBefore);

    await clickhouse.start();
    const drained = await waitFor('the outbox to drain into ClickHouse', async () => {
      const m = await scrape(admin);
      return m.otlpcapture_index_outbox_requests === 0 && m.otlpcapture_ready === 1 ? m : undefined;
    }, 30_000, 100);
    expect(drained).toMatchObject({
      otlpcapture_index_outbox_objects: 0,
      otlpcapture_index_outbox_lag_seconds: 0,
      otlpcapture_index_backend_up: 1,
      'otlpcapture_not_ready_reason{reason="index"}': 0,
    });
    const [row] = await clickhouse.query<{ n: string }>('SELECT count() AS n FROM metrics_test.requests');
    expect(Number(row!.n)).toBeGreaterThanOrEqual(6);
  } finally {
    await server.stop(5000);
  }
}, 60_000);

test('SQLite writes through: no backlog, backend up, while objects are archived', async () => {
  const server = serverFor({ 'index.type': 'sqlite' });
  const { grpc, admin } = await server.start();
  try {
    await send(grpc, 3);
    const m = await waitFor('an object archived', async () => {
      const now = await scrape(admin);
      return now['otlpcapture_objects_archived_total{signal="traces"}']! >= 1 ? now : undefined;
    });
    expect(m).toMatchObject({
      otlpcapture_index_outbox_objects: 0,
      otlpcapture_index_outbox_requests: 0,
      otlpcapture_index_outbox_lag_seconds: 0,
      otlpcapture_index_backend_up: 1,
      otlpcapture_index_flush_failures_total: 0,
      otlpcapture_ready: 1,
    });
  } finally {
    await server.stop(5000);
  }
});
