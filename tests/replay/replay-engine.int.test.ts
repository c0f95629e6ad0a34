// The replay engine against real grpc-js targets of the test's own, over a real archive (filesystem + SQLite):
// exactly-once delivery, retries as the target asks, final errors, pacing, time shifts, abort, partial success.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import type { Signal } from '../../src/model.js';
import { shiftTimestamps } from '../../src/otlp/time-shift.js';
import { GrpcTarget } from '../../src/replay/grpc-target.js';
import { replay, type ReplayOptions } from '../../src/replay/replay-engine.js';
import type { ReplayProgress } from '../../src/replay/replay-progress.js';
import { buildArchive, type BuiltArchive } from '../helpers/archive-builder.js';
import { logsPayload, metricsPayload, metricsPayloadWithSummaryAndExemplars, tracePayload } from '../helpers/otlp-payloads.js';
import { startRecordingTarget, type Answer, type Arrival, type RecordingTarget } from '../helpers/recording-otlp-target.js';

const BASE_MS = 1_750_000_000_000;
let dir: string;
let archive: BuiltArchive;
const originals: { signal: Signal; bytes: Buffer }[] = [];
const targets: RecordingTarget[] = [];
const clients: GrpcTarget[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-engine-'));
  const entries: { signal: Signal; bytes: Uint8Array; receivedAtMs: number }[] = [];
  const gaps = [0, 1000, 2500, 3000, 5000, 5200, 6000];
  gaps.forEach((gap, i) => {
    const bytes = i % 3 === 0 ? tracePayload(40 + i, 30).proto : i % 3 === 1 ? metricsPayload(40 + i).proto : logsPayload(40 + i).proto;
    const signal: Signal = i % 3 === 0 ? 'traces' : i % 3 === 1 ? 'metrics' : 'logs';
    entries.push({ signal, bytes, receivedAtMs: BASE_MS + gap });
  });
  entries.push({ signal: 'metrics', bytes: metricsPayloadWithSummaryAndExemplars(3).proto, receivedAtMs: BASE_MS + 6100 });
  for (const entry of entries) originals.push({ signal: entry.signal, bytes: Buffer.from(entry.bytes) });
  archive = await buildArchive(dir, entries, 2);
});

