// Replay end to end: two real `otlp-capture serve` processes. What the first captured is replayed with the CLI into
// the second (byte for byte, all three signals; then with a time shift), into recording targets of the test's own
// (pacing at speed 10, UNAVAILABLE + RetryInfo, a final error), and through CaptureService.Replay.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Signal } from '../../src/model.js';
import { PROTO_DIR } from '../../src/protos.js';
import type { RequestView } from '../../src/query/request-view.js';
import { readArchive } from '../helpers/archive-reader.js';
import { listJson, allArchived } from '../helpers/capture-cli.js';
import { compareShifted, decodeRequest } from '../helpers/otlp-compare.js';
import { logsPayload, metricsPayload, metricsPayloadWithSummaryAndExemplars, tracePayload } from '../helpers/otlp-payloads.js';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { startRecordingTarget, type RecordingTarget } from '../helpers/recording-otlp-target.js';
import { runCli, startServer, type ServerProcess } from '../helpers/server-process.js';
import { waitFor } from '../helpers/wait.js';

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const TWO_HOURS_NS = 7_200_000_000_000n;

let dir: string;
let source: ServerProcess;
let sink: ServerProcess;
/** The one target the source's Replay RPC may send to (replay.allowedTargets); the CLI replays anywhere. */
let apiTarget: RecordingTarget;
const sent: { signal: Signal; bytes: Buffer }[] = [];
const targets: RecordingTarget[] = [];

const dataOf = (name: string): string => path.join(dir, name, 'data');

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-replay-'));
  const config = path.join(dir, 'config.yaml');
  writeFileSync(config, 'archiver:\n  maxObjectAge: 300ms\nlog:\n  level: warn\n');
  apiTarget = await recordingTarget();
  const sourceConfig = path.join(dir, 'source.yaml');
  writeFileSync(sourceConfig, `archiver:\n  maxObjectAge: 300ms\nlog:\n  level: warn\nreplay:\n  allowedTargets: ["${apiTarget.address}"]\n`);
  [source, sink] = await Promise.all([
    startServer(['--config', sourceConfig, '--data-dir', dataOf('source')]),
    startServer(['--config', config, '--data-dir', dataOf('sink')]),
  ]);
  const client = new RawOtlpClient(source.grpcAddress);
  const payloads: [Signal, Uint8Array][] = [
    ['traces', tracePayload(61, 50).proto],
    ['metrics', metricsPayload(62).proto],
    ['logs', logsPayload(63, 30).proto],
    ['traces', tracePayload(64, 20).proto],
    ['metrics', metricsPayloadWithSummaryAndExemplars(65).proto],
    ['logs', logsPayload(66, 10).proto],
  ];
  for (const [signal, proto] of payloads) {
    expect(await client.export(signal, proto)).toEqual({ ok: true });
    sent.push({ signal, bytes: Buffer.from(proto) });
  }
  client.close();
  await waitFor('the source to archive everything', async () => (allArchived(await listJson(dataOf('source')), sent.length) ? true : undefined));
}, 120_000);

