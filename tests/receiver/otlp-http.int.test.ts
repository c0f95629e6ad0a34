// OTLP/HTTP against an in-process CaptureServer, with a plain HTTP client that sees exact statuses, headers and
// bodies: every success and error response the specification asks for, and what ends up archived.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { CaptureServer } from '../../src/app/capture-server.js';
import { loadConfig, type ResolvedConfig } from '../../src/config/load.js';
import { fromOtlpJson } from '../../src/otlp/json.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { readArchive } from '../helpers/archive-reader.js';
import { decodeStatus, post, type HttpReply } from '../helpers/otlp-http-client.js';
import { logsPayload, metricsPayload, tracePayload } from '../helpers/otlp-payloads.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';
import { LOOPBACK_LISTENERS } from '../helpers/loopback-listeners.js';

const PROTOBUF = { 'content-type': 'application/x-protobuf' };
const JSON_TYPE = { 'content-type': 'application/json' };

let dir: string;
const running: CaptureServer[] = [];

function config(dataDir: string, overrides: Record<string, unknown> = {}): ResolvedConfig {
  return loadConfig({
    env: {},
    overrides: {
      dataDir,
      ...LOOPBACK_LISTENERS,
      'spool.durability': 'none',
      'archiver.maxObjectAge': '200ms',
      'log.level': 'silent',
      ...overrides,
    },
  });
}

async function start(dataDir: string, overrides: Record<string, unknown> = {}): Promise<{ server: CaptureServer; url: string; admin: number }> {
  const server = new CaptureServer(config(dataDir, overrides), silentLogger());
  const ports = await server.start();
  running.push(server);
  return { server, url: `http://127.0.0.1:${ports.http}`, admin: ports.admin };
}

async function stop(server: CaptureServer): Promise<void> {
  running.splice(running.indexOf(server), 1);
  await server.stop(10_000);
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlp-http-'));
});

afterAll(async () => {
  for (const server of running.splice(0)) await server.stop(0);
  fs.rmSync(dir, { recursive: true, force: true });
});

function expectStatus(reply: HttpReply, httpStatus: number, code: grpc.status, message: RegExp, encoding: 'protobuf' | 'json' = 'protobuf'): void {
  expect(reply.status).toBe(httpStatus);
  expect(reply.headers['content-type']).toBe(encoding === 'json' ? 'application/json' : 'application/x-protobuf');
  const status = decodeStatus(reply.body, encoding);
  expect(status.code).toBe(code);
  expect(status.message).toMatch(message);
}

