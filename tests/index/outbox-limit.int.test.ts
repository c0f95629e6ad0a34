// A long ClickHouse outage fills the spool, not the disk: once the outbox uses index.clickhouse.outboxMaxBytes, commits
// are refused (archiving waits, requests stay in the spool, /readyz says why) and the outbox stops growing; when
// ClickHouse comes back, everything drains and every acknowledged request is indexed. A real serve (in process) and a
// real ClickHouse 18.16, down at first.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CaptureServer } from '../../src/app/capture-server.js';
import { loadConfig } from '../../src/config/load.js';
import { IndexOutbox } from '../../src/index/index-outbox.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { startClickHouse, type ClickHouseServer } from '../helpers/clickhouse-server.js';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { distinctTracesRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';

const LIMIT = 2 ** 20;
const REQUESTS = 16;
const SPANS = 1500;

let dir: string;
let clickhouse: ClickHouseServer;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outbox-limit-'));
  clickhouse = await startClickHouse();
  await clickhouse.stop();
});

afterAll(async () => {
  await clickhouse?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the outbox stops at outboxMaxBytes while ClickHouse is down; requests wait in the spool; all are indexed after', async () => {
  const outboxPath = path.join(dir, 'outbox.sqlite');
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: path.join(dir, 'data'),
      'server.grpc.listen': '127.0.0.1:0',
      'server.admin.listen': '127.0.0.1:0',
      'server.http.listen': '127.0.0.1:0',
      'spool.durability': 'none',
      'archiver.maxObjectAge': '50ms',
      'archiver.retryInitialBackoff': '50ms',
      'archiver.retryMaxBackoff': '200ms',
      'index.type': 'clickhouse',
      'index.clickhouse.url': clickhouse.url,
      'index.clickhouse.database': 'outbox_limit',
      'index.clickhouse.outboxPath': outboxPath,
      'index.clickhouse.outboxMaxBytes': '1MiB',
      'admission.maxTraceIdsPerRequest': SPANS,
      'log.level': 'silent',
    },
  });
  const server = new CaptureServer(config, silentLogger());
  const { grpc, admin } = await server.start();
  const client = new RawOtlpClient(`127.0.0.1:${grpc}`);
  try {
    for (let n = 0; n < REQUESTS; n++) expect(await client.export('traces', distinctTracesRequest(n, SPANS))).toEqual({ ok: true });
    const readyz = await waitFor('the outbox to be full', async () => {
      const body = await (await fetch(`http://127.0.0.1:${admin}/readyz`)).text();
      return /ClickHouse outbox .* its limit \(index\.clickhouse\.outboxMaxBytes 1(\.0)? ?MiB\)/.test(body) ? body : undefined;
    }, 20_000, 50);
    expect(readyz).toMatch(/^not ready: .*requests stay in the spool/);
    // Archiving waits: some acknowledged requests are still only in the spool, and the outbox stops growing (it passes
    // its limit by at most the object whose commit crossed it) while the archiver keeps retrying.
    const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    expect(Number(/^otlpcapture_spool_oldest_unarchived_age_seconds (\S+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    const reader = IndexOutbox.openForReading(outboxPath)!;
    try {
      const full = { used: reader.usedBytes(), requests: reader.stats().requests };
      expect(full.used).toBeGreaterThanOrEqual(LIMIT);
      expect(full.requests).toBeLessThan(REQUESTS);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect({ used: reader.usedBytes(), requests: reader.stats().requests }).toEqual(full);
    } finally {
      reader.close();
    }

    await clickhouse.start();
    await waitFor('every request indexed in ClickHouse', async () => {
      const [row] = await clickhouse.query<{ n: string }>('SELECT count() AS n FROM (SELECT DISTINCT id FROM outbox_limit.requests)').catch(() => [{ n: '0' }]);
      return Number(row!.n) === REQUESTS ? true : undefined;
    }, 60_000, 200);
    // ClickHouse shows the rows a moment before the flusher removes them from the outbox: ready once it has.
    await waitFor('ready again', async () => ((await (await fetch(`http://127.0.0.1:${admin}/readyz`)).text()) === 'ready\n' ? true : undefined), 20_000, 100);
  } finally {
    client.close();
    await server.stop(5000);
  }
}, 120_000);