afterAll(async () => {
  for (const target of targets) await target.close();
  await Promise.all([source?.stop(), sink?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

async function sinkRows(tenant: string, count: number): Promise<RequestView[]> {
  return waitFor(`${count} requests of tenant ${tenant} in the sink`, async () => {
    const rows = await listJson(dataOf('sink'), '--tenant', tenant);
    return rows.length >= count ? rows : undefined;
  });
}

async function recordingTarget(...args: Parameters<typeof startRecordingTarget>): Promise<RecordingTarget> {
  const target = await startRecordingTarget(...args);
  targets.push(target);
  return target;
}

test('replay with no time shift: the second instance holds byte-identical requests, for all three signals', async () => {
  const result = await runCli(['replay', '--to', sink.grpcAddress, '--data-dir', dataOf('source')]);
  expect(result.stderr).not.toMatch(/otlp-capture:/);
  expect(result.code).toBe(0);
  expect(result.stdout.toString()).toMatch(new RegExp(`^replayed ${sent.length}/${sent.length} requests .* timestamps unchanged; sent ${sent.length}, retried 0, failed 0\\n$`));
  await sinkRows('default', sent.length);
  const copied = (await readArchive(dataOf('sink'))).filter((entry) => entry.request.tenant === 'default');
  const originals = await readArchive(dataOf('source'));
  const key = (signal: string, bytes: Uint8Array): string => `${signal}:${sha(bytes)}`;
  expect(copied.map((e) => key(e.request.signal, e.bytes)).sort()).toEqual(originals.map((e) => key(e.request.signal, e.bytes)).sort());
  expect(copied.map((e) => key(e.request.signal, e.bytes)).sort()).toEqual(sent.map((e) => key(e.signal, e.bytes)).sort());
  expect(new Set(copied.map((e) => e.request.signal))).toEqual(new Set(['traces', 'metrics', 'logs']));
});

test('replay --time-shift +2h: every timestamp moved by exactly 2 h, nothing else changed', async () => {
  const result = await runCli([
    'replay', '--to', sink.grpcAddress, '--data-dir', dataOf('source'), '--time-shift', '+2h',
    '--header', 'x-scope-orgid=shifted', '--concurrency', '1',
  ]);
  expect(result.code).toBe(0);
  expect(result.stdout.toString()).toMatch(/timestamps shifted by \+2h;/);
  await sinkRows('shifted', sent.length);
  // One request in flight at a time: the sink received them in the source's order.
  const shifted = (await readArchive(dataOf('sink'))).filter((entry) => entry.request.tenant === 'shifted');
  const originals = await readArchive(dataOf('source'));
  expect(shifted.length).toBe(originals.length);
  let moved = 0;
  originals.forEach((original, i) => {
    const copy = shifted[i]!;
    expect(copy.request.signal).toBe(original.request.signal);
    expect(copy.bytes.length).toBe(original.bytes.length);
    moved += compareShifted(decodeRequest(original.request.signal, original.bytes), decodeRequest(copy.request.signal, copy.bytes), TWO_HOURS_NS);
    expect(copy.request.startNs).toBe(original.request.startNs + TWO_HOURS_NS);
    expect(copy.request.endNs).toBe(original.request.endNs + TWO_HOURS_NS);
  });
  expect(moved).toBeGreaterThan(100);
});

test('replay --speed 10 of a capture with known gaps reproduces the gaps, divided by 10', async () => {
  const client = new RawOtlpClient(source.grpcAddress);
  const gapsMs = [0, 1000, 1500, 3000];
  const started = Date.now();
  for (const [i, gap] of gapsMs.entries()) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + gap - Date.now())));
    expect(await client.export('traces', tracePayload(70 + i, 5).proto, { 'x-scope-orgid': 'paced' })).toEqual({ ok: true });
  }
  client.close();
  const captured = await waitFor('the paced capture', async () => {
    const rows = await listJson(dataOf('source'), '--tenant', 'paced');
    return rows.length >= gapsMs.length ? rows : undefined;
  });
  const target = await recordingTarget();
  const result = await runCli(['replay', '--to', target.address, '--data-dir', dataOf('source'), '--tenant', 'paced', '--speed', '10']);
  expect(result.code).toBe(0);
  const received = captured.map((row) => Date.parse(row.receivedAt));
  const arrivals = target.accepted.map((a) => a.atMs);
  expect(arrivals.length).toBe(gapsMs.length);
  for (let i = 1; i < received.length; i++) {
    const expected = (received[i]! - received[0]!) / 10;
    const actual = arrivals[i]! - arrivals[0]!;
    expect({ i, expected, actual, off: Math.abs(actual - expected) < 50 }).toEqual({ i, expected, actual, off: true });
  }
});

