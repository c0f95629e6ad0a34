// Transport limits of the OTLP listener: keepalive pings that close dead connections, GOAWAY after idleness and at
// a maximum age (running calls finish within the grace period), and a grpc-js client that keeps exporting across
// those GOAWAYs without losing a request.
import http2 from 'node:http2';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { readArchive } from '../../helpers/archive-reader.js';
import { startCaptureInProcess, type InProcessCapture } from '../../helpers/capture-in-process.js';
import { RawOtlpClient } from '../../helpers/raw-otlp-client.js';
import { EXPORT_TRACES_PATH, frame, grpcHeaders, rawCall } from '../../helpers/raw-grpc-call.js';
import { uniqueTraceRequest } from '../../helpers/small-requests.js';

const running: InProcessCapture[] = [];
afterEach(async () => {
  for (const capture of running.splice(0)) await capture.dispose();
});

async function start(overrides: Record<string, unknown>): Promise<InProcessCapture> {
  const capture = await startCaptureInProcess({ 'archiver.maxObjectAge': '200ms', ...overrides });
  running.push(capture);
  return capture;
}

function whenGoaway(session: http2.ClientHttp2Session): Promise<{ errorCode: number; atMs: number }> {
  const began = Date.now();
  return new Promise((resolve) => session.once('goaway', (errorCode) => resolve({ errorCode, atMs: Date.now() - began })));
}

test('keepalive: a peer that stops answering pings is disconnected; one that answers stays', async () => {
  const capture = await start({ 'server.grpc.keepaliveTime': '200ms', 'server.grpc.keepaliveTimeout': '300ms' });
  const [host, port] = capture.grpcAddress.split(':') as [string, string];
  // A client that speaks just enough HTTP/2 to connect (preface + SETTINGS), then never answers anything.
  const silent = net.connect(Number(port), host);
  silent.on('error', () => undefined);
  silent.resume();
  silent.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
  const live = http2.connect(`http://${capture.grpcAddress}`);
  let liveClosed = false;
  live.on('close', () => (liveClosed = true));
  const began = Date.now();
  await new Promise<void>((resolve) => silent.once('close', () => resolve()));
  const tookMs = Date.now() - began;
  expect(tookMs).toBeGreaterThanOrEqual(400);
  expect(tookMs).toBeLessThan(5000);
  await new Promise((wake) => setTimeout(wake, 600));
  expect(liveClosed).toBe(false);
  expect((await rawCall(live, grpcHeaders('/grpc.health.v1.Health/Check'), frame(Buffer.alloc(0)))).grpcStatus).toBe(0);
  live.close();
});

test('max connection idle: GOAWAY only once no call has been open for that long', async () => {
  const capture = await start({ 'server.grpc.maxConnectionIdle': '400ms' });
  const session = http2.connect(`http://${capture.grpcAddress}`);
  const goaway = whenGoaway(session);
  // A call held open for 800 ms: the connection is not idle meanwhile.
  const held = rawCall(session, grpcHeaders('/grpc.health.v1.Health/Watch'), frame(Buffer.alloc(0)), {
    keepOpen: true,
    onStream: (stream) => setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), 800),
  });
  await held;
  const { errorCode, atMs } = await goaway;
  expect(errorCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
  expect(atMs).toBeGreaterThanOrEqual(800 + 300);
  await new Promise<void>((resolve) => (session.closed ? resolve() : session.once('close', () => resolve())));
});

