// find-trace's work is in the requests it reads, not in the spans it answers: a trace with a span in each of many
// large requests is a small answer and a huge read (measured on serve: eight 63 MiB requests for a 6 KB answer took
// 1.7 s, RSS 225 → 631 MB, the event loop held 1.5 s). So the requests to read are bounded from the index before
// anything is read (maxReadBytes, named in the refusal), and the bytes held by reads in flight by a window.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ResultTooLargeError } from '../../src/errors.js';
import { findTrace } from '../../src/query/find-trace.js';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';
import { buildArchive, type BuiltArchive } from '../helpers/archive-builder.js';
import { spreadTraces, traceSpreadOver, type SpreadTraces } from '../helpers/trace-spans.js';

/** The real filesystem store, counting range reads and how many were in flight at once (each takes a few ms). */
class WatchedStore extends FsBlobStore {
  reads = 0;
  inFlight = 0;
  mostInFlight = 0;
  override async readRange(key: string, offset: number, length: number): Promise<Buffer> {
    this.reads += 1;
    this.inFlight += 1;
    this.mostInFlight = Math.max(this.mostInFlight, this.inFlight);
    try {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return await super.readRange(key, offset, length);
    } finally {
      this.inFlight -= 1;
    }
  }
}

let dir: string;
let blobs: WatchedStore;
let archive: BuiltArchive;
let spread: SpreadTraces;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-find-trace-'));
  blobs = new WatchedStore(path.join(dir, 'objects'));
  spread = spreadTraces(5, 240, 12);
  archive = await buildArchive(dir, spread.requests.map((bytes) => ({ signal: 'traces' as const, bytes })), 4, blobs);
});

afterAll(async () => {
  await archive.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function reset(): void {
  blobs.reads = 0;
  blobs.mostInFlight = 0;
}

test('a trace spread over more request bytes than maxReadBytes is refused before any read, naming the setting and the requests', async () => {
  const traceId = traceSpreadOver(spread, 6);
  const holding = (await archive.index.findTraceRequests(traceId)).filter((r) => r.signal === 'traces');
  const total = holding.reduce((sum, r) => sum + r.rawBytes, 0);
  expect(holding.length).toBeGreaterThanOrEqual(6);
  reset();
  const refusal = findTrace(archive.index, blobs, traceId, { maxReadBytes: { maxBytes: total - 1, setting: 'the.setting' } });
  await expect(refusal).rejects.toThrow(ResultTooLargeError);
  await expect(refusal).rejects.toThrow(
    `trace ${traceId} is spread over ${holding.length} requests of ${total} bytes in all, more than one find-trace reads (${total - 1} bytes, the.setting)`,
  );
  await expect(refusal).rejects.toThrow(holding[0]!.id);
  expect(blobs.reads).toBe(0);

  // At the bound: answered, every span of the trace.
  const found = await findTrace(archive.index, blobs, traceId, { maxReadBytes: { maxBytes: total, setting: 'the.setting' } });
  expect(found.spans).toBe(spread.byTrace.get(traceId)!.length);
});

test('reads in flight hold at most the read window of request bytes (one request at least), however many may run', async () => {
  const traceId = traceSpreadOver(spread, 6);
  const holding = (await archive.index.findTraceRequests(traceId)).filter((r) => r.signal === 'traces');
  const largest = Math.max(...holding.map((r) => r.rawBytes));
  const smallest = Math.min(...holding.map((r) => r.rawBytes));
  expect(largest).toBeLessThan(2 * smallest); // so a window of `largest` never holds two of them

  reset();
  const open = await findTrace(archive.index, blobs, traceId, { readConcurrency: 16 });
  expect(blobs.mostInFlight).toBeGreaterThan(2); // without a byte bound, the count bound is all there is

  reset();
  const windowed = await findTrace(archive.index, blobs, traceId, { readConcurrency: 16, readWindowBytes: largest });
  expect(blobs.mostInFlight).toBe(1);
  expect(blobs.reads).toBe(holding.length);
  expect(windowed.proto.equals(open.proto)).toBe(true);

  // A window smaller than any request still reads them all, one at a time.
  reset();
  const tiny = await findTrace(archive.index, blobs, traceId, { readConcurrency: 16, readWindowBytes: 1 });
  expect(blobs.mostInFlight).toBe(1);
  expect(tiny.proto.equals(open.proto)).toBe(true);
});

test('over maxBytes (the answer) the reads stop, and no read is left waiting in the window', async () => {
  const traceId = traceSpreadOver(spread, 6);
  reset();
  await expect(findTrace(archive.index, blobs, traceId, { maxBytes: 10, readConcurrency: 16, readWindowBytes: 1 })).rejects.toThrow(ResultTooLargeError);
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(blobs.inFlight).toBe(0);
  expect(blobs.reads).toBeLessThan(3);
});
