// ClickHouse outage under load: `serve` with CLICKHOUSE_URL (filesystem blob store) while a grpc-js client sends;
// ClickHouse is stopped for 30 s. Exports keep being acknowledged, archive objects keep appearing, and after
// ClickHouse returns the index catches up: every acknowledged request is indexed exactly once, byte-identical.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readRequestBytes } from '../../src/archiver/object-reader.js';
import { ClickHouseIndexStore } from '../../src/index/clickhouse-index-store.js';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';
import { startClickHouse, type ClickHouseServer } from '../helpers/clickhouse-server.js';
import { RawOtlpClient, type ExportOutcome } from '../helpers/raw-otlp-client.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';

const OUTAGE_MS = 30_000;
const DATABASE = 'outage_e2e';
const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let root: string;
let clickhouse: ClickHouseServer;
let server: ServerProcess | undefined;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-ch-outage-'));
  clickhouse = await startClickHouse();
}, 60_000);

afterAll(async () => {
  await server?.stop('SIGKILL');
  await clickhouse?.dispose();
  fs.rmSync(root, { recursive: true, force: true });
});

function objectsOnDisk(dataDir: string): number {
  const dir = path.join(dataDir, 'objects');
  if (!fs.existsSync(dir)) return 0;
  return fs.readdirSync(dir, { recursive: true }).filter((name) => String(name).endsWith('.otlpc')).length;
}

async function indexedCount(reader: ClickHouseIndexStore): Promise<number> {
  return (await reader.listRequests({ limit: 1_000_000 })).length;
}

test('a 30 s ClickHouse outage: ingest and archiving go on, the index catches up with no gap and no duplicate', async () => {
  const dataDir = path.join(root, 'data');
  const config = path.join(root, 'config.yaml');
  fs.writeFileSync(config, 'archiver:\n  maxObjectAge: 250ms\n');
  server = await startServer(['--config', config, '--data-dir', dataDir], {
    env: { CLICKHOUSE_URL: clickhouse.url, CLICKHOUSE_DATABASE: DATABASE, OTLP_CAPTURE_LOG_LEVEL: 'info' },
  });
  // A reader on ClickHouse alone (no outbox): what it lists is what ClickHouse holds.
  const reader = new ClickHouseIndexStore({ url: clickhouse.url, database: DATABASE, readonly: true });

  const client = new RawOtlpClient(server.grpcAddress, { compression: 'gzip' });
  const acked = new Map<string, Buffer>();
  const sent = new Map<string, Buffer>();
  const failures: ExportOutcome[] = [];
  let ackedDuringOutage = 0;
  let outage = false;
  let sending = true;
  let n = 0;
  const sender = async (): Promise<void> => {
    while (sending) {
      const payload = uniqueTraceRequest(n++, 300 + (n % 5) * 100);
      sent.set(sha(payload), payload);
      const outcome = await client.export('traces', payload, {}, 10_000);
      if (outcome.ok) {
        acked.set(sha(payload), payload);
        if (outage) ackedDuringOutage += 1;
      } else failures.push(outcome);
      await sleep(25);
    }
  };
  const senders = Array.from({ length: 3 }, () => sender());

  try {
    await sleep(3000);
    await reader.start();
    await waitFor('rows in ClickHouse before the outage', async () => ((await indexedCount(reader)) > 0 ? true : undefined), 10_000, 100);
    await reader.close();

    const objectsBefore = objectsOnDisk(dataDir);
    const outageStarted = Date.now();
    await clickhouse.stop();
    outage = true;
    // Halfway and at the end of the outage: objects keep appearing in the blob store, exports keep being acked.
    await sleep(OUTAGE_MS / 2);
    const objectsHalfway = objectsOnDisk(dataDir);
    const ackedHalfway = ackedDuringOutage;
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - outageStarted)));
    const objectsAtEnd = objectsOnDisk(dataDir);
    expect(objectsHalfway).toBeGreaterThan(objectsBefore);
    expect(objectsAtEnd).toBeGreaterThan(objectsHalfway);
    expect(ackedHalfway).toBeGreaterThan(50);
    expect(ackedDuringOutage).toBeGreaterThan(ackedHalfway);
    // The index was reachable at start-up, so the outage does not take the instance out of service.
    const ready = await fetch(`http://127.0.0.1:${server.adminPort}/readyz`);
    expect(ready.status).toBe(200);

    await clickhouse.start();
    outage = false;
    await sleep(3000);
  } finally {
    sending = false;
    await Promise.all(senders);
    client.close();
  }
  expect(failures).toEqual([]);
  expect(acked.size).toBeGreaterThan(500);

  await reader.start();
  const caughtUpAfter = Date.now();
  await waitFor(
    'the index to catch up with every acknowledged request',
    async () => ((await indexedCount(reader)) >= acked.size ? true : undefined),
    60_000,
    250,
  );
  const catchUpMs = Date.now() - caughtUpAfter;
  const rows = await reader.listRequests({ limit: 1_000_000 });
  await reader.close();

  // None duplicated, none missing: the ids are unique, and their bytes are exactly the acknowledged requests.
  expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
  const blobs = new FsBlobStore(path.join(dataDir, 'objects'));
  await blobs.start();
  const stored = new Set<string>();
  for (const request of rows) {
    const bytes = await readRequestBytes(blobs, request);
    expect(sent.has(sha(bytes))).toBe(true);
    stored.add(sha(bytes));
  }
  await blobs.close();
  for (const key of acked.keys()) expect(stored.has(key)).toBe(true);
  expect(stored.size).toBe(rows.length);

  // Underneath FINAL: how many rows ClickHouse physically holds (an insert interrupted by the stop may be repeated).
  const [raw] = await clickhouse.query<{ rows: string; ids: string }>(
    `SELECT toString(count()) AS rows, toString(uniqExact(id)) AS ids FROM ${DATABASE}.requests`,
  );
  expect(Number(raw!.ids)).toBe(rows.length);
  process.stdout.write(
    `clickhouse outage: ${acked.size} acked (${ackedDuringOutage} during the ${OUTAGE_MS / 1000} s outage), ` +
      `${rows.length} indexed, raw rows ${raw!.rows}, caught up ${catchUpMs} ms after sending stopped\n`,
  );

  expect(await server.stop()).toBe(0);
  server = undefined;
}, 180_000);

