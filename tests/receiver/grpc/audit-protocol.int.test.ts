// Audit of the OTLP listener's gRPC-over-HTTP/2 handling (grpc/grpc doc/PROTOCOL-HTTP2.md, statuscodes.md): deadlines
// of every length, request cardinality on the grpc-js-style routes, and body shapes real stacks send (a message over
// many DATA frames, an empty DATA frame carrying END_STREAM, a cancel mid-body). Raw node:http2 clients for what
// grpc-js would not send, grpc-js for normal calls.
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_DIR } from '../../../src/protos.js';
import { readArchive } from '../../helpers/archive-reader.js';
import { startCaptureInProcess, type InProcessCapture } from '../../helpers/capture-in-process.js';
import { EXPORT_TRACES_PATH, frame, grpcHeaders, rawCall, type RawAnswer } from '../../helpers/raw-grpc-call.js';
import { uniqueTraceRequest } from '../../helpers/small-requests.js';

const HEALTH_CHECK = '/grpc.health.v1.Health/Check';
const REFLECTION = '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo';
/** ServerReflectionRequest { list_services: "" } (field 7, length-delimited). */
const LIST_SERVICES = Buffer.from([0x3a, 0x00]);
const DAY_MS = 86_400_000;

let capture: InProcessCapture;
let session: http2.ClientHttp2Session;
const stored: Buffer[] = [];

beforeAll(async () => {
  capture = await startCaptureInProcess({ 'archiver.maxObjectAge': '200ms' });
  session = http2.connect(`http://${capture.grpcAddress}`);
});

