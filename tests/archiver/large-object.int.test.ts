// One archive object of 200,000 requests (small requests and large objects get there): the archiver seals, uploads
// and indexes it, and its numbers (lag metric, time range) come out right. Math.min(...refs) threw here before.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Archiver } from '../../src/archiver/archiver.js';
import { readObjectManifest, readRequestBytes } from '../../src/archiver/object-reader.js';
import { SqliteIndexStore } from '../../src/index/sqlite-index-store.js';
import type { RequestMeta } from '../../src/model.js';
import { Spool } from '../../src/spool/spool.js';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { createUlidGenerator } from '../../src/util/ulid.js';

const REQUESTS = 200_000;

test('an object of 200,000 requests is archived and indexed whole', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'archiver-large-'));
  const store = new FsBlobStore(path.join(dir, 'objects'));
  const index = new SqliteIndexStore(path.join(dir, 'index.sqlite'));
  const metrics = new Metrics({ processMetrics: false });
  await store.start();
  await index.start();
  const spool = await Spool.open({ dir: path.join(dir, 'spool'), maxBytes: 2 ** 31, fsync: 'never', logger: silentLogger() });
  try {
    const nextId = createUlidGenerator();
    const firstReceivedAtMs = Date.now() - 10_000;
    const metas: RequestMeta[] = [];
    for (let start = 0; start < REQUESTS; start += 5000) {
      const batch: Promise<unknown>[] = [];
      for (let i = start; i < start + 5000; i += 1) {
        const bytes = Buffer.from(`request ${i}`);
        const meta: RequestMeta = {
          id: nextId(firstReceivedAtMs + i),
          tenant: 'acme',
          signal: 'logs',
          receivedAtMs: firstReceivedAtMs + Math.floor(((i * 7919) % REQUESTS) / 100), // the oldest is not the first
          items: 1,
          services: ['svc'],
          startNs: BigInt(i) * 1000n,
          endNs: BigInt(i) * 1000n + 1n,
          rawBytes: bytes.length,
        };
        metas.push(meta);
        batch.push(spool.append(meta, bytes));
      }
      await Promise.all(batch);
    }
    const archiver = new Archiver(
      {
        maxObjectBytes: 2 ** 30,
        maxObjectAgeMs: 60 * 60_000,
        codec: 'none',
        uploadConcurrency: 1,
        maxOpenObjects: 4,
        retryInitialBackoffMs: 20,
        retryMaxBackoffMs: 200,
      },
      { spool, blobStore: store, index, metrics, logger: silentLogger() },
    );
    archiver.start();
    spool.endTail();
    expect(await archiver.drain(Date.now() + 240_000)).toBe(true);

    const objects = await index.listObjects({});
    expect(objects).toHaveLength(1);
    expect(objects[0]).toMatchObject({ requestCount: REQUESTS, startNs: 0n, endNs: BigInt(REQUESTS - 1) * 1000n + 1n });
    expect(spool.stats().unreleasedRecords).toBe(0);
    const manifest = await readObjectManifest(store, objects[0]!.key);
    expect(manifest.requests).toHaveLength(REQUESTS);
    const last = (await index.getRequest(metas[REQUESTS - 1]!.id))!;
    expect((await readRequestBytes(store, last)).toString()).toBe(`request ${REQUESTS - 1}`);
    // The lag is measured from the oldest request in the object.
    const lag = (await metrics.archiveLag.get()).values.find((v) => v.metricName === 'otlpcapture_archive_lag_seconds_sum');
    expect(lag?.value).toBeGreaterThanOrEqual(10);
  } finally {
    await spool.close();
    await index.close();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 300_000);
