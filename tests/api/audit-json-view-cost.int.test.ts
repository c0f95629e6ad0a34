// What a JSON view costs is in the request's item count, not its bytes: protobufjs makes an object per span (or
// attribute, log record), ~1.4 KiB of heap and ~16 µs each. Measured before the bound: GetRequest FORMAT_JSON of one
// 63 MiB request of 1.38 M minimal spans held serve's event loop 23 s (health checks and ingest waited it out), took
// RSS to 2.1 GB, and then failed anyway (the text, 216 MB, is over the send limit). Now a JSON view is refused above
// DEFAULT_MAX_JSON_VIEW_BYTES of protobuf, before anything is read, and the ones below it are made off the event loop.
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { DEFAULT_MAX_JSON_VIEW_BYTES } from '../../src/api/api-server.js';
import { PROTO_DIR } from '../../src/protos.js';
import { grpcExport } from '../helpers/grpc-calls.js';
import { startCaptureInProcess, type InProcessCapture } from '../helpers/capture-in-process.js';

const insecure = grpc.credentials.createInsecure();
const LIMIT = DEFAULT_MAX_JSON_VIEW_BYTES;

let capture: InProcessCapture;
let api: grpc.Client & Record<string, Function>;
let adminPort: number;
let grpcAddress: string;

/** An ExportTraceServiceRequest of ~`bytes` of minimal spans (ids and times only: 48 bytes each) over `traces` traces. */
function minimalSpans(bytes: number, traces: number): { proto: Buffer; spans: number } {
  const SPAN = 48;
  const spans = Math.floor((bytes - 64) / SPAN);
  const body = Buffer.alloc(spans * SPAN);
  const t0 = BigInt(Date.UTC(2026, 0, 1)) * 1_000_000n;
  for (let i = 0; i < spans; i++) {
    const o = i * SPAN;
    body.set([0x12, 46, 0x0a, 16], o); // ScopeSpans.spans, Span.trace_id
    body.fill(0xab, o + 4, o + 16);
    body.writeUInt32BE(i % traces, o + 16);
    body.set([0x12, 8], o + 20); // Span.span_id
    body.writeUInt32BE(i + 1, o + 26);
    body[o + 30] = 0x39; // start_time_unix_nano
    body.writeBigUInt64LE(t0, o + 31);
    body[o + 39] = 0x41; // end_time_unix_nano
    body.writeBigUInt64LE(t0 + 1000n, o + 40);
  }
  const scopeSpans = Buffer.concat([Buffer.from([0x12]), varint(body.length), body]);
  const resourceSpans = Buffer.concat([Buffer.from([0x0a]), varint(scopeSpans.length), scopeSpans]);
  return { proto: resourceSpans, spans };
}

function varint(value: number): Buffer {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
  return Buffer.from(out);
}

function call<T>(method: string, request: object): Promise<{ error: grpc.ServiceError | null; response: T }> {
  return new Promise((resolve) => api[method]!(request, (error: grpc.ServiceError | null, response: T) => resolve({ error, response })));
}

function healthz(): Promise<number> {
  return new Promise((resolve, reject) =>
    http.get({ host: '127.0.0.1', port: adminPort, path: '/healthz' }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    }).on('error', reject),
  );
}

async function idOfRequestWith(items: number): Promise<string> {
  const { error, response } = await call<{ requests: { id: string; items: string }[] }>('ListRequests', { page_size: 100 });
  expect(error).toBeNull();
  const row = response.requests.find((request) => Number(request.items) === items);
  expect(row).toBeDefined();
  return row!.id;
}

beforeAll(async () => {
  capture = await startCaptureInProcess();
  adminPort = capture.adminPort;
  grpcAddress = capture.grpcAddress;
  const definition = protoLoader.loadSync('otlpcapture/v1/capture.proto', { includeDirs: [PROTO_DIR], longs: String, enums: String, defaults: true, keepCase: true });
  const Client = grpc.makeGenericClientConstructor(definition['otlpcapture.v1.CaptureService'] as grpc.ServiceDefinition, 'CaptureService');
  api = new Client(capture.apiAddress, insecure, { 'grpc.max_receive_message_length': -1 }) as unknown as grpc.Client & Record<string, Function>;
}, 30_000);

afterAll(async () => {
  api?.close();
  await capture?.dispose();
});

test('GetRequest as JSON of a request over the bound: RESOURCE_EXHAUSTED naming the setting and FORMAT_PROTO; protobuf still served', async () => {
  const big = minimalSpans(LIMIT + 2 ** 20, 1000);
  expect(await grpcExport(grpcAddress, insecure, big.proto)).toEqual({ ok: true });
  const id = await idOfRequestWith(big.spans);

  const started = performance.now();
  const { error } = await call('GetRequest', { id, format: 'FORMAT_JSON' });
  expect(error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  expect(error?.details).toContain(`request ${id} is ${big.proto.length} bytes of protobuf (${big.spans} spans)`);
  expect(error?.details).toContain(`at most ${LIMIT} bytes (server.api.maxJsonViewBytes)`);
  expect(error?.details).toContain('FORMAT_PROTO');
  // Refused from the index row, before the request is read or decoded.
  expect(performance.now() - started).toBeLessThan(1000);

  const proto = await call<{ payload: Buffer }>('GetRequest', { id, format: 'FORMAT_PROTO' });
  expect(proto.error).toBeNull();
  expect(Buffer.compare(proto.response.payload, big.proto)).toBe(0);
  expect(await healthz()).toBe(200);
}, 30_000);

test('a JSON view under the bound is made off the event loop: health answers while it is converting, and the view is whole', async () => {
  // ~75,000 spans: about a second of conversion, which on the event loop would hold the health check back until done.
  const request = minimalSpans(3.5 * 2 ** 20, 500);
  expect(await grpcExport(grpcAddress, insecure, request.proto)).toEqual({ ok: true });
  const id = await idOfRequestWith(request.spans);

  // Health is asked every 20 ms while the view is made: each answer waits for whatever holds the event loop.
  let viewing = true;
  let slowestHealthMs = 0;
  let healthAnswers = 0;
  const probing = (async () => {
    while (viewing) {
      const asked = performance.now();
      expect(await healthz()).toBe(200);
      slowestHealthMs = Math.max(slowestHealthMs, performance.now() - asked);
      healthAnswers += 1;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const started = performance.now();
  const { error, response } = await call<{ json: string }>('GetRequest', { id, format: 'FORMAT_JSON' });
  const viewMs = performance.now() - started;
  viewing = false;
  await probing;
  expect(error).toBeNull();
  // The conversion took long enough to matter, and no health check waited anywhere near that long (on the event loop
  // one waited ~all of it: 1.2 s of a 1.3 s view, measured before the change).
  expect(viewMs).toBeGreaterThan(600);
  expect(healthAnswers).toBeGreaterThan(5);
  expect(slowestHealthMs).toBeLessThan(viewMs / 3);
  const json = JSON.parse(response.json) as { resourceSpans: { scopeSpans: { spans: { traceId: string }[] }[] }[] };
  const spans = json.resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans));
  expect(spans).toHaveLength(request.spans);
  expect(spans[7]!.traceId).toBe(`${'ab'.repeat(12)}00000007`);
}, 30_000);
