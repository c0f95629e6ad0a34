// gRPC over HTTP/2 as the OTLP listener speaks it, seen from a raw node:http2 client: request validation, statuses
// and their encoding, message framing and limits, and how refusals end a stream (Trailers-Only, then
// RST_STREAM(NO_ERROR) so the client stops sending the body).
import http2 from 'node:http2';
import { deflateSync, gzipSync } from 'node:zlib';
import { readArchive } from '../../helpers/archive-reader.js';
import { startCaptureInProcess, type InProcessCapture } from '../../helpers/capture-in-process.js';
import { EXPORT_TRACES_PATH, frame, grpcHeaders, rawCall } from '../../helpers/raw-grpc-call.js';
import { uniqueTraceRequest } from '../../helpers/small-requests.js';

const TOKEN = 'protocol-test-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const LIMIT = 1024 * 1024;

let capture: InProcessCapture;
let session: http2.ClientHttp2Session;
const stored: Buffer[] = [];

beforeAll(async () => {
  capture = await startCaptureInProcess({
    'auth.bearerTokens': [{ token: TOKEN }],
    'server.grpc.maxReceiveBytes': LIMIT,
    'archiver.maxObjectAge': '200ms',
  });
  session = http2.connect(`http://${capture.grpcAddress}`);
});

afterAll(async () => {
  session?.close();
  await capture?.dispose();
});

const exportCall = (body: Buffer | null, extra: http2.OutgoingHttpHeaders = {}) =>
  rawCall(session, grpcHeaders(EXPORT_TRACES_PATH, { ...AUTH, ...extra }), body);

test('an Export: 200, application/grpc, the encodings it decodes, one empty response message, grpc-status 0', async () => {
  const payload = uniqueTraceRequest(1, 500);
  const answer = await exportCall(frame(payload));
  expect(answer.headers[':status']).toBe(200);
  expect(answer.headers['content-type']).toBe('application/grpc');
  expect(answer.headers['grpc-accept-encoding']).toBe('identity,gzip,deflate,zstd,snappy');
  expect(answer.body).toEqual(Buffer.from([0, 0, 0, 0, 0]));
  expect(answer.trailers).toMatchObject({ 'grpc-status': '0' });
  stored.push(payload);
});

test('gzip and deflate messages are decoded; identity ones may be sent uncompressed in a gzip call', async () => {
  const payloads = [uniqueTraceRequest(2, 4000), uniqueTraceRequest(3, 4000), uniqueTraceRequest(4, 4000)];
  const gzip = await exportCall(frame(gzipSync(payloads[0]!), true), { 'grpc-encoding': 'gzip' });
  const deflate = await exportCall(frame(deflateSync(payloads[1]!), true), { 'grpc-encoding': 'deflate' });
  const plainInGzipCall = await exportCall(frame(payloads[2]!), { 'grpc-encoding': 'gzip' });
  expect([gzip.grpcStatus, deflate.grpcStatus, plainInGzipCall.grpcStatus]).toEqual([0, 0, 0]);
  stored.push(...payloads);
});

test('not application/grpc: HTTP 415 with a gRPC status saying what this port speaks', async () => {
  const answer = await rawCall(session, { ...grpcHeaders(EXPORT_TRACES_PATH, AUTH), 'content-type': 'application/x-protobuf' }, frame(uniqueTraceRequest(90)));
  expect(answer.headers[':status']).toBe(415);
  expect(answer.grpcStatus).toBe(13);
  expect(answer.grpcMessage).toMatch(/application\/grpc/);
});

test('not POST: HTTP 405', async () => {
  const answer = await rawCall(session, { ...grpcHeaders(EXPORT_TRACES_PATH, AUTH), ':method': 'GET' }, null);
  expect(answer.headers[':status']).toBe(405);
  expect(answer.grpcStatus).toBe(12);
});

test('an unknown service or method: UNIMPLEMENTED naming it', async () => {
  for (const path of ['/no.such.Service/Export', '/opentelemetry.proto.collector.trace.v1.TraceService/Import']) {
    const answer = await rawCall(session, grpcHeaders(path, AUTH), frame(Buffer.alloc(0)));
    expect(answer.headers[':status']).toBe(200);
    expect(answer.grpcStatus).toBe(12);
    expect(answer.grpcMessage).toContain(path);
  }
});

test('grpc-message is percent-encoded UTF-8 (non-ASCII and "%"), and decodes to the text', async () => {
  const answer = await exportCall(frame(uniqueTraceRequest(91)), { 'x-scope-orgid': 'tëna%nt' });
  expect(answer.grpcStatus).toBe(3);
  const raw = answer.grpcMessage!;
  expect(raw).toContain('t%C3%ABna%25nt');
  expect(raw).toMatch(/^[\x20-\x7e]*$/);
  expect(decodeURIComponent(raw)).toContain('"tëna%nt"');
});

