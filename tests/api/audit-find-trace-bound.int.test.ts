// FindTrace on serve bounds what it reads, not only what it answers: the requests holding the trace may add up to at
// most 64 × server.api.maxFindTraceBytes, checked from the index before any read, with a refusal naming that bound.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CaptureServer } from '../../src/app/capture-server.js';
import { loadConfig } from '../../src/config/load.js';
import { requestType } from '../../src/otlp/proto-root.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { grpcExport, unary } from '../helpers/grpc-calls.js';
import { LOOPBACK_LISTENERS } from '../helpers/loopback-listeners.js';

const insecure = grpc.credentials.createInsecure();
const CAPTURE = 'otlpcapture.v1.CaptureService' as const;
const TRACE = 'cd'.repeat(16);
const OTHER = 'ef'.repeat(16);

let dir: string;
let server: CaptureServer;
let apiAddress: string;
let grpcAddress: string;

/** One span of TRACE beside `padding` spans of another trace (~1 KiB each): a small answer in a large request. */
function request(n: number, padding: number): Buffer {
  const type = requestType('traces');
  const span = (traceId: string, i: number) => ({
    traceId: Buffer.from(traceId, 'hex'),
    spanId: Buffer.from((n * 1000 + i + 1).toString(16).padStart(16, '0'), 'hex'),
    name: 's',
    startTimeUnixNano: '1767225600000000000',
    endTimeUnixNano: '1767225600000001000',
    attributes: traceId === OTHER ? [{ key: 'pad', value: { stringValue: 'p'.repeat(1000) } }] : [],
  });
  const spans = [span(TRACE, 0), ...Array.from({ length: padding }, (_, i) => span(OTHER, i + 1))];
  return Buffer.from(type.encode(type.fromObject({ resourceSpans: [{ scopeSpans: [{ spans }] }] })).finish());
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-find-trace-bound-'));
  const config = loadConfig({
    env: {},
    overrides: { dataDir: path.join(dir, 'data'), ...LOOPBACK_LISTENERS, 'server.api.maxFindTraceBytes': '1KiB', 'spool.durability': 'none', 'log.level': 'silent' },
  });
  server = new CaptureServer(config, silentLogger());
  const ports = await server.start();
  apiAddress = `127.0.0.1:${ports.api}`;
  grpcAddress = `127.0.0.1:${ports.grpc}`;
}, 30_000);

afterAll(async () => {
  await server?.stop(10_000);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a trace whose requests add up to more than 64 × maxFindTraceBytes is refused, naming the bound; under it, answered', async () => {
  // Two requests of ~30 KiB: 60 KiB, under the 64 KiB read bound; the answer (two small spans) under 1 KiB.
  for (const n of [1, 2]) expect(await grpcExport(grpcAddress, insecure, request(n, 30))).toEqual({ ok: true });
  const found = await unary<{ spans: string }>(apiAddress, insecure, CAPTURE, 'FindTrace', { trace_id: TRACE });
  expect(found.error).toBeNull();
  expect(found.response.spans).toBe('2');

  // A third: 90 KiB to read for a 3-span answer.
  expect(await grpcExport(grpcAddress, insecure, request(3, 30))).toEqual({ ok: true });
  const { error } = await unary(apiAddress, insecure, CAPTURE, 'FindTrace', { trace_id: TRACE });
  expect(error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  expect(error?.details).toMatch(new RegExp(`trace ${TRACE} is spread over 3 requests of \\d+ bytes in all, more than one find-trace reads \\(65536 bytes, 64 × server.api.maxFindTraceBytes\\)`));
  expect(error?.details).toContain('one by one (GetRequest)');
}, 30_000);
