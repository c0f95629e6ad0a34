// What `--server` readers merge with the index they query themselves (CaptureService with hot_only) includes the rows
// this server committed to ClickHouse's outbox but not yet to ClickHouse: the archiver releases a spool record once its
// rows are committed (in the outbox), so without them a request acknowledged seconds ago would be in neither the
// spool's answer nor ClickHouse's while ClickHouse is slow or down. Real ClickHouse 18.16, stopped and started again.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CaptureServer } from '../../src/app/capture-server.js';
import { loadConfig } from '../../src/config/load.js';
import { SpoolHotTier } from '../../src/query/spool-hot-tier.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { startClickHouse, type ClickHouseServer } from '../helpers/clickhouse-server.js';
import { unary } from '../helpers/grpc-calls.js';
import { LOOPBACK_LISTENERS } from '../helpers/loopback-listeners.js';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';

const insecure = grpc.credentials.createInsecure();
const CAPTURE = 'otlpcapture.v1.CaptureService';

let dir: string;
let clickhouse: ClickHouseServer;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pending-index-rows-'));
  clickhouse = await startClickHouse();
  await clickhouse.stop();
}, 60_000);

afterAll(async () => {
  await clickhouse?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Listed {
  requests: { id: string; tier: string; object_key: string }[];
}

test('released from the spool, waiting in the outbox: hot_only still answers list, get and find-trace; after the flush, ClickHouse does', async () => {
  const dataDir = path.join(dir, 'data');
  const server = new CaptureServer(
    loadConfig({
      env: {},
      overrides: {
        dataDir,
        ...LOOPBACK_LISTENERS,
        'index.type': 'clickhouse',
        'index.clickhouse.url': clickhouse.url,
        'index.clickhouse.database': 'pending_rows',
        'spool.durability': 'none',
        'archiver.maxObjectAge': '100ms',
        'log.level': 'silent',
      },
    }),
    silentLogger(),
  );
  const ports = await server.start();
  const api = `127.0.0.1:${ports.api}`;
  const call = <T>(method: string, request: object) => unary<T>(api, insecure, CAPTURE, method, request);
  try {
    const sent = [0, 1, 2].map((n) => uniqueTraceRequest(n, 300));
    const client = new RawOtlpClient(`127.0.0.1:${ports.grpc}`);
    for (const payload of sent) expect(await client.export('traces', payload)).toEqual({ ok: true });
    client.close();

    // Archived, indexed into the outbox (ClickHouse is down), and released from the spool.
    const spool = new SpoolHotTier(path.join(dataDir, 'spool'));
    try {
      await waitFor('every request released from the spool', async () => ((await spool.list({})).length === 0 ? true : undefined), 20_000);
    } finally {
      await spool.close();
    }

    const { error, response } = await call<Listed>('ListRequests', { hot_only: true });
    expect(error).toBeNull();
    expect(response.requests).toHaveLength(sent.length);
    expect(response.requests.every((r) => r.tier === 'TIER_HOT' && r.object_key !== '')).toBe(true);
    const payloads = await Promise.all(
      response.requests.map(async (r) => {
        const got = await call<{ payload: Buffer }>('GetRequest', { id: r.id, hot_only: true });
        expect(got.error).toBeNull();
        return Buffer.from(got.response.payload).toString('hex');
      }),
    );
    expect(payloads.sort()).toEqual(sent.map((p) => p.toString('hex')).sort());
    const traceId = '00c0ffee' + '0'.repeat(16) + '00000002';
    const trace = await call<{ requests: { id: string }[] }>('FindTrace', { trace_id: traceId, hot_only: true });
    expect(trace.error).toBeNull();
    expect(trace.response.requests).toHaveLength(1);

    // ClickHouse back: the outbox drains, hot_only has nothing left to add, and the index answers for all of them.
    await clickhouse.start();
    await waitFor('the outbox to drain', async () => {
      const [row] = await clickhouse.query<{ n: string }>('SELECT count() AS n FROM pending_rows.requests').catch(() => [{ n: '0' }]);
      return Number(row!.n) === sent.length ? true : undefined;
    }, 30_000, 100);
    await waitFor('hot_only empty', async () => ((await call<Listed>('ListRequests', { hot_only: true })).response?.requests.length === 0 ? true : undefined));
    expect((await call<Listed>('ListRequests', {})).response.requests.map((r) => r.tier)).toEqual(sent.map(() => 'TIER_ARCHIVE'));
  } finally {
    await server.stop(5000);
  }
}, 90_000);
