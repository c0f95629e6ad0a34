// Replay engine edge cases against real grpc-js targets: what `sent` counts after a partial success, pacing across
// a gap longer than a Node timer can wait, and stopping while an unreachable target is being waited for.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { GrpcTarget } from '../../src/replay/grpc-target.js';
import { replay, type ReplayOptions } from '../../src/replay/replay-engine.js';
import { buildArchive, type BuiltArchive } from '../helpers/archive-builder.js';
import { logsPayload, tracePayload } from '../helpers/otlp-payloads.js';
import { startRecordingTarget, type RecordingTarget } from '../helpers/recording-otlp-target.js';

const BASE_MS = 1_750_000_000_000;
const DAY_MS = 86_400_000;
let dir: string;
const archives: BuiltArchive[] = [];
const closers: (() => unknown)[] = [];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-engine-'));
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  for (const archive of archives) await archive.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function archiveOf(name: string, entries: Parameters<typeof buildArchive>[1]): Promise<BuiltArchive> {
  const archive = await buildArchive(path.join(dir, name), entries, 1);
  archives.push(archive);
  return archive;
}

async function recording(...args: Parameters<typeof startRecordingTarget>): Promise<RecordingTarget> {
  const target = await startRecordingTarget(...args);
  closers.push(() => target.close());
  return target;
}

function client(address: string): GrpcTarget {
  const target = new GrpcTarget({ address, tls: false });
  closers.push(() => target.close());
  return target;
}

const options: ReplayOptions = { filter: {}, timeShift: { kind: 'none' }, speed: 'max', concurrency: 1, dryRun: false };

test('items the target rejected in a partial success are not counted as sent (accepted) items', async () => {
  const archive = await archiveOf('partial', [
    { signal: 'logs', bytes: logsPayload(81, 10).proto, receivedAtMs: BASE_MS },
    { signal: 'logs', bytes: logsPayload(82, 10).proto, receivedAtMs: BASE_MS + 1 },
  ]);
  const inner = protobuf.Writer.create().uint32(8).int64(3).uint32(18).string('3 log records too old').finish();
  const response = Buffer.from(protobuf.Writer.create().uint32(10).bytes(inner).finish());
  const target = await recording((_arrival, attempt) => (attempt === 1 ? { ok: true, response } : { ok: true }));
  const summary = await replay(archive, client(target.address), options);
  const items = archive.requests.reduce((sum, r) => sum + r.items, 0);
  expect(summary).toMatchObject({ delivered: false, rejectedItems: 3, total: { items }, sent: { requests: 2, items: items - 3 } });
});

test('--speed 1 across a 30-day gap: the later request waits (a timer past 2^31-1 ms would fire at once)', async () => {
  const archive = await archiveOf('gap', [
    { signal: 'traces', bytes: tracePayload(83, 3).proto, receivedAtMs: BASE_MS },
    { signal: 'traces', bytes: tracePayload(84, 3).proto, receivedAtMs: BASE_MS + 30 * DAY_MS },
  ]);
  const target = await recording();
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 400);
  const summary = await replay(archive, client(target.address), { ...options, speed: 1, abort: abort.signal });
  expect(target.accepted.length).toBe(1);
  expect(summary).toMatchObject({ aborted: true, delivered: false, sent: { requests: 1 } });
});

test('a replay cancelled before or while it plans stops reading the selection and sends nothing', async () => {
  const archive = await archiveOf('cancelled-plan', [
    { signal: 'traces', bytes: tracePayload(86, 3).proto, receivedAtMs: BASE_MS },
    { signal: 'traces', bytes: tracePayload(87, 3).proto, receivedAtMs: BASE_MS + 1 },
    { signal: 'traces', bytes: tracePayload(88, 3).proto, receivedAtMs: BASE_MS + 2 },
  ]);
  const target = await recording();
  const abort = new AbortController();
  abort.abort();
  const summary = await replay(archive, client(target.address), { ...options, abort: abort.signal });
  expect(summary).toMatchObject({ aborted: true, delivered: false, total: { requests: 0 }, sent: { requests: 0 } });
  expect(target.accepted).toEqual([]);
});

test('stopping while an unreachable target is being connected to ends the replay at once, with its summary', async () => {
  const archive = await archiveOf('down', [{ signal: 'traces', bytes: tracePayload(85, 3).proto, receivedAtMs: BASE_MS }]);
  // A port nothing listens on any more.
  const server = new grpc.Server();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  server.forceShutdown();
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 200);
  const startedAt = performance.now();
  const summary = await replay(archive, client(`127.0.0.1:${port}`), { ...options, abort: abort.signal });
  expect(performance.now() - startedAt).toBeLessThan(1500);
  expect(summary).toMatchObject({ aborted: true, delivered: false, sent: { requests: 0 }, total: { requests: 1 } });
});