test('ClickHouse down at start-up: serve starts, says why /readyz is 503, acknowledges, and catches up once it is up', async () => {
  await clickhouse.stop();
  const dataDir = path.join(root, 'data-down-at-start');
  const config = path.join(root, 'config-down.yaml');
  fs.writeFileSync(config, 'archiver:\n  maxObjectAge: 200ms\n');
  server = await startServer(['--config', config, '--data-dir', dataDir], {
    env: { CLICKHOUSE_URL: clickhouse.url, CLICKHOUSE_DATABASE: 'down_at_start' },
  });
  const errors = server
    .output()
    .split('\n')
    .filter((line) => line.includes('"level":"error"'));
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(/ClickHouse at http:\/\/127\.0\.0\.1:\d+ is unreachable/);
  const notReady = await fetch(`http://127.0.0.1:${server.adminPort}/readyz`);
  expect(notReady.status).toBe(503);
  expect(await notReady.text()).toMatch(/unreachable/);

  const client = new RawOtlpClient(server.grpcAddress);
  for (let i = 0; i < 20; i++) expect(await client.export('traces', uniqueTraceRequest(100_000 + i))).toEqual({ ok: true });
  client.close();
  await waitFor('archive objects while ClickHouse is down', async () => (objectsOnDisk(dataDir) > 0 ? true : undefined), 10_000, 100);

  await clickhouse.start();
  await waitFor('/readyz to turn ready', async () => {
    const response = await fetch(`http://127.0.0.1:${server!.adminPort}/readyz`);
    return response.status === 200 ? true : undefined;
  }, 30_000, 100);
  const reader = new ClickHouseIndexStore({ url: clickhouse.url, database: 'down_at_start', readonly: true });
  await waitFor('the 20 requests in ClickHouse', async () => {
    await reader.start();
    return (await indexedCount(reader)) === 20 ? true : undefined;
  }, 30_000, 200);
  await reader.close();
  expect(await server.stop()).toBe(0);
  server = undefined;
}, 120_000);

test('credentials ClickHouse refuses: serve says so in one line without the password, and is not ready', async () => {
  const password = 'not-in-logs-please';
  server = await startServer(['--data-dir', path.join(root, 'data-bad-password')], {
    env: { CLICKHOUSE_URL: clickhouse.url, CLICKHOUSE_USER: 'default', CLICKHOUSE_PASSWORD: password },
  });
  const errors = server
    .output()
    .split('\n')
    .filter((line) => line.includes('"level":"error"'));
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(/refused user \\"default\\": .*[Pp]assword/);
  const response = await fetch(`http://127.0.0.1:${server.adminPort}/readyz`);
  expect(response.status).toBe(503);
  expect(await response.text()).toMatch(/refused user "default"/);
  expect(await server.stop()).toBe(0);
  expect(server.output()).not.toContain(password);
  server = undefined;
}, 60_000);
