// The request body's idle timeout is slowloris protection: a client that stops sending mid-message must be cut after
// idleTimeoutMs whatever the wall clock does meanwhile, and a body still flowing must not be cut because the clock
// jumped. Real HTTP/2 on loopback; the test steps the wall clock (Date.now) the way NTP or `date` would, in this
// process only, and puts it back after.
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { CallFailure, UnaryBody } from '../../../src/receiver/grpc/unary-body.js';

const HOUR_MS = 3_600_000;
const realNow = Date.now;

let server: http2.Http2Server;
let client: http2.ClientHttp2Session;
/** Each test's server-side handler for the one stream it opens. */
let onStream: (stream: http2.ServerHttp2Stream) => void;

beforeEach(async () => {
  server = http2.createServer();
  server.on('stream', (stream) => onStream(stream));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});

afterEach(async () => {
  Date.now = realNow;
  client.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function stepWallClock(byMs: number): void {
  Date.now = () => realNow() + byMs;
}

/** The 5-byte gRPC message header: not compressed, `length` bytes to follow. */
function frameHeader(length: number): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(length, 1);
  return header;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens a stream whose server side reads its header, then the message with `idleTimeoutMs`. */
function openCall(idleTimeoutMs: number): { request: http2.ClientHttp2Stream; reading: Promise<{ message: Promise<Buffer> }> } {
  // Wrapped: a promise resolved with a promise would wait for the whole message, not only for the read to begin.
  const reading = new Promise<{ message: Promise<Buffer> }>((resolve) => {
    onStream = (stream) => {
      stream.on('error', () => undefined);
      const body = new UnaryBody(stream, 1 << 20);
      void body.header(5000).then(() => {
        const message = body.message(idleTimeoutMs).then((m) => m.bytes);
        message.catch(() => undefined);
        resolve({ message });
      });
    };
  });
  const request = client.request({ ':method': 'POST', ':path': '/test.Service/Export', 'content-type': 'application/grpc' });
  request.on('error', () => undefined);
  return { request, reading };
}

test('a stalled body is still cut by its idle timeout after the wall clock steps back an hour', async () => {
  const { request, reading } = openCall(300);
  request.write(Buffer.concat([frameHeader(100), Buffer.alloc(10, 1)]));
  const { message } = await reading;
  stepWallClock(-HOUR_MS);
  const started = performance.now();
  let giveUp: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    message.then(() => 'message', (error: unknown) => error),
    new Promise((resolve) => (giveUp = setTimeout(() => resolve('still waiting'), 3000))),
  ]);
  clearTimeout(giveUp);
  expect(outcome).toBeInstanceOf(CallFailure);
  expect((outcome as CallFailure).kind).toBe('timeout');
  expect((outcome as CallFailure).message).toMatch(/no data for 300 ms/);
  // Cut at about the idle timeout, not an hour (or 3 s) later.
  expect(performance.now() - started).toBeLessThan(1500);
});

test('a body still flowing is not cut as idle when the wall clock steps forward an hour', async () => {
  const { request, reading } = openCall(400);
  const chunks = Array.from({ length: 4 }, (_, i) => Buffer.alloc(25, i + 1));
  request.write(Buffer.concat([frameHeader(100), chunks[0]!]));
  const { message } = await reading;
  stepWallClock(HOUR_MS);
  for (const chunk of chunks.slice(1)) {
    // Longer than the idle check's interval (idleTimeoutMs / 4), shorter than the idle timeout.
    await sleep(150);
    request.write(chunk);
  }
  request.end();
  expect((await message).equals(Buffer.concat(chunks))).toBe(true);
});
