// CaptureService.Replay against replay.allowedTargets, with recording sinks: a target outside the list is refused
// with PERMISSION_DENIED before anything connects to it (the sink sees not even a TCP connection); one inside it
// receives every selected request byte for byte. A target's refusal reaches the caller as a class and a count, never
// its own words, and a target's oversized answer is not taken.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CaptureServer } from '../../src/app/capture-server.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { grpcExport, serverStream, unary } from '../helpers/grpc-calls.js';
import { logsPayload, metricsPayload, tracePayload } from '../helpers/otlp-payloads.js';
import { startRecordingTarget, type RecordingTarget } from '../helpers/recording-otlp-target.js';
import { startWireRecordingTarget, type WireRecordingTarget } from '../helpers/wire-recording-target.js';
import { waitFor } from '../helpers/wait.js';
import { LOOPBACK_LISTENERS } from '../helpers/loopback-listeners.js';

const READER = 'replayer-0d7c5b94e1a2';
const INGEST = 'ingest-49ab1e06f3d7';
const insecure = grpc.credentials.createInsecure();
const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

interface Progress {
  done: boolean;
  delivered: boolean;
  requests_total: string;
  requests_sent: string;
  failed: string;
  error: string;
}

let dir: string;
let server: CaptureServer;
let apiAddress: string;
let allowed: RecordingTarget;
let refusing: RecordingTarget;
let oversized: RecordingTarget;
let wire: WireRecordingTarget;
/** A plain TCP listener outside the list: counts connection attempts, speaks nothing. */
let forbidden: net.Server;
let forbiddenConnections = 0;
let forbiddenAddress: string;
const sent: Buffer[] = [];

const replay = (request: object) =>
  serverStream<Progress>(apiAddress, insecure, 'otlpcapture.v1.CaptureService', 'Replay', request, { authorization: `Bearer ${READER}` });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-allow-list-'));
  allowed = await startRecordingTarget();
  refusing = await startRecordingTarget(() => ({ ok: false, code: grpc.status.PERMISSION_DENIED, details: 'tenant acme-prod is not allowed at ingest-gw-3.internal:4317' }));
  oversized = await startRecordingTarget(() => ({ ok: true, response: Buffer.alloc(256 * 1024, 0x0a) }));
  wire = await startWireRecordingTarget();
  forbidden = net.createServer((socket) => {
    forbiddenConnections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => forbidden.listen(0, '127.0.0.1', resolve));
  forbiddenAddress = `127.0.0.1:${(forbidden.address() as net.AddressInfo).port}`;
  const port = (address: string): string => address.split(':')[1]!;
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: path.join(dir, 'data'),
      ...LOOPBACK_LISTENERS,
      'auth.bearerTokens': [{ token: READER, scopes: ['read', 'replay'] }, { token: INGEST }],
      // The allowed sinks by exact address, and one by a host wildcard; the forbidden one's port is in no pattern.
      'replay.allowedTargets': [allowed.address, refusing.address, wire.address, `*.0.0.1:${port(oversized.address)}`],
      'archiver.maxObjectAge': '200ms',
      'spool.durability': 'none',
      'log.level': 'silent',
    },
  });
  server = new CaptureServer(config, silentLogger());
  const ports = await server.start();
  apiAddress = `127.0.0.1:${ports.api}`;
  const payloads: [string, Uint8Array][] = [
    ['traces', tracePayload(81, 40).proto],
    ['metrics', metricsPayload(82).proto],
    ['logs', logsPayload(83, 25).proto],
    ['traces', tracePayload(84, 10).proto],
  ];
  for (const [signal, proto] of payloads) {
    const outcome = await grpcExport(`127.0.0.1:${ports.grpc}`, insecure, Buffer.from(proto), { authorization: `Bearer ${INGEST}` }, signal as 'traces');
    expect(outcome).toEqual({ ok: true });
    sent.push(Buffer.from(proto));
  }
  await waitFor('everything archived', async () => {
    const { response } = await unary<{ requests: unknown[] }>(apiAddress, insecure, 'otlpcapture.v1.CaptureService', 'ListRequests', {}, { authorization: `Bearer ${READER}` });
    return response?.requests.length === sent.length ? true : undefined;
  });
}, 60_000);