test('a target answering UNAVAILABLE + RetryInfo for a while: replay waits, retries, and delivers everything exactly once', async () => {
  const refuseUntil = performance.now() + 1200;
  const target = await recordingTarget((arrival) =>
    arrival.atMs < refuseUntil ? { ok: false, code: grpc.status.UNAVAILABLE, details: 'warming up', retryAfterMs: 300 } : { ok: true },
  );
  const result = await runCli(['replay', '--to', target.address, '--data-dir', dataOf('source'), '--tenant', 'default', '--concurrency', '2']);
  expect(result.code).toBe(0);
  const retried = Number(/retried (\d+)/.exec(result.stdout.toString())?.[1]);
  expect(retried).toBeGreaterThan(0);
  // Each refused attempt the target saw was retried (a client-side UNAVAILABLE, e.g. while connecting, counts too).
  expect(retried).toBeGreaterThanOrEqual(target.attempts.length - sent.length);
  expect(target.accepted.map((a) => `${a.signal}:${sha(a.bytes)}`).sort()).toEqual(sent.map((s) => `${s.signal}:${sha(s.bytes)}`).sort());
  // The first acceptance came only once the target stopped refusing: the replay waited rather than gave up.
  expect(Math.min(...target.accepted.map((a) => a.atMs))).toBeGreaterThanOrEqual(refuseUntil);
});

test('a final error stops the replay with a clear report and exit code 1', async () => {
  const target = await recordingTarget((_arrival, attempt) =>
    attempt >= 2 ? { ok: false, code: grpc.status.INVALID_ARGUMENT, details: 'schema mismatch' } : { ok: true },
  );
  const result = await runCli(['replay', '--to', target.address, '--data-dir', dataOf('source'), '--tenant', 'default', '--concurrency', '1']);
  expect(result.code).toBe(1);
  expect(result.stdout.toString()).toMatch(/^incomplete: replayed 1\/6 requests .* sent 1, retried 0, failed 1, not sent 4\n$/);
  expect(result.stderr).toMatch(/otlp-capture: replay stopped: \w+ request [0-9A-Z]{26} was refused by the target: INVALID_ARGUMENT: schema mismatch\n/);
  expect(target.attempts.length).toBe(2);
});

test('--dry-run sends nothing and says what would be sent; bad flags are usage errors (exit 2)', async () => {
  const dry = await runCli(['replay', '--to', '127.0.0.1:1', '--data-dir', dataOf('source'), '--tenant', 'default', '--time-shift', '-30m', '--dry-run']);
  expect(dry.code).toBe(0);
  expect(dry.stdout.toString()).toMatch(/^dry run: would replay 6 requests \(\d+ items, [\d.]+ KiB\) to 127\.0\.0\.1:1; data from .* timestamps shifted by -30m\n$/);
  const bad = await runCli(['replay', '--to', 'nowhere', '--data-dir', dataOf('source')]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/--to must be HOST:PORT/);
});

test('CaptureService.Replay (on the API listener, to an allowed target) streams progress and ends with a summary', async () => {
  const target = apiTarget;
  const definition = protoLoader.loadSync('otlpcapture/v1/capture.proto', { includeDirs: [PROTO_DIR], longs: String, enums: String, defaults: true });
  const Client = grpc.makeGenericClientConstructor(definition['otlpcapture.v1.CaptureService'] as grpc.ServiceDefinition, 'CaptureService');
  const client = new Client(source.apiAddress, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    Replay(request: object): grpc.ClientReadableStream<Record<string, unknown>>;
  };
  const messages: Record<string, unknown>[] = [];
  await new Promise<void>((resolve, reject) => {
    const call = client.Replay({ target: target.address, tenant: 'default', signal: 'SIGNAL_LOGS', timeShift: '1h', headers: { 'x-replayed-by': 'api' } });
    call.on('data', (message: Record<string, unknown>) => messages.push(message));
    call.on('error', reject);
    call.on('end', resolve);
  });
  client.close();
  const last = messages.at(-1)!;
  const logs = sent.filter((s) => s.signal === 'logs');
  expect(last).toMatchObject({
    done: true, delivered: true, error: '', requestsTotal: String(logs.length), requestsSent: String(logs.length),
    failed: '0', timeShiftNanos: '3600000000000',
  });
  expect(target.accepted.length).toBe(logs.length);
  expect(target.accepted.every((a) => a.signal === 'logs' && a.metadata['x-replayed-by'] === 'api')).toBe(true);
  for (const arrival of target.accepted) {
    const original = logs.find((l) => l.bytes.length === arrival.bytes.length)!;
    compareShifted(decodeRequest('logs', original.bytes), decodeRequest('logs', arrival.bytes), 3_600_000_000_000n);
  }
});
