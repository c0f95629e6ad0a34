// An archive object's manifest is one JSON string: past V8's string limit it cannot be written at all, and the
// object (every request in it acknowledged) would be retried forever. Tiny requests add up to a long manifest in few
// bytes, so maxObjectBytes does not bound it: the archiver seals an object before its manifest could pass
// MAX_MANIFEST_CHARS (set small here), and the bound it counts with is never below the JSON actually written.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Archiver } from '../../src/archiver/archiver.js';
import { readObjectManifest, readRequestBytes } from '../../src/archiver/object-reader.js';
import { TRAILER_SIZE, encodeManifestAndTrailer, manifestBaseBound, manifestEntryBound } from '../../src/archiver/object-format.js';
import { SqliteIndexStore } from '../../src/index/sqlite-index-store.js';
import type { ArchivedRequest, ObjectMeta } from '../../src/model.js';
import { Spool } from '../../src/spool/spool.js';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { waitFor } from '../helpers/wait.js';
import { payload, requestMeta } from './fixtures.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-manifest-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the bound counted per request is never below the manifest JSON written (escapes, widest numbers, trace ids)', async () => {
  const key = 'acme/traces/2026/12/06/23/01JEXAMPLEEXAMPLEEXAMPLE00.otlpc';
  const requests: ArchivedRequest[] = [
    { quote: '"\\', control: '\u0001\u001f', wide: 'サービス' },
  ].flatMap(({ quote, control, wide }) => {
    const raw = payload(10);
    const meta = requestMeta(raw, {
      services: [quote.repeat(50), control.repeat(50), wide.repeat(50), ''],
      receivedAtMs: Number.MAX_SAFE_INTEGER,
      items: Number.MAX_SAFE_INTEGER,
      startNs: -(2n ** 63n),
      endNs: 2n ** 64n - 1n,
      fingerprint: 'f'.repeat(32),
    });
    return [{
      ...meta,
      objectKey: key,
      offset: Number.MAX_SAFE_INTEGER,
      length: 0xffffffff,
      codec: 'brotli' as const,
      crc32: 0xffffffff,
      traceIds: ['0123456789abcdef0123456789abcdef', 'f'.repeat(32)],
    }];
  });
  const object: ObjectMeta = {
    key,
    tenant: 'acme',
    signal: 'traces',
    createdAtMs: Number.MAX_SAFE_INTEGER,
    sealedAtMs: Number.MAX_SAFE_INTEGER,
    requestCount: 1,
    rawBytes: Number.MAX_SAFE_INTEGER,
    storedBytes: 0,
    codec: 'brotli',
    startNs: -(2n ** 63n),
    endNs: 2n ** 64n - 1n,
  };
  const closing = await encodeManifestAndTrailer(object, requests, Number.MAX_SAFE_INTEGER);
  const json = zlib.gunzipSync(closing.subarray(0, closing.length - TRAILER_SIZE)).toString('utf8');
  const bound = manifestBaseBound(key, 'acme') + requests.reduce((sum, r) => sum + manifestEntryBound(r, r.traceIds!.length), 0);
  expect(json.length).toBeLessThanOrEqual(bound);
});

test('tiny requests: objects are sealed before their manifest passes its bound, and every request is archived', async () => {
  const MAX_MANIFEST = 8 * 1024;
  const REQUESTS = 120;
  const store = new FsBlobStore(path.join(dir, 'objects'));
  const index = new SqliteIndexStore(path.join(dir, 'index.sqlite'));
  await store.start();
  await index.start();
  const spool = await Spool.open({ dir: path.join(dir, 'spool'), segmentBytes: 64 * 1024, maxBytes: 2 ** 26, fsync: 'never' });
  const archiver = new Archiver(
    {
      // Far above what these requests add up to: only the manifest bound can seal an object.
      maxObjectBytes: 64 * 2 ** 20,
      maxObjectAgeMs: 60 * 60_000,
      codec: 'gzip',
      uploadConcurrency: 2,
      maxOpenObjects: 4,
      retryInitialBackoffMs: 20,
      retryMaxBackoffMs: 200,
      maxManifestChars: MAX_MANIFEST,
    },
    { spool, blobStore: store, index, metrics: new Metrics({ processMetrics: false }), logger: silentLogger() },
  );
  archiver.start();
  const sent = new Map<string, Buffer>();
  for (let i = 0; i < REQUESTS; i++) {
    const bytes = payload(4);
    const meta = requestMeta(bytes, { signal: 'logs', services: [`svc-${i}`] });
    await spool.append(meta, bytes);
    sent.set(meta.id, bytes);
  }
  spool.endTail();
  expect(await archiver.drain(Date.now() + 20_000)).toBe(true);
  const rows = await waitFor('every request indexed', async () => {
    const listed = await index.listRequests({ limit: 10_000 });
    return listed.length >= REQUESTS ? listed : undefined;
  });
  expect(rows.map((r) => r.id).sort()).toEqual([...sent.keys()].sort());
  const keys = [...new Set(rows.map((r) => r.objectKey))];
  expect(keys.length).toBeGreaterThan(1);
  for (const key of keys) {
    const size = (await store.stat(key))!.size;
    const trailer = await store.readRange(key, size - TRAILER_SIZE, TRAILER_SIZE);
    // The manifest's raw length (ASCII here: bytes are characters) stays within the bound.
    expect(trailer.readUInt32BE(12)).toBeLessThanOrEqual(MAX_MANIFEST);
    expect((await readObjectManifest(store, key)).requests.length).toBeGreaterThan(0);
  }
  for (const row of rows) expect(await readRequestBytes(store, row)).toEqual(sent.get(row.id));
  await spool.close();
  await index.close();
  await store.close();
}, 30_000);
