// The alternative to the trace-id table, measured on the same archive: one Bloom filter per request (1 % false
// positives), stored in SQLite beside the request rows. A lookup must read and test every request's filter (or those
// of a time range) and then range-read every candidate, false positives included.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import PQueue from 'p-queue';
import { readRequestBytes } from '../src/archiver/object-reader.js';
import { SqliteIndexStore } from '../src/index/sqlite-index-store.js';
import { filterTraceSpans } from '../src/otlp/trace-filter.js';
import { DEFAULT_READ_CONCURRENCY } from '../src/query/find-trace.js';
import { FsBlobStore } from '../src/storage/fs-blob-store.js';
import { stats, type Stats } from './readback-archive.js';

const FALSE_POSITIVE_RATE = 0.01;
const HASHES = 7;

export interface BloomResult {
  requests: number;
  bytesTotal: number;
  bytesPerTraceRow: number;
  /** Reading every filter from SQLite and testing it, per lookup. */
  lookupMs: Stats;
  /** The whole find: filters, then every candidate range-read and filtered as find-trace does (16 at a time). */
  findMs: Stats;
  /** Requests that test positive without holding the trace, per lookup: each is one wasted range read. */
  falsePositivesPerLookup: number;
}

function fnv1a(bytes: Buffer, seed: number): number {
  let hash = (0x811c9dc5 ^ seed) >>> 0;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash;
}

function positions(id: Buffer, bits: number): number[] {
  const h1 = fnv1a(id, 0);
  const h2 = fnv1a(id, 0x9e3779b9) | 1;
  return Array.from({ length: HASHES }, (_, i) => (h1 + Math.imul(i, h2)) >>> 0).map((h) => h % bits);
}

export async function measureBloom(dataDir: string, sample: readonly string[]): Promise<BloomResult> {
  const index = new Database(path.join(dataDir, 'index.sqlite'), { readonly: true });
  const perRequest = new Map<string, Buffer[]>();
  for (const row of index.prepare('SELECT request_id, trace_id FROM trace_requests').iterate() as Iterable<{ request_id: string; trace_id: Buffer }>) {
    const list = perRequest.get(row.request_id);
    if (list) list.push(row.trace_id);
    else perRequest.set(row.request_id, [row.trace_id]);
  }
  const truth = index.prepare('SELECT request_id FROM trace_requests WHERE trace_id = ?').pluck();
  const blooms = new Database(path.join(dataDir, 'blooms.sqlite'));
  blooms.exec('DROP TABLE IF EXISTS blooms; CREATE TABLE blooms (request_id TEXT PRIMARY KEY, bits INTEGER NOT NULL, filter BLOB NOT NULL) WITHOUT ROWID');
  const insert = blooms.prepare('INSERT INTO blooms (request_id, bits, filter) VALUES (?, ?, ?)');
  let bytesTotal = 0;
  let rows = 0;
  blooms.transaction(() => {
    for (const [requestId, ids] of perRequest) {
      const bits = Math.max(64, Math.ceil((-ids.length * Math.log(FALSE_POSITIVE_RATE)) / Math.LN2 ** 2));
      const filter = Buffer.alloc(Math.ceil(bits / 8));
      for (const id of ids) for (const p of positions(id, bits)) filter[p >>> 3]! |= 1 << (p & 7);
      insert.run(requestId, bits, filter);
      bytesTotal += filter.length;
      rows += ids.length;
    }
  })();
  const scan = blooms.prepare('SELECT request_id, bits, filter FROM blooms');
  const requests = new SqliteIndexStore(path.join(dataDir, 'index.sqlite'), { readonly: true });
  await requests.start();
  const objects = new FsBlobStore(path.join(dataDir, 'objects'));
  const times: number[] = [];
  const finds: number[] = [];
  let falsePositives = 0;
  for (const hex of sample) {
    const id = Buffer.from(hex, 'hex');
    const t0 = performance.now();
    const candidates: string[] = [];
    for (const row of scan.iterate() as Iterable<{ request_id: string; bits: number; filter: Buffer }>) {
      if (positions(id, row.bits).every((p) => (row.filter[p >>> 3]! & (1 << (p & 7))) !== 0)) candidates.push(row.request_id);
    }
    times.push(performance.now() - t0);
    const queue = new PQueue({ concurrency: DEFAULT_READ_CONCURRENCY });
    await queue.addAll(
      candidates.map((requestId) => async () => {
        const request = await requests.getRequest(requestId);
        return filterTraceSpans(await readRequestBytes(objects, request!), id).spans;
      }),
    );
    finds.push(performance.now() - t0);
    const real = new Set(truth.all(id) as string[]);
    falsePositives += candidates.filter((c) => !real.has(c)).length;
  }
  await requests.close();
  index.close();
  blooms.close();
  return {
    requests: perRequest.size,
    bytesTotal,
    bytesPerTraceRow: bytesTotal / Math.max(1, rows),
    lookupMs: stats(times),
    findMs: stats(finds),
    falsePositivesPerLookup: falsePositives / Math.max(1, sample.length),
  };
}
