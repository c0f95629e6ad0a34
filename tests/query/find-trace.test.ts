// find-trace over a real archive (filesystem blob store + SQLite index) built the way the archiver builds it: traces
// spread over several requests and objects come back whole — exactly their spans, compared with what
// otlp-transformer's JSON serializer makes of the generated spans — reading only the ranges of the requests involved.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, NotFoundError } from '../../src/errors.js';
import type { SqliteIndexStore } from '../../src/index/sqlite-index-store.js';
import { toOtlpJson } from '../../src/otlp/json.js';
import { findTrace, parseTraceId } from '../../src/query/find-trace.js';
import { QueryService } from '../../src/query/query-service.js';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';
import { buildArchive, type BuiltArchive } from '../helpers/archive-builder.js';
import { expectedFlatSpans, flattenTraceJson, spreadTraces, traceSpreadOver, type SpreadTraces } from '../helpers/trace-spans.js';

/** The real filesystem store, counting the range reads made through it. */
class CountingStore extends FsBlobStore {
  readonly reads: { key: string; offset: number; length: number }[] = [];
  override readRange(key: string, offset: number, length: number): Promise<Buffer> {
    this.reads.push({ key, offset, length });
    return super.readRange(key, offset, length);
  }
}

let dir: string;
let blobs: CountingStore;
let archive: BuiltArchive;
let index: SqliteIndexStore;
let spread: SpreadTraces;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'find-trace-'));
  blobs = new CountingStore(path.join(dir, 'objects'));
  spread = spreadTraces(21, 240, 12);
  // Another tenant holding spans of the same traces (a copy): visible without a tenant filter only.
  const other = spreadTraces(21, 240, 3);
  archive = await buildArchive(
    dir,
    [
      ...spread.requests.map((bytes) => ({ signal: 'traces' as const, bytes, tenant: 'acme' })), // 12 requests in 3 objects
      ...other.requests.map((bytes) => ({ signal: 'traces' as const, bytes, tenant: 'globex' })),
    ],
    4,
    blobs,
  );
  index = archive.index;
});

afterAll(async () => {
  await archive.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('every trace comes back with exactly its spans, across requests and objects', async () => {
  let spreadOverObjects = 0;
  for (const [traceId, spans] of spread.byTrace) {
    const found = await findTrace(index, blobs, traceId, { tenant: 'acme' });
    expect(found.spans).toBe(spans.length);
    expect(flattenTraceJson(toOtlpJson('traces', found.proto))).toEqual(expectedFlatSpans(spans));
    expect(found.requests.every((r) => r.tenant === 'acme')).toBe(true);
    if (new Set(found.requests.map((r) => r.objectKey)).size > 1) spreadOverObjects += 1;
  }
  expect(spread.byTrace.size).toBeGreaterThan(30);
  expect(spreadOverObjects).toBeGreaterThan(5);
});

test('reads only the ranges of the requests that hold the trace, each once', async () => {
  const traceId = traceSpreadOver(spread, 5);
  blobs.reads.length = 0;
  const found = await findTrace(index, blobs, traceId, { tenant: 'acme', readConcurrency: 2 });
  expect(found.requests.length).toBeGreaterThanOrEqual(5);
  expect(blobs.reads.sort((a, b) => a.offset - b.offset)).toEqual(
    found.requests.map((r) => ({ key: r.objectKey, offset: r.offset, length: r.length })).sort((a, b) => a.offset - b.offset),
  );
});

test('without a tenant, every tenant holding the trace contributes; with one, only that tenant', async () => {
  const traceId = traceSpreadOver(spread, 3);
  const all = await findTrace(index, blobs, traceId);
  const acme = await findTrace(index, blobs, traceId, { tenant: 'acme' });
  expect(all.spans).toBe(2 * acme.spans);
  expect(new Set(all.requests.map((r) => r.tenant))).toEqual(new Set(['acme', 'globex']));
  await expect(findTrace(index, blobs, traceId, { tenant: 'initech' })).rejects.toThrow(NotFoundError);
});

test('QueryService: proto is the found request; json its OTLP JSON; ids in any case', async () => {
  const traceId = traceSpreadOver(spread, 2);
  const query = new QueryService(index, blobs);
  const proto = await query.findTrace(traceId.toUpperCase(), 'proto', 'acme');
  const json = await query.findTrace(traceId, 'json', 'acme');
  expect(json.body.toString('utf8')).toBe(JSON.stringify(toOtlpJson('traces', proto.body)));
  expect(proto.trace.traceId).toBe(traceId);
});

test('an unknown trace is NotFoundError; a malformed id is InvalidArgumentError', async () => {
  await expect(findTrace(index, blobs, '0123456789abcdef0123456789abcdef')).rejects.toThrow(
    new NotFoundError('trace 0123456789abcdef0123456789abcdef is not in the archive'),
  );
  for (const bad of ['', 'abc', '0123456789abcdef0123456789abcdeg', '0123456789abcdef0123456789abcdef00', '0'.repeat(32)]) {
    await expect(findTrace(index, blobs, bad)).rejects.toThrow(InvalidArgumentError);
  }
  expect(parseTraceId('  0AF7651916CD43DD8448EB211C80319C ')).toBe('0af7651916cd43dd8448eb211c80319c');
});