afterAll(async () => {
  session?.close();
  await capture?.dispose();
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** The answer, or null when the stream is still open after `ms`. */
async function within(ms: number, answer: Promise<RawAnswer>): Promise<RawAnswer | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([answer, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${capture.adminPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ').pop() ?? NaN);
}

test('a Watch with a 30-day deadline (grpc-go writes "2592000S") stays open; a 300 ms one ends DEADLINE_EXCEEDED', async () => {
  const definition = protoLoader.loadSync('grpc/health/v1/health.proto', { includeDirs: [PROTO_DIR], keepCase: true, enums: String, defaults: true });
  const Health = grpc.makeGenericClientConstructor(definition['grpc.health.v1.Health'] as grpc.ServiceDefinition, 'Health');
  const client = new Health(capture.grpcAddress, grpc.credentials.createInsecure());
  const watch = (deadline: number) => {
    const call = client.makeServerStreamRequest('/grpc.health.v1.Health/Watch', () => Buffer.alloc(0), (b: Buffer) => b, {}, { deadline });
    const seen = { messages: 0, code: null as number | null };
    call.on('data', () => (seen.messages += 1));
    call.on('error', (error: grpc.ServiceError) => (seen.code = error.code));
    return { call, seen };
  };
  try {
    // HealthCheckRequest { service: "" } is the empty message.
    const long = watch(Date.now() + 30 * DAY_MS);
    const short = watch(Date.now() + 300);
    await sleep(800);
    expect(long.seen).toEqual({ messages: 1, code: null });
    expect(short.seen).toEqual({ messages: 1, code: grpc.status.DEADLINE_EXCEEDED });
    long.call.cancel();
  } finally {
    client.close();
  }
});

test('the deadline holds on Export: a body that stalls gets DEADLINE_EXCEEDED at the deadline and gives its room back', async () => {
  const message = frame(uniqueTraceRequest(100, 3000));
  const began = Date.now();
  // The client never finishes the body nor resets the stream: only the server's deadline can end the call.
  const answer = await within(3000, rawCall(session, grpcHeaders(EXPORT_TRACES_PATH, { 'grpc-timeout': '300m' }), message.subarray(0, 100), { keepOpen: true }));
  expect(answer).not.toBeNull();
  expect(Date.now() - began).toBeGreaterThanOrEqual(290);
  expect(answer!.headers).toMatchObject({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '4' });
  expect(answer!.grpcMessage).toMatch(/deadline/);
  expect(answer!.trailers).toBeNull();
  expect(answer!.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
  expect(await metric('otlpcapture_inflight_bytes')).toBe(0);
  // A deadline the request meets changes nothing.
  const inTime = uniqueTraceRequest(101, 500);
  expect((await rawCall(session, grpcHeaders(EXPORT_TRACES_PATH, { 'grpc-timeout': '5S' }), frame(inTime))).grpcStatus).toBe(0);
  stored.push(inTime);
});

test('two request messages for a unary grpc-js-style method (health Check): UNIMPLEMENTED saying so', async () => {
  const two = await rawCall(session, grpcHeaders(HEALTH_CHECK), Buffer.concat([frame(Buffer.alloc(0)), frame(Buffer.alloc(0))]));
  expect(two.grpcStatus).toBe(grpc.status.UNIMPLEMENTED);
  expect(two.grpcMessage).toMatch(/second request message/);
  const none = await rawCall(session, grpcHeaders(HEALTH_CHECK), null);
  expect(none.grpcStatus).toBe(grpc.status.UNIMPLEMENTED);
  expect(none.grpcMessage).toMatch(/no request message/);
});

test('a message over many DATA frames, and one followed later by an empty DATA frame with END_STREAM, are stored', async () => {
  const split = uniqueTraceRequest(102, 3000);
  const framed = frame(split);
  const manyFrames = await rawCall(session, grpcHeaders(EXPORT_TRACES_PATH, { 'content-type': 'application/grpc+proto' }), null, {
    keepOpen: true,
    onStream: async (s) => {
      for (let at = 0; at < framed.length; at += 97) {
        s.write(framed.subarray(at, at + 97));
        await sleep(1);
      }
      s.end();
    },
  });
  expect(manyFrames.grpcStatus).toBe(0);
  stored.push(split);
  const late = uniqueTraceRequest(103, 500);
  const lateEnd = await rawCall(session, grpcHeaders(EXPORT_TRACES_PATH), null, {
    keepOpen: true,
    onStream: async (s) => {
      s.write(frame(late));
      await sleep(50);
      s.end();
    },
  });
  expect(lateEnd.grpcStatus).toBe(0);
  expect(lateEnd.body).toEqual(Buffer.from([0, 0, 0, 0, 0]));
  stored.push(late);
});

test('a length prefix larger than the body, or a compressed flag under grpc-encoding identity: INTERNAL, not stored', async () => {
  const short = frame(uniqueTraceRequest(104));
  short.writeUInt32BE(short.length, 1);
  const truncated = await rawCall(session, grpcHeaders(EXPORT_TRACES_PATH), short);
  expect(truncated.grpcStatus).toBe(grpc.status.INTERNAL);
  expect(truncated.grpcMessage).toMatch(/ended inside a message/);
  const identity = await rawCall(session, grpcHeaders(EXPORT_TRACES_PATH, { 'grpc-encoding': 'identity' }), frame(uniqueTraceRequest(105), true));
  expect(identity.grpcStatus).toBe(grpc.status.INTERNAL);
});

test('a client cancelling mid-body stores nothing and the connection goes on serving', async () => {
  const partial = frame(uniqueTraceRequest(106, 3000)).subarray(0, 1000);
  const cancelled = await rawCall(session, grpcHeaders(EXPORT_TRACES_PATH), partial, {
    keepOpen: true,
    onStream: (s) => setTimeout(() => s.close(http2.constants.NGHTTP2_CANCEL), 50),
  });
  expect(cancelled.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
  const after = uniqueTraceRequest(107, 500);
  expect((await rawCall(session, grpcHeaders(EXPORT_TRACES_PATH), frame(after))).grpcStatus).toBe(0);
  stored.push(after);
  expect(await metric('otlpcapture_inflight_bytes')).toBe(0);
});

test('after an unknown method and an oversized header block, health and reflection answer on the same connection', async () => {
  expect((await rawCall(session, grpcHeaders('/no.Such/Method'), frame(Buffer.alloc(0)))).grpcStatus).toBe(grpc.status.UNIMPLEMENTED);
  const huge = await rawCall(session, grpcHeaders(HEALTH_CHECK, { 'x-huge': 'a'.repeat(40_000) }), frame(Buffer.alloc(0)));
  expect(huge.grpcStatus).toBeNull();
  expect(huge.rstCode).not.toBe(http2.constants.NGHTTP2_NO_ERROR);
  const health = await rawCall(session, grpcHeaders(HEALTH_CHECK, { 'x-trace-bin': 'AQID', 'x-two-bin': 'AQI=,AQ' }), frame(Buffer.alloc(0)));
  expect(health.grpcStatus).toBe(0);
  expect(health.body).toEqual(Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01])); // SERVING
  const reflection = await rawCall(session, grpcHeaders(REFLECTION), frame(LIST_SERVICES));
  expect(reflection.grpcStatus).toBe(0);
  expect(reflection.body.toString('latin1')).toContain('opentelemetry.proto.collector.trace.v1.TraceService');
  expect(session.closed || session.destroyed).toBe(false);
});

test('exactly the acknowledged Exports were stored', async () => {
  await capture.stop();
  const archive = await readArchive(capture.dataDir);
  expect(archive.map((entry) => entry.bytes.toString('hex')).sort()).toEqual(stored.map((b) => b.toString('hex')).sort());
});