describe('one server (1 MiB limit): successes, bad input, and what is stored', () => {
  let url: string;
  let dataDir: string;
  const accepted: Buffer[] = [];

  beforeAll(async () => {
    dataDir = path.join(dir, 'main');
    ({ url } = await start(dataDir, { 'server.http.maxReceiveBytes': '1MiB' }));
  });

  test('protobuf: 200 with an empty ExportTraceServiceResponse in application/x-protobuf', async () => {
    const payload = uniqueTraceRequest(1);
    const reply = await post(`${url}/v1/traces`, payload, PROTOBUF);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/x-protobuf');
    expect(reply.body.length).toBe(0);
    accepted.push(payload);
  });

  test('JSON: 200 with {} in application/json (charset parameter allowed); stored as the protobuf encoding', async () => {
    for (const [signal, payload] of [['traces', tracePayload(11, 10)], ['metrics', metricsPayload(12)], ['logs', logsPayload(13, 8)]] as const) {
      const reply = await post(`${url}/v1/${signal}`, JSON.stringify(payload.json), { 'content-type': 'application/json; charset=utf-8' });
      expect([reply.status, reply.headers['content-type'], reply.body.toString()]).toEqual([200, 'application/json', '{}']);
      accepted.push(fromOtlpJson(signal, payload.json));
    }
  });

  test.each([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
  ] as const)('Content-Encoding %s: accepted and stored decompressed', async (encoding, compress) => {
    const payload = uniqueTraceRequest(encoding.length * 7, 50_000);
    const reply = await post(`${url}/v1/traces`, compress(payload), { ...PROTOBUF, 'content-encoding': encoding });
    expect(reply.status).toBe(200);
    accepted.push(payload);
  });

  test('a body streamed in chunks (no Content-Length) is accepted', async () => {
    const payload = uniqueTraceRequest(40, 300_000);
    expect((await post(`${url}/v1/traces`, payload, PROTOBUF, { chunked: true })).status).toBe(200);
    accepted.push(payload);
  });

  test('empty requests (protobuf and JSON {}) succeed and store nothing', async () => {
    expect((await post(`${url}/v1/metrics`, Buffer.alloc(0), PROTOBUF)).status).toBe(200);
    const json = await post(`${url}/v1/logs`, '{}', JSON_TYPE);
    expect([json.status, json.body.toString()]).toEqual([200, '{}']);
  });

  test('400: malformed protobuf, with a google.rpc.Status INVALID_ARGUMENT naming the problem', async () => {
    const valid = uniqueTraceRequest(2);
    const reply = await post(`${url}/v1/traces`, valid.subarray(0, valid.length - 7), PROTOBUF);
    expectStatus(reply, 400, grpc.status.INVALID_ARGUMENT, /malformed ExportTraceServiceRequest/);
  });

  test('400: JSON that is not JSON, or not an Export request, answered in JSON', async () => {
    expectStatus(await post(`${url}/v1/traces`, '{"resourceSpans": [', JSON_TYPE), 400, grpc.status.INVALID_ARGUMENT, /not JSON/, 'json');
    const wrong = await post(`${url}/v1/logs`, '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"xyz"}]}]}]}', JSON_TYPE);
    expectStatus(wrong, 400, grpc.status.INVALID_ARGUMENT, /traceId/, 'json');
  });

  test('400: a body that is not valid gzip', async () => {
    const reply = await post(`${url}/v1/traces`, Buffer.from('definitely not gzip'), { ...PROTOBUF, 'content-encoding': 'gzip' });
    expectStatus(reply, 400, grpc.status.INVALID_ARGUMENT, /not valid gzip data/);
  });

  test('400: a tenant header that could name a path, and nothing stored', async () => {
    for (const tenant of ['../../etc', '%2e%2e', 'a/b', 'x'.repeat(64)]) {
      const reply = await post(`${url}/v1/traces`, uniqueTraceRequest(3), { ...PROTOBUF, 'x-scope-orgid': tenant });
      expectStatus(reply, 400, grpc.status.INVALID_ARGUMENT, /invalid tenant in header x-scope-orgid/);
    }
  });

  test('413: Content-Length over the limit, refused before the body is read', async () => {
    const reply = await post(`${url}/v1/traces`, uniqueTraceRequest(4, 2 * 2 ** 20), PROTOBUF);
    expectStatus(reply, 413, grpc.status.RESOURCE_EXHAUSTED, /larger than the limit of 1048576 bytes/);
    expect(reply.headers.connection).toBe('close');
  });

  test('413: a chunked body that grows over the limit while streaming', async () => {
    const reply = await post(`${url}/v1/traces`, uniqueTraceRequest(5, 2 * 2 ** 20), PROTOBUF, { chunked: true });
    expectStatus(reply, 413, grpc.status.RESOURCE_EXHAUSTED, /larger than the limit/);
  });

  test('413: a gzip bomb (100 KiB on the wire, 100 MiB inflated) is cut off at the limit', async () => {
    const bomb = gzipSync(Buffer.alloc(100 * 2 ** 20));
    expect(bomb.length).toBeLessThan(200 * 1024);
    const reply = await post(`${url}/v1/traces`, bomb, { ...PROTOBUF, 'content-encoding': 'gzip' });
    expectStatus(reply, 413, grpc.status.RESOURCE_EXHAUSTED, /larger than the limit of 1048576 bytes after decompression/);
  });

  test('415: another content type (answered in JSON), or a content coding this server does not decode', async () => {
    const text = await post(`${url}/v1/traces`, 'hello', { 'content-type': 'text/plain' });
    expectStatus(text, 415, grpc.status.INVALID_ARGUMENT, /unsupported Content-Type "text\/plain": use application\/x-protobuf or application\/json/, 'json');
    const none = await post(`${url}/v1/traces`, uniqueTraceRequest(6), {});
    expect(none.status).toBe(415);
    const lz4 = await post(`${url}/v1/traces`, uniqueTraceRequest(6), { ...PROTOBUF, 'content-encoding': 'lz4' });
    expectStatus(lz4, 415, grpc.status.INVALID_ARGUMENT, /unsupported Content-Encoding "lz4": use identity, gzip, x-gzip, deflate, zlib, zstd, snappy, x-snappy-framed, br/);
  });

  test('405: another method, with Allow: POST', async () => {
    for (const method of ['GET', 'PUT']) {
      const reply = await post(`${url}/v1/traces`, '', PROTOBUF, { method });
      expectStatus(reply, 405, grpc.status.UNIMPLEMENTED, new RegExp(`${method} is not allowed on /v1/traces: use POST`));
      expect(reply.headers.allow).toBe('POST');
    }
  });

  test('404: a path that is not an OTLP endpoint', async () => {
    for (const route of ['/', '/v1/trace', '/v1/traces/', '/v2/logs']) {
      const reply = await post(`${url}${route}`, uniqueTraceRequest(7), PROTOBUF);
      expectStatus(reply, 404, grpc.status.NOT_FOUND, /no OTLP\/HTTP endpoint .* use POST \/v1\/traces, \/v1\/metrics or \/v1\/logs/);
    }
  });

  test('the server keeps serving on the same keep-alive connection after a 400', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const send = (body: Buffer): Promise<{ status: number; socket: unknown }> =>
        new Promise((resolve, reject) => {
          const req = http.request(`${url}/v1/traces`, { method: 'POST', agent, headers: { ...PROTOBUF, 'content-length': body.length } }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode!, socket: req.socket }));
          });
          req.on('error', reject);
          req.end(body);
        });
      const bad = await send(Buffer.from([0x0a, 0xff, 0xff]));
      const good = uniqueTraceRequest(8);
      const next = await send(good);
      expect([bad.status, next.status]).toEqual([400, 200]);
      expect(next.socket).toBe(bad.socket);
      accepted.push(good);
    } finally {
      agent.destroy();
    }
  });

  test('only what was acknowledged is stored, byte for byte', async () => {
    const archive = await waitFor('acknowledged requests archived', async () => {
      const rows = await readArchive(dataDir);
      return rows.length >= accepted.length ? rows : undefined;
    });
    expect(archive.map((entry) => entry.bytes.toString('hex')).sort()).toEqual(accepted.map((b) => b.toString('hex')).sort());
    expect(archive.every((entry) => entry.request.tenant === 'default')).toBe(true);
  });
});