afterAll(async () => {
  for (const client of clients) client.close();
  for (const target of targets) await target.close();
  await archive.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function target(answer?: (arrival: Arrival, attempt: number) => Answer): Promise<{ server: RecordingTarget; client: GrpcTarget }> {
  const server = await startRecordingTarget(answer);
  targets.push(server);
  const client = new GrpcTarget({ address: server.address, tls: false, headers: { 'x-scope-orgid': 'replayed' } });
  clients.push(client);
  return { server, client };
}

const defaults: ReplayOptions = { filter: {}, timeShift: { kind: 'none' }, speed: 'max', concurrency: 4, dryRun: false };
const sorted = (items: { signal: string; bytes: Buffer }[]): string[] => items.map((i) => `${i.signal}:${i.bytes.toString('base64')}`).sort();

test('max speed: every request arrives exactly once, byte for byte, with the headers; progress adds up', async () => {
  const { server, client } = await target();
  const seen: ReplayProgress[] = [];
  const summary = await replay(archive, client, { ...defaults, onProgress: (p) => seen.push(p) });
  expect(sorted(server.accepted)).toEqual(sorted(originals));
  expect(server.attempts.length).toBe(originals.length);
  expect(server.accepted.every((a) => a.metadata['x-scope-orgid'] === 'replayed')).toBe(true);
  const bytes = originals.reduce((sum, o) => sum + o.bytes.length, 0);
  const items = archive.requests.reduce((sum, r) => sum + r.items, 0);
  expect(summary).toMatchObject({
    total: { requests: originals.length, items, bytes },
    sent: { requests: originals.length, items, bytes },
    retried: 0, failed: 0, rejectedItems: 0, done: true, delivered: true, aborted: false, failure: null, offsetNs: 0n,
  });
  for (let i = 1; i < seen.length; i++) expect(seen[i]!.sent.bytes).toBeGreaterThanOrEqual(seen[i - 1]!.sent.bytes);
  expect(seen.at(-1)!.done).toBe(true);
});

test('UNAVAILABLE with RetryInfo for a while: the replay waits as asked, retries, and delivers each request once', async () => {
  const refuseUntil = performance.now() + 700;
  const { server, client } = await target((arrival) =>
    arrival.atMs < refuseUntil ? { ok: false, code: grpc.status.UNAVAILABLE, details: 'busy', retryAfterMs: 250 } : { ok: true },
  );
  const summary = await replay(archive, client, { ...defaults, concurrency: 2 });
  expect(summary.delivered).toBe(true);
  expect(summary.retried).toBeGreaterThan(0);
  expect(sorted(server.accepted)).toEqual(sorted(originals));
  // Retries of one request are spaced by at least the RetryInfo delay.
  const byBytes = new Map<string, number[]>();
  for (const attempt of server.attempts) {
    const key = attempt.bytes.toString('base64');
    byBytes.set(key, [...(byBytes.get(key) ?? []), attempt.atMs]);
  }
  for (const times of byBytes.values()) for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(240);
  expect(summary.retried).toBe(server.attempts.length - originals.length);
});

test('RESOURCE_EXHAUSTED is retried with RetryInfo; without it, the replay stops and says which request failed', async () => {
  let refused = 0;
  const withInfo = await target(() => (refused++ < 3 ? { ok: false, code: grpc.status.RESOURCE_EXHAUSTED, retryAfterMs: 50 } : { ok: true }));
  const ok = await replay(archive, withInfo.client, { ...defaults, concurrency: 1 });
  expect(ok).toMatchObject({ delivered: true, retried: 3 });
  expect(withInfo.server.accepted.length).toBe(originals.length);

  const final = await target((_arrival, attempt) =>
    attempt === 3 ? { ok: false, code: grpc.status.RESOURCE_EXHAUSTED, details: 'too large' } : { ok: true },
  );
  const stopped = await replay(archive, final.client, { ...defaults, concurrency: 1 });
  expect(stopped).toMatchObject({ delivered: false, failed: 1, retried: 0, sent: { requests: 2 } });
  expect(stopped.failure).toEqual({
    requestId: archive.requests[2]!.id,
    signal: archive.requests[2]!.signal,
    reason: 'was refused by the target: RESOURCE_EXHAUSTED: too large',
    // The target's status and how many attempts it refused: what an API caller is told instead of the reason.
    target: { code: grpc.status.RESOURCE_EXHAUSTED, attempts: 1 },
  });
  // Nothing after the failure was sent.
  expect(final.server.attempts.length).toBe(3);
});

test('speed 10 reproduces the original gaps divided by 10', async () => {
  const { server, client } = await target();
  const summary = await replay(archive, client, { ...defaults, speed: 10, concurrency: 4 });
  expect(summary.delivered).toBe(true);
  const arrivals = server.accepted.map((a) => a.atMs);
  const received = archive.requests.map((r) => r.receivedAtMs);
  for (let i = 1; i < received.length; i++) {
    const expected = (received[i]! - received[0]!) / 10;
    const actual = arrivals[i]! - arrivals[0]!;
    expect(Math.abs(actual - expected)).toBeLessThan(40);
  }
  // 610 ms of original timeline at speed 10.
  expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThan(570);
});

test('time shift "now": the earliest timestamp lands at the start, everything moves by the same offset', async () => {
  const { server, client } = await target();
  const startNs = BigInt(Date.now()) * 1_000_000n;
  const summary = await replay(archive, client, { ...defaults, timeShift: { kind: 'now' }, concurrency: 1 });
  const endNs = BigInt(Date.now()) * 1_000_000n;
  const earliest = archive.requests.reduce((min, r) => (r.startNs < min ? r.startNs : min), archive.requests[0]!.startNs);
  expect(summary.earliestNs).toBe(earliest);
  expect(earliest + summary.offsetNs).toBeGreaterThanOrEqual(startNs);
  expect(earliest + summary.offsetNs).toBeLessThanOrEqual(endNs);
  expect(server.accepted.map((a) => a.bytes.toString('base64'))).toEqual(
    archive.requests.map((r, i) => shiftTimestamps(r.signal, originalOf(i), summary.offsetNs).bytes.toString('base64')),
  );
});

test('filters select what is replayed; a dry run sends nothing', async () => {
  const { server, client } = await target();
  const logs = await replay(archive, client, { ...defaults, filter: { signal: 'logs' } });
  expect(logs.total.requests).toBe(archive.requests.filter((r) => r.signal === 'logs').length);
  expect(server.accepted.every((a) => a.signal === 'logs')).toBe(true);
  const dry = await replay(archive, null, { ...defaults, dryRun: true, timeShift: { kind: 'offset', ns: 5n } });
  expect(dry).toMatchObject({ dryRun: true, delivered: false, offsetNs: 5n, total: { requests: originals.length }, sent: { requests: 0 } });
});

test('an abort from outside stops the replay: nothing more is sent', async () => {
  const { server, client } = await target();
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 150);
  const summary = await replay(archive, client, { ...defaults, speed: 1, abort: abort.signal });
  expect(summary).toMatchObject({ aborted: true, delivered: false });
  expect(summary.sent.requests).toBeLessThan(originals.length);
  expect(server.accepted.length).toBe(summary.sent.requests);
});

test('items the target rejects in partial_success are counted and the replay is not "delivered"', async () => {
  const inner = protobuf.Writer.create().uint32(8).int64(2).uint32(18).string('dropped two').finish();
  const response = Buffer.from(protobuf.Writer.create().uint32(10).bytes(inner).finish());
  const { client } = await target((_arrival, attempt) => (attempt === 1 ? { ok: true, response } : { ok: true }));
  const summary = await replay(archive, client, { ...defaults, concurrency: 1 });
  expect(summary).toMatchObject({ rejectedItems: 2, delivered: false, failed: 0, sent: { requests: originals.length } });
  expect(summary.rejections).toEqual([`request ${archive.requests[0]!.id}: 2 rejected: dropped two`]);
});

test('a request that cannot be read from the archive stops the replay with a clear reason', async () => {
  const copyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-corrupt-'));
  try {
    const broken = await buildArchive(copyDir, [{ signal: 'traces', bytes: tracePayload(1).proto }], 1);
    const request = broken.requests[0]!;
    const file = path.join(copyDir, 'objects', request.objectKey);
    const bytes = fs.readFileSync(file);
    const at = request.offset + Math.floor(request.length / 2); // inside the deflate data, not the gzip header
    bytes[at] = bytes[at]! ^ 0xff;
    fs.writeFileSync(file, bytes);
    const { server, client } = await target();
    const summary = await replay(broken, client, defaults);
    expect(summary.failure?.reason).toMatch(/^cannot be read from the archive: /);
    expect(server.attempts).toEqual([]);
    await broken.close();
  } finally {
    fs.rmSync(copyDir, { recursive: true, force: true });
  }
});

/** The bytes originally archived as the i-th request (requests are in id = insertion order). */
function originalOf(i: number): Buffer {
  return originals[i]!.bytes;
}
