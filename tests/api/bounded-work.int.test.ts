// Work on the API listener is bounded outside the ingest budget: a FindTrace answer larger than
// server.api.maxFindTraceBytes is RESOURCE_EXHAUSTED with a message saying how to narrow it; replays beyond
// server.api.maxConcurrentReplays, and OTLP-JSON GetRequests / FindTraces beyond server.api.maxConcurrentReads, are
// refused at once with UNAVAILABLE + RetryInfo naming the limit — while plain protobuf GetRequests are not limited.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CaptureServer } from '../../src/app/capture-server.js';
import { loadConfig } from '../../src/config/load.js';
import { otlpServiceDefinition } from '../../src/grpc/otlp-services.js';
import { decodeRetryDelayMs } from '../../src/grpc/rpc-status.js';
import { SIGNALS } from '../../src/model.js';
import { requestType } from '../../src/otlp/proto-root.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { grpcExport, serverStream, unary } from '../helpers/grpc-calls.js';
import { traceRequestOfSize } from '../helpers/otlp-payloads.js';
import { waitFor } from '../helpers/wait.js';
import { LOOPBACK_LISTENERS } from '../helpers/loopback-listeners.js';

const insecure = grpc.credentials.createInsecure();
const CAPTURE = 'otlpcapture.v1.CaptureService' as const;
const BIG_TRACE = 'aa'.repeat(16);
const SMALL_TRACE = 'bb'.repeat(16);
const BIG_TRACE_SPANS = 8;

let dir: string;
let server: CaptureServer;
let apiAddress: string;
let slowTarget: grpc.Server;
let slowAddress: string;
let slowArrivals = 0;
let bigRequestId = '';

/** One span of `traceId` with ~1 KiB of attributes. */
function spanRequest(traceId: string, n: number): Buffer {
  const type = requestType('traces');
  const start = BigInt(Date.UTC(2026, 0, 1)) * 1_000_000n + BigInt(n) * 1000n;
  const spanId = Buffer.alloc(8);
  spanId.writeUInt32BE(n + 1, 4);
  return Buffer.from(
    type
      .encode(
        type.fromObject({
          resourceSpans: [{
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bounded' } }] },
            scopeSpans: [{
              spans: [{
                traceId: Buffer.from(traceId, 'hex'),
                spanId,
                name: `span-${n}`,
                startTimeUnixNano: start.toString(),
                endTimeUnixNano: (start + 1000n).toString(),
                attributes: [{ key: 'padding', value: { stringValue: 'p'.repeat(1000) } }],
              }],
            }],
          }],
        }),
      )
      .finish(),
  );
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bounded-work-'));
  // A replay target that takes its time over each Export, so a replay stays running.
  slowTarget = new grpc.Server();
  for (const signal of SIGNALS) {
    slowTarget.addService(otlpServiceDefinition(signal), {
      Export: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        slowArrivals += 1;
        setTimeout(() => callback(null, Buffer.alloc(0)), 300);
      },
    });
  }
  const port = await new Promise<number>((resolve, reject) =>
    slowTarget.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  slowAddress = `127.0.0.1:${port}`;
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: path.join(dir, 'data'),
      ...LOOPBACK_LISTENERS,
      'server.api.maxFindTraceBytes': '4KiB',
      'server.api.maxConcurrentReplays': 1,
      'server.api.maxConcurrentReads': 1,
      'replay.allowedTargets': [slowAddress],
      'archiver.maxObjectAge': '200ms',
      'spool.durability': 'none',
      'log.level': 'silent',
    },
  });
  server = new CaptureServer(config, silentLogger());
  const ports = await server.start();
  apiAddress = `127.0.0.1:${ports.api}`;
  const grpcAddress = `127.0.0.1:${ports.grpc}`;
  const requests = [
    ...Array.from({ length: BIG_TRACE_SPANS }, (_, n) => spanRequest(BIG_TRACE, n)),
    spanRequest(SMALL_TRACE, 100),
    // Its JSON stays under the test client's 4 MiB receive limit, and takes a moment to build.
    Buffer.from(traceRequestOfSize(2 ** 20, 7).proto),
  ];
  for (const request of requests) expect(await grpcExport(grpcAddress, insecure, request)).toEqual({ ok: true });
  const rows = await waitFor('everything archived', async () => {
    const { response } = await unary<{ requests: { id: string; bytes: string }[] }>(apiAddress, insecure, CAPTURE, 'ListRequests', {});
    return response?.requests.length === requests.length ? response.requests : undefined;
  });
  bigRequestId = rows.find((row) => Number(row.bytes) > 2 ** 19)!.id;
}, 60_000);