describe('backpressure: 429 and 503 with Retry-After and RetryInfo', () => {
  test('429 over the in-flight byte budget; what was acknowledged is stored', async () => {
    const dataDir = path.join(dir, 'budget');
    const { server, url } = await start(dataDir, {
      'spool.durability': 'fsync',
      'admission.maxInFlightBytes': '300KiB',
      'admission.retryAfter': '1500ms',
    });
    const payloads = Array.from({ length: 40 }, (_, i) => uniqueTraceRequest(100 + i, 120_000));
    const replies = await Promise.all(payloads.map((payload) => post(`${url}/v1/traces`, payload, PROTOBUF)));
    const refused = replies.filter((reply) => reply.status !== 200);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length).toBeLessThan(payloads.length);
    for (const reply of refused) {
      expectStatus(reply, 429, grpc.status.RESOURCE_EXHAUSTED, /too many bytes in flight/);
      expect(reply.headers['retry-after']).toBe('2'); // 1.5 s rounded up to whole seconds
      expect(decodeStatus(reply.body, 'protobuf').retryDelayMs).toBe(1500);
    }
    await stop(server);
    const archive = await readArchive(dataDir);
    const acked = payloads.filter((_, i) => replies[i]!.status === 200);
    expect(archive.map((entry) => entry.bytes.toString('hex')).sort()).toEqual(acked.map((b) => b.toString('hex')).sort());
  });

  test('OTLP JSON holds its size in the budget while parsed; alone, a JSON request larger than the whole budget is still taken', async () => {
    const dataDir = path.join(dir, 'json-budget');
    const { server, url } = await start(dataDir, { 'admission.maxInFlightBytes': '16KiB' });
    const payload = tracePayload(21, 200);
    const json = JSON.stringify(payload.json);
    // Body and its protobuf both exceed the budget: held together, as one request's own.
    expect(json.length).toBeGreaterThan(16 * 1024);
    expect(payload.proto.length).toBeGreaterThan(16 * 1024);
    const reply = await post(`${url}/v1/traces`, json, JSON_TYPE);
    expect(reply.status).toBe(200);
    await stop(server);
    const archive = await readArchive(dataDir);
    expect(archive.map((entry) => entry.bytes.toString('hex'))).toEqual([fromOtlpJson('traces', payload.json).toString('hex')]);
  });

  test('503 when the spool is full (JSON: RetryInfo in details), and the rejection is counted', async () => {
    const dataDir = path.join(dir, 'full');
    const { server, url, admin } = await start(dataDir, {
      'spool.maxBytes': '1MiB',
      'spool.segmentBytes': '128KiB',
      'archiver.maxObjectAge': '1h',
      'admission.retryAfter': '2s',
    });
    let refusal: HttpReply | undefined;
    for (let i = 0; i < 30 && refusal === undefined; i++) {
      const payload = { resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', name: `op-${i}`, attributes: [{ key: 'pad', value: { stringValue: 'x'.repeat(100_000) } }] }] }] }] };
      const reply = await post(`${url}/v1/traces`, JSON.stringify(payload), JSON_TYPE);
      if (reply.status !== 200) refusal = reply;
    }
    expect(refusal).toBeDefined();
    expectStatus(refusal!, 503, grpc.status.UNAVAILABLE, /spool is full/, 'json');
    expect(refusal!.headers['retry-after']).toBe('2');
    expect(decodeStatus(refusal!.body, 'json').retryDelayMs).toBe(2000);
    const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    expect(metrics).toMatch(/otlpcapture_requests_rejected_total\{signal="traces",reason="spool_full"\} 1/);
    await stop(server);
  });

  test('503 for a request that completes while the server is shutting down; the listener is then closed', async () => {
    const dataDir = path.join(dir, 'stopping');
    const { server, url } = await start(dataDir, { 'admission.retryAfter': '3s' });
    const payload = uniqueTraceRequest(200, 10_000);
    const reply = new Promise<HttpReply>((resolve, reject) => {
      const req = http.request(`${url}/v1/traces`, { method: 'POST', agent: false, headers: { ...PROTOBUF, 'content-length': payload.length } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      // Half the body now, the rest once shutdown has begun.
      req.write(payload.subarray(0, 100));
      setTimeout(() => {
        const stopped = stop(server);
        setTimeout(() => req.end(payload.subarray(100)), 100);
        void stopped;
      }, 200);
    });
    const result = await reply;
    expectStatus(result, 503, grpc.status.UNAVAILABLE, /shutting down/);
    expect(result.headers['retry-after']).toBe('3');
    expect(result.headers.connection).toBe('close');
    await expect(post(`${url}/v1/traces`, payload, PROTOBUF)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('OTLP/JSON has its own, smaller limit (server.http.maxJsonBytes)', () => {
  let url: string;
  let server: CaptureServer;
  let dataDir: string;
  const accepted: Buffer[] = [];

  beforeAll(async () => {
    dataDir = path.join(dir, 'json-limit');
    ({ server, url } = await start(dataDir, { 'server.http.maxJsonBytes': '256KiB' }));
  });

  /** A traces request of `spans` spans, as OTLP/JSON text. */
  function spansJson(spans: number, name: string): Record<string, unknown> {
    return {
      resourceSpans: [{
        scopeSpans: [{
          spans: Array.from({ length: spans }, (_, i) => ({
            traceId: '5b8efff798038103d269b633813fc60c', spanId: (0x1000000000000000n + BigInt(i)).toString(16), name: `${name}-${i}`,
            startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000001000000',
            attributes: [{ key: 'http.route', value: { stringValue: '/api/orders/{id}' } }],
          })),
        }],
      }],
    };
  }

  test('a JSON body over it gets 413 naming the setting and protobuf, on the wire or after decompression', async () => {
    const big = spansJson(2000, 'big');
    const text = JSON.stringify(big);
    expect(text.length).toBeGreaterThan(256 * 1024);
    const message = /OTLP\/JSON request body is larger than the limit of 262144 bytes \(server\.http\.maxJsonBytes, after decompression\): send smaller batches, or protobuf \(application\/x-protobuf, up to 67108864 bytes\)/;
    expectStatus(await post(`${url}/v1/traces`, text, JSON_TYPE), 413, grpc.status.RESOURCE_EXHAUSTED, message, 'json');
    const gzipped = gzipSync(text);
    expect(gzipped.length).toBeLessThan(256 * 1024);
    expectStatus(await post(`${url}/v1/traces`, gzipped, { ...JSON_TYPE, 'content-encoding': 'gzip' }), 413, grpc.status.RESOURCE_EXHAUSTED, message, 'json');

    // The same data as protobuf is within the (larger) protobuf limit; a JSON body under the JSON limit is taken.
    const proto = fromOtlpJson('traces', big);
    expect((await post(`${url}/v1/traces`, proto, PROTOBUF)).status).toBe(200);
    accepted.push(proto);
    const small = spansJson(100, 'small');
    expect((await post(`${url}/v1/traces`, JSON.stringify(small), JSON_TYPE)).status).toBe(200);
    accepted.push(fromOtlpJson('traces', small));
  });

  test('only the accepted requests were stored', async () => {
    await stop(server);
    const archive = await readArchive(dataDir);
    expect(archive.map((entry) => entry.bytes.toString('hex')).sort()).toEqual(accepted.map((bytes) => bytes.toString('hex')).sort());
  });
});
