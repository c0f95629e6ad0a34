// The metrics behind the dashboard and alerts, moved by real traffic through an in-process serve with TLS: ingest by
// tenant and its latency, raw and stored bytes of archived objects (the compression ratio), the served certificate's
// expiry, the spool limit, and CaptureService calls with find-trace latency by outcome.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CaptureServer } from '../../src/app/capture-server.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { makePki, pem, type TestPki } from '../helpers/certs.js';
import { grpcExport, unary } from '../helpers/grpc-calls.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';
import { LOOPBACK_LISTENERS } from '../helpers/loopback-listeners.js';

const SPOOL_MAX = 256 * 2 ** 20;
let dir: string;
let pki: TestPki;
let server: CaptureServer;
let ports: { grpc: number; admin: number; api: number };
let credentials: grpc.ChannelCredentials;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'monitoring-metrics-'));
  pki = makePki(dir);
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: path.join(dir, 'data'),
      ...LOOPBACK_LISTENERS,
      'server.tls.certFile': pki.server.cert,
      'server.tls.keyFile': pki.server.key,
      'spool.durability': 'none',
      'spool.maxBytes': SPOOL_MAX,
      'archiver.maxObjectAge': '100ms',
      'log.level': 'silent',
    },
  });
  server = new CaptureServer(config, silentLogger());
  ports = await server.start();
  credentials = grpc.credentials.createSsl(pem(pki.ca.cert));
});

afterAll(async () => {
  await server?.stop(5000);
  fs.rmSync(dir, { recursive: true, force: true });
});

async function metrics(): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${ports.admin}/metrics`)).text();
  return new Map([...text.matchAll(/^(otlpcapture_\w+(?:\{[^}]*\})?) (\S+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
}

const traceIdOf = (n: number): string => `00c0ffee${'0'.repeat(16)}${(n + 1).toString(16).padStart(8, '0')}`;

test('ingest by tenant, its latency, and the raw and stored bytes of what was archived', async () => {
  const payloads = [0, 1, 2, 3, 4].map((n) => uniqueTraceRequest(n, 2000));
  for (const [n, payload] of payloads.entries()) {
    const tenant = n < 4 ? 'team-a' : 'team-b';
    expect(await grpcExport(`127.0.0.1:${ports.grpc}`, credentials, payload, { 'x-scope-orgid': tenant })).toEqual({ ok: true });
  }
  const rawTotal = payloads.reduce((sum, p) => sum + p.length, 0);
  const m = await waitFor('all five requests archived', async () => {
    const now = await metrics();
    return now.get('otlpcapture_archived_raw_bytes_total{signal="traces"}') === rawTotal ? now : undefined;
  });
  expect(m.get('otlpcapture_requests_received_total{signal="traces",tenant="team-a"}')).toBe(4);
  expect(m.get('otlpcapture_requests_received_total{signal="traces",tenant="team-b"}')).toBe(1);
  expect(m.get('otlpcapture_items_received_total{signal="traces",tenant="team-a"}')).toBe(4);
  expect(m.get('otlpcapture_bytes_received_total{signal="traces",tenant="team-b"}')).toBe(payloads[4]!.length);
  expect(m.get('otlpcapture_ingest_duration_seconds_count{signal="traces"}')).toBe(5);
  expect(m.get('otlpcapture_ingest_duration_seconds_sum{signal="traces"}')).toBeGreaterThan(0);
  // Padding compresses well: the stored objects are much smaller than what was received.
  const stored = m.get('otlpcapture_archived_stored_bytes_total{signal="traces"}')!;
  expect(stored).toBeGreaterThan(0);
  expect(rawTotal / stored).toBeGreaterThan(2);
  expect(m.get('otlpcapture_objects_archived_total{signal="traces"}')).toBeGreaterThanOrEqual(2);
  expect(m.get('otlpcapture_spool_max_bytes')).toBe(SPOOL_MAX);
  expect(m.get('otlpcapture_ready')).toBe(1);
});

test('the expiry of the certificate the OTLP listeners serve', async () => {
  const m = await metrics();
  const notAfter = Date.parse(new X509Certificate(fs.readFileSync(pki.server.cert)).validTo) / 1000;
  expect(m.get(`otlpcapture_tls_certificate_expiry_timestamp_seconds{listener="otlp",file="${pki.server.cert}"}`)).toBe(notAfter);
});

test('CaptureService calls by method and code, and find-trace latency by outcome', async () => {
  const call = (method: string, request: object) =>
    unary(`127.0.0.1:${ports.api}`, credentials, 'otlpcapture.v1.CaptureService', method, request);
  expect((await call('ListRequests', { page_size: 10 })).error).toBeNull();
  await waitFor('trace 0 to be findable', async () => ((await call('FindTrace', { trace_id: traceIdOf(0) })).error === null ? true : undefined));
  expect((await call('FindTrace', { trace_id: 'ab'.repeat(16) })).error?.code).toBe(grpc.status.NOT_FOUND);
  expect((await call('FindTrace', { trace_id: 'not-a-trace-id' })).error?.code).toBe(grpc.status.INVALID_ARGUMENT);

  const m = await metrics();
  expect(m.get('otlpcapture_api_requests_total{method="ListRequests",code="OK"}')).toBe(1);
  const findOk = m.get('otlpcapture_api_requests_total{method="FindTrace",code="OK"}')!;
  expect(findOk).toBe(1);
  const findNotFound = m.get('otlpcapture_api_requests_total{method="FindTrace",code="NOT_FOUND"}')!;
  expect(findNotFound).toBeGreaterThanOrEqual(1);
  expect(m.get('otlpcapture_api_requests_total{method="FindTrace",code="INVALID_ARGUMENT"}')).toBe(1);
  expect(m.get('otlpcapture_api_request_duration_seconds_count{method="FindTrace"}')).toBe(findOk + findNotFound + 1);
  expect(m.get('otlpcapture_find_trace_duration_seconds_count{outcome="found"}')).toBe(1);
  expect(m.get('otlpcapture_find_trace_duration_seconds_count{outcome="not_found"}')).toBe(findNotFound);
  expect(m.get('otlpcapture_find_trace_duration_seconds_count{outcome="invalid"}')).toBe(1);
  // Export calls are not CaptureService calls.
  expect([...m.keys()].some((key) => key.includes('method="Export"'))).toBe(false);
});