afterAll(async () => {
  await server?.stop(10_000);
  for (const target of [allowed, refusing, oversized, wire]) await target?.close();
  await new Promise((resolve) => forbidden?.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a target outside replay.allowedTargets: PERMISSION_DENIED, and nothing reaches it — not even a connection', async () => {
  const { error, messages } = await replay({ target: forbiddenAddress });
  expect(error?.code).toBe(grpc.status.PERMISSION_DENIED);
  expect(error?.details).toBe(`target "${forbiddenAddress}" is not in replay.allowedTargets`);
  expect(messages).toEqual([]);
  // Same for names that only look like an allowed one.
  const allowedPort = allowed.address.split(':')[1]!;
  for (const lookalike of [`127.0.0.2:${allowedPort}`, `localhost:${allowedPort}`, `127.0.0.1.evil:${allowedPort}`]) {
    expect((await replay({ target: lookalike })).error?.code).toBe(grpc.status.PERMISSION_DENIED);
  }
  // Give a connection that was (wrongly) started time to arrive.
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(forbiddenConnections).toBe(0);
  expect(allowed.attempts).toEqual([]);
});

test('a target inside it receives every request, byte-identical', async () => {
  const { error, messages } = await replay({ target: allowed.address });
  expect(error).toBeNull();
  expect(messages.at(-1)).toMatchObject({ done: true, delivered: true, failed: '0', error: '', requests_total: String(sent.length), requests_sent: String(sent.length) });
  expect(allowed.accepted.map((a) => sha(a.bytes)).sort()).toEqual(sent.map(sha).sort());
});

test("a target's refusal reaches the caller as a class and a count, never as the target's own text", async () => {
  const { error, messages } = await replay({ target: refusing.address, signal: 'SIGNAL_LOGS' });
  expect(error).toBeNull();
  const last = messages.at(-1)!;
  expect(last).toMatchObject({ done: true, delivered: false, failed: '1' });
  expect(last.error).toMatch(/^logs request [0-9A-Z]{26} was not delivered: the target answered "refused" \(1 attempt\)$/);
  expect(JSON.stringify(messages)).not.toMatch(/acme-prod|ingest-gw-3|internal:4317|PERMISSION_DENIED/);
  expect(refusing.attempts).toHaveLength(1);
});

test("a target's oversized answer is not taken: the request counts as refused", async () => {
  const { error, messages } = await replay({ target: `127.0.0.1:${oversized.address.split(':')[1]}`, signal: 'SIGNAL_METRICS' });
  expect(error).toBeNull();
  expect(messages.at(-1)).toMatchObject({ done: true, delivered: false, failed: '1', error: expect.stringMatching(/the target answered "refused" \(1 attempt\)$/) });
  expect(oversized.attempts).toHaveLength(1);
});

test('a dry run without a target selects and counts, and connects nowhere', async () => {
  const { error, messages } = await replay({ dry_run: true });
  expect(error).toBeNull();
  expect(messages.at(-1)).toMatchObject({ done: true, requests_total: String(sent.length), requests_sent: '0' });
});

test('compression gzip: every Export travels gzip\'d and decompresses to the archived bytes; an unknown codec is INVALID_ARGUMENT', async () => {
  // A -bin header's base64 value travels as those bytes; one that is not base64 is refused without being echoed.
  const probe = Buffer.from([9, 8, 7, 0xff]);
  const badHeader = await replay({ target: wire.address, headers: { 'x-probe-bin': 'secret-not-base64!' } });
  expect(badHeader.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(badHeader.error?.details).toMatch(/^headers\["x-probe-bin"\] is not valid gRPC metadata: .*base64 for a key ending in -bin \(the value is not shown\)$/);
  expect(wire.arrivals).toEqual([]);
  const { error, messages } = await replay({ target: wire.address, compression: 'gzip', headers: { 'x-probe-bin': probe.toString('base64') } });
  expect(error).toBeNull();
  expect(messages.at(-1)).toMatchObject({ done: true, delivered: true, requests_sent: String(sent.length) });
  expect(wire.arrivals.map((a) => [a.encoding, a.compressed])).toEqual(sent.map(() => ['gzip', true]));
  expect(wire.arrivals.map((a) => sha(a.bytes)).sort()).toEqual(sent.map(sha).sort());
  for (const arrival of wire.arrivals) expect(Buffer.from(arrival.headers['x-probe-bin']!, 'base64')).toEqual(probe);
  const refused = await replay({ target: wire.address, compression: 'zstd' });
  expect(refused.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(refused.error?.details).toBe('compression must be none or gzip: not "zstd"');
  expect(wire.arrivals).toHaveLength(sent.length);
});
