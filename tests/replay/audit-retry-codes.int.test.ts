// Replay into real grpc-js targets that answer as Collectors, proxies and restarting servers do with the codes the
// OTLP specification marks retryable: CANCELLED (a server or proxy resetting streams as it stops), DEADLINE_EXCEEDED
// (the per-call deadline passing on a slow target, or sent by it), ABORTED, OUT_OF_RANGE, DATA_LOSS. Each must be
// retried — every request delivered and counted once — not end the replay.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Signal } from '../../src/model.js';
import { SIGNALS } from '../../src/model.js';
import { otlpServiceDefinition } from '../../src/grpc/otlp-services.js';
import { GrpcTarget } from '../../src/replay/grpc-target.js';
import { replay, type ReplayOptions } from '../../src/replay/replay-engine.js';
import { buildArchive, type BuiltArchive } from '../helpers/archive-builder.js';
import { logsPayload, metricsPayload, tracePayload } from '../helpers/otlp-payloads.js';
import { startRecordingTarget, type RecordingTarget } from '../helpers/recording-otlp-target.js';

const BASE_MS = 1_750_000_000_000;
let dir: string;
let archive: BuiltArchive;
const originals: string[] = [];
const closers: (() => unknown)[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-retry-codes-'));
  const entries = [0, 1, 2, 3, 4, 5].map((i) => {
    const signal: Signal = SIGNALS[i % 3]!;
    const bytes = signal === 'traces' ? tracePayload(70 + i, 5).proto : signal === 'metrics' ? metricsPayload(70 + i).proto : logsPayload(70 + i, 5).proto;
    return { signal, bytes, receivedAtMs: BASE_MS + i * 10 };
  });
  for (const entry of entries) originals.push(`${entry.signal}:${Buffer.from(entry.bytes).toString('base64')}`);
  originals.sort();
  archive = await buildArchive(dir, entries, 2);
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await archive.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const options: ReplayOptions = {
  filter: {}, timeShift: { kind: 'none' }, speed: 'max', concurrency: 2, dryRun: false,
  retry: { initialBackoffMs: 20, maxBackoffMs: 200, maxRetryTimeMs: 10_000 },
};
const keys = (arrivals: { signal: string; bytes: Buffer }[]): string[] => arrivals.map((a) => `${a.signal}:${a.bytes.toString('base64')}`).sort();

function client(address: string, timeoutMs?: number): GrpcTarget {
  const target = new GrpcTarget({ address, tls: false, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  closers.push(() => target.close());
  return target;
}

async function recording(...args: Parameters<typeof startRecordingTarget>): Promise<RecordingTarget> {
  const target = await startRecordingTarget(...args);
  closers.push(() => target.close());
  return target;
}

test.each(['CANCELLED', 'DEADLINE_EXCEEDED', 'ABORTED', 'OUT_OF_RANGE', 'DATA_LOSS'] as const)(
  'the target answers %s to the second request once: it is retried, and everything is delivered once',
  async (name) => {
    const target = await recording((_arrival, attempt) => (attempt === 2 ? { ok: false, code: grpc.status[name], details: 'try again' } : { ok: true }));
    const summary = await replay(archive, client(target.address), options);
    expect({ failure: summary.failure, delivered: summary.delivered }).toEqual({ failure: null, delivered: true });
    expect(summary).toMatchObject({ retried: 1, failed: 0, sent: { requests: archive.requests.length } });
    expect(keys(target.accepted)).toEqual(originals);
    expect(target.attempts.length).toBe(archive.requests.length + 1);
  },
);

test('the per-call deadline passes on a slow answer: the request is sent again and counted once', async () => {
  let slow = true;
  const late: Buffer[] = [];
  const server = new grpc.Server();
  const accepted: { signal: Signal; bytes: Buffer }[] = [];
  for (const signal of SIGNALS) {
    server.addService(otlpServiceDefinition(signal), {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        if (slow) {
          // The first Export hangs past the client's deadline (a Collector stuck behind a full pipeline).
          slow = false;
          late.push(call.request);
          setTimeout(() => callback(null, Buffer.alloc(0)), 600);
          return;
        }
        accepted.push({ signal, bytes: call.request });
        callback(null, Buffer.alloc(0));
      },
    });
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  closers.push(() => server.forceShutdown());
  const summary = await replay(archive, client(`127.0.0.1:${port}`, 250), { ...options, concurrency: 1 });
  expect({ failure: summary.failure, delivered: summary.delivered }).toEqual({ failure: null, delivered: true });
  expect(summary).toMatchObject({ retried: 1, sent: { requests: archive.requests.length } });
  expect(keys(accepted)).toEqual(originals);
  expect(late.length).toBe(1);
});

test('the target restarts mid-replay (streams reset, connection closed): the replay reconnects and loses nothing', async () => {
  const accepted: { signal: Signal; bytes: Buffer }[] = [];
  let seen = 0;
  const start = async (port: number, restartAt: number | null): Promise<{ server: grpc.Server; port: number }> => {
    const server = new grpc.Server();
    for (const signal of SIGNALS) {
      server.addService(otlpServiceDefinition(signal), {
        Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          seen += 1;
          if (restartAt !== null && seen === restartAt) {
            // Stops hard with this request unanswered: the client sees its stream reset (CANCELLED).
            server.forceShutdown();
            setTimeout(() => void start(bound, null).then((next) => closers.push(() => next.server.forceShutdown())), 100);
            return;
          }
          accepted.push({ signal, bytes: call.request });
          callback(null, Buffer.alloc(0));
        },
      });
    }
    const bound = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
    );
    return { server, port: bound };
  };
  const first = await start(0, 3);
  closers.push(() => first.server.forceShutdown());
  const summary = await replay(archive, client(`127.0.0.1:${first.port}`), { ...options, concurrency: 1 });
  expect({ failure: summary.failure, delivered: summary.delivered }).toEqual({ failure: null, delivered: true });
  expect(summary.sent.requests).toBe(archive.requests.length);
  expect(summary.retried).toBeGreaterThanOrEqual(1);
  expect(keys(accepted)).toEqual(originals);
});