afterAll(async () => {
  await server?.stop(10_000);
  slowTarget?.forceShutdown();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('FindTrace over maxFindTraceBytes: RESOURCE_EXHAUSTED (final), saying how to narrow it and naming the requests to fetch instead', async () => {
  const { error } = await unary(apiAddress, insecure, CAPTURE, 'FindTrace', { trace_id: BIG_TRACE });
  expect(error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  expect(error?.details).toMatch(
    new RegExp(`^trace ${BIG_TRACE} holds more than 4096 bytes of spans, the most one answer carries: narrow it to one tenant \\(the tenant field, --tenant\\), or fetch the ${BIG_TRACE_SPANS} requests that hold it one by one \\(GetRequest\\): [0-9A-Z]{26}(, [0-9A-Z]{26}){${BIG_TRACE_SPANS - 1}}$`),
  );
  expect(decodeRetryDelayMs(error!.metadata)).toBeNull();
  // The ids it names are fetchable, one by one.
  const firstId = /: ([0-9A-Z]{26})/.exec(error!.details)![1]!;
  expect((await unary(apiAddress, insecure, CAPTURE, 'GetRequest', { id: firstId })).error).toBeNull();
  // A trace within the limit is answered.
  const small = await unary<{ spans: string }>(apiAddress, insecure, CAPTURE, 'FindTrace', { trace_id: SMALL_TRACE });
  expect(small.error).toBeNull();
  expect(small.response.spans).toBe('1');
});

test('a replay beyond maxConcurrentReplays is refused at once, retryable, naming the limit; after the first ends another may run', async () => {
  const first = serverStream<{ done: boolean; delivered: boolean }>(apiAddress, insecure, CAPTURE, 'Replay', { target: slowAddress });
  // The first is running once its target has an Export.
  await waitFor('the first replay to reach its target', async () => (slowArrivals > 0 ? true : undefined));
  const second = await serverStream(apiAddress, insecure, CAPTURE, 'Replay', { target: slowAddress });
  expect(second.error?.code).toBe(grpc.status.UNAVAILABLE);
  expect(second.error?.details).toBe('too many replays at once: at most 1 run at a time on this listener (server.api.maxConcurrentReplays); retry later');
  expect(decodeRetryDelayMs(second.error!.metadata)).toBe(1000);
  const done = await first;
  expect(done.error).toBeNull();
  expect(done.messages.at(-1)).toMatchObject({ done: true, delivered: true });
  const third = await serverStream<{ done: boolean }>(apiAddress, insecure, CAPTURE, 'Replay', { dry_run: true });
  expect(third.error).toBeNull();
}, 30_000);

test('OTLP-JSON GetRequests beyond maxConcurrentReads are refused at once; protobuf GetRequests are not limited', async () => {
  const json = await Promise.all(Array.from({ length: 8 }, () => unary(apiAddress, insecure, CAPTURE, 'GetRequest', { id: bigRequestId, format: 'FORMAT_JSON' })));
  const refused = json.filter((call) => call.error !== null);
  expect(refused.length).toBeGreaterThan(0);
  expect(json.length - refused.length).toBeGreaterThan(0);
  for (const call of refused) {
    expect(call.error!.code).toBe(grpc.status.UNAVAILABLE);
    expect(call.error!.details).toBe('too many FindTrace and GetRequest-as-JSON calls at once: at most 1 run at a time on this listener (server.api.maxConcurrentReads); retry later');
  }
  const proto = await Promise.all(Array.from({ length: 8 }, () => unary(apiAddress, insecure, CAPTURE, 'GetRequest', { id: bigRequestId, format: 'FORMAT_PROTO' })));
  expect(proto.every((call) => call.error === null)).toBe(true);
}, 30_000);