test('a malformed grpc-timeout is INTERNAL; an unsupported grpc-encoding is UNIMPLEMENTED listing the supported ones', async () => {
  const timeout = await exportCall(frame(uniqueTraceRequest(92)), { 'grpc-timeout': '10 seconds' });
  expect(timeout.grpcStatus).toBe(13);
  expect(timeout.grpcMessage).toMatch(/grpc-timeout/);
  const zstd = await exportCall(frame(uniqueTraceRequest(93), true), { 'grpc-encoding': 'br' });
  expect(zstd.grpcStatus).toBe(12);
  expect(zstd.headers['grpc-accept-encoding']).toBe('identity,gzip,deflate,zstd,snappy');
  expect(zstd.grpcMessage).toMatch(/identity,gzip,deflate,zstd,snappy/);
});

test('a unary call with no message or with two messages: UNIMPLEMENTED; neither is stored', async () => {
  const none = await exportCall(null);
  expect(none.grpcStatus).toBe(12);
  expect(none.grpcMessage).toMatch(/no request message/);
  const two = await exportCall(Buffer.concat([frame(uniqueTraceRequest(94)), frame(uniqueTraceRequest(95))]));
  expect(two.grpcStatus).toBe(12);
  expect(two.grpcMessage).toMatch(/second request message/);
});

test('a message flagged compressed in a call without grpc-encoding, or not valid gzip: INTERNAL', async () => {
  const flagged = await exportCall(frame(uniqueTraceRequest(96), true));
  expect(flagged.grpcStatus).toBe(13);
  const corrupt = await exportCall(frame(Buffer.from('definitely not gzip'), true), { 'grpc-encoding': 'gzip' });
  expect(corrupt.grpcStatus).toBe(13);
  expect(corrupt.grpcMessage).toMatch(/gzip/);
});

test('over the receive limit on the wire: RESOURCE_EXHAUSTED without RetryInfo, answered from the 5-byte prefix', async () => {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(LIMIT + 1, 1);
  // Only the prefix is sent and the stream stays open: the answer cannot have waited for the body.
  const answer = await rawCall(session, grpcHeaders(EXPORT_TRACES_PATH, AUTH), prefix, { keepOpen: true });
  expect(answer.grpcStatus).toBe(8);
  expect(answer.grpcMessage).toMatch(/larger than the limit of 1048576 bytes/);
  expect(answer.headers['grpc-status-details-bin']).toBeUndefined();
  expect(answer.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
});

test('over the receive limit once decompressed (a gzip bomb): RESOURCE_EXHAUSTED without RetryInfo', async () => {
  const bomb = gzipSync(Buffer.alloc(50 * LIMIT));
  expect(bomb.length).toBeLessThan(LIMIT / 4);
  const answer = await exportCall(frame(bomb, true), { 'grpc-encoding': 'gzip' });
  expect(answer.grpcStatus).toBe(8);
  expect(answer.grpcMessage).toMatch(/after gzip decompression/);
  expect({ ...answer.headers, ...answer.trailers }['grpc-status-details-bin']).toBeUndefined();
});

test('refused at the headers: Trailers-Only, then RST_STREAM(NO_ERROR) stops a body the client is still sending', async () => {
  // The client writes most of a 1 MiB message and never ends its side of the stream: only the server's RST_STREAM
  // can close it (rawCall resolves on close).
  const answer = await rawCall(session, grpcHeaders(EXPORT_TRACES_PATH), null, {
    keepOpen: true,
    onStream: (s) => s.write(frame(Buffer.alloc(LIMIT - 5, 7))),
  });
  expect(answer.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
  expect(answer.headers).toMatchObject({ ':status': 200, 'grpc-status': '16', 'content-type': 'application/grpc' });
  expect(answer.trailers).toBeNull();
  // The connection goes on serving.
  const after = uniqueTraceRequest(5, 500);
  expect((await exportCall(frame(after))).grpcStatus).toBe(0);
  stored.push(after);
});

test('300 header-only Exports without a token are answered at their headers and hold nothing; an honest one is served', async () => {
  const sessions = Array.from({ length: 3 }, () => http2.connect(`http://${capture.grpcAddress}`));
  const began = Date.now();
  const anonymous = sessions.flatMap((s) => Array.from({ length: 100 }, () => rawCall(s, grpcHeaders(EXPORT_TRACES_PATH), null, { keepOpen: true })));
  const honestPayload = uniqueTraceRequest(6, 500);
  const honest = await exportCall(frame(honestPayload));
  const honestMs = Date.now() - began;
  const answers = await Promise.all(anonymous);
  expect(answers.every((a) => a.grpcStatus === 16 && a.rstCode === http2.constants.NGHTTP2_NO_ERROR)).toBe(true);
  expect(honest.grpcStatus).toBe(0);
  expect(honestMs).toBeLessThan(5000);
  stored.push(honestPayload);
  const metrics = await (await fetch(`http://127.0.0.1:${capture.adminPort}/metrics`)).text();
  expect(metrics).toMatch(/^otlpcapture_inflight_bytes 0$/m);
  expect(metrics).toMatch(/^otlpcapture_admission_waiting_requests 0$/m);
  expect(metrics).toMatch(/otlpcapture_requests_rejected_total\{signal="traces",reason="unauthenticated"\} 30\d/);
  for (const s of sessions) s.close();
});

test('exactly the acknowledged Exports were stored, decompressed, byte for byte', async () => {
  await capture.stop();
  const archive = await readArchive(capture.dataDir);
  expect(archive.map((entry) => entry.bytes.toString('hex')).sort()).toEqual(stored.map((b) => b.toString('hex')).sort());
});