test('max connection age: GOAWAY at the age; a call running then finishes within the grace period', async () => {
  const capture = await start({
    'server.grpc.maxConnectionAge': '500ms',
    'server.grpc.maxConnectionAgeGrace': '5s',
    'auth.bearerTokens': [],
  });
  const session = http2.connect(`http://${capture.grpcAddress}`);
  const goaway = whenGoaway(session);
  // An Export whose body is still coming when the GOAWAY is sent.
  const payload = uniqueTraceRequest(1, 50_000);
  const body = frame(payload);
  const call = rawCall(session, grpcHeaders(EXPORT_TRACES_PATH), null, {
    keepOpen: true,
    onStream: (stream) => {
      stream.write(body.subarray(0, 1000));
      void goaway.then(() => setTimeout(() => stream.end(body.subarray(1000)), 200));
    },
  });
  const { errorCode, atMs } = await goaway;
  expect(errorCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
  expect(atMs).toBeGreaterThanOrEqual(400);
  expect(atMs).toBeLessThan(3000);
  expect((await call).grpcStatus).toBe(0);
  await new Promise<void>((resolve) => (session.closed ? resolve() : session.once('close', () => resolve())));
  await capture.stop();
  expect((await readArchive(capture.dataDir)).map((entry) => entry.bytes.toString('hex'))).toEqual([payload.toString('hex')]);
});

test('max connection age with a short grace: a call that outlives it is cut', async () => {
  const capture = await start({ 'server.grpc.maxConnectionAge': '300ms', 'server.grpc.maxConnectionAgeGrace': '300ms' });
  const session = http2.connect(`http://${capture.grpcAddress}`);
  session.on('error', () => undefined);
  const began = Date.now();
  const watch = await rawCall(session, grpcHeaders('/grpc.health.v1.Health/Watch'), frame(Buffer.alloc(0)), { keepOpen: true });
  expect(Date.now() - began).toBeLessThan(3000);
  expect(watch.trailers).toBeNull(); // cut, not finished
});

test('a grpc-js client exporting through repeated max-age GOAWAYs reconnects and loses nothing', async () => {
  const capture = await start({ 'server.grpc.maxConnectionAge': '300ms', 'server.grpc.maxConnectionAgeGrace': '2s' });
  const client = new RawOtlpClient(capture.grpcAddress);
  const sent: Buffer[] = [];
  const failures: string[] = [];
  try {
    const until = Date.now() + 2500;
    // Four exporters on the one grpc-js channel, as a Collector's consumers share a connection.
    await Promise.all(Array.from({ length: 4 }, async (_, worker) => {
      for (let n = 0; Date.now() < until; n++) {
        const payload = uniqueTraceRequest(worker * 10_000 + n, 2000);
        const outcome = await client.export('traces', payload);
        if (outcome.ok) sent.push(payload);
        else failures.push(`${grpc.status[outcome.code]}: ${outcome.details}`);
      }
    }));
  } finally {
    client.close();
  }
  expect(failures).toEqual([]);
  expect(sent.length).toBeGreaterThan(20);
  await capture.stop();
  const archived = (await readArchive(capture.dataDir)).map((entry) => entry.bytes.toString('hex')).sort();
  expect(archived).toEqual(sent.map((b) => b.toString('hex')).sort());
});

test('refused calls give their place among the concurrent streams back, even with their body unread', async () => {
  const capture = await start({
    'server.grpc.maxConcurrentStreams': 5,
    'admission.maxInFlightBytes': '64KiB',
    'admission.maxWait': '100ms',
  });
  const session = http2.connect(`http://${capture.grpcAddress}`);
  // One call holds the budget (admitted, its body half sent); the others wait for room with ~60 KiB of body each
  // sitting unread in their stream windows, and are refused when their wait is over.
  const holderBody = Buffer.alloc(5 + 100_000);
  holderBody.writeUInt32BE(200_000, 1);
  let holder: http2.ClientHttp2Stream | undefined;
  const held = rawCall(session, grpcHeaders(EXPORT_TRACES_PATH), holderBody, { keepOpen: true, onStream: (s) => (holder = s) });
  const waiting = Buffer.alloc(5 + 60 * 1024);
  waiting.writeUInt32BE(100_000, 1);
  // Ten times the connection's stream limit, four at a time.
  for (let round = 0; round < 10; round++) {
    const answers = await Promise.all(Array.from({ length: 4 }, () => rawCall(session, grpcHeaders(EXPORT_TRACES_PATH), waiting, { keepOpen: true })));
    expect(answers.map((a) => a.grpcStatus)).toEqual([14, 14, 14, 14]);
  }
  holder!.close(http2.constants.NGHTTP2_CANCEL);
  await held;
  const payload = uniqueTraceRequest(7, 1000);
  expect((await rawCall(session, grpcHeaders(EXPORT_TRACES_PATH), frame(payload))).grpcStatus).toBe(0);
  session.close();
});
