// Bad input gets a clear, final status; the server keeps serving; nothing partial is stored.
import http2 from 'node:http2';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { getBytes, listJson } from '../helpers/capture-cli.js';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';

let dir: string;
let server: ServerProcess;
let client: RawOtlpClient;
const accepted: Buffer[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-bad-'));
  const config = path.join(dir, 'config.yaml');
  writeFileSync(config, 'server:\n  grpc:\n    maxReceiveBytes: 1MiB\narchiver:\n  maxObjectAge: 200ms\n');
  server = await startServer(['--config', config, '--data-dir', path.join(dir, 'data')]);
  client = new RawOtlpClient(server.grpcAddress);
});

afterAll(async () => {
  client?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function stillServing(n: number): Promise<void> {
  const payload = uniqueTraceRequest(n);
  expect(await client.export('traces', payload)).toEqual({ ok: true });
  accepted.push(payload);
}

test('malformed protobuf is refused with INVALID_ARGUMENT and a message naming the problem', async () => {
  const valid = uniqueTraceRequest(1);
  const truncated = valid.subarray(0, valid.length - 7);
  const outcome = await client.export('traces', truncated);
  expect(outcome).toMatchObject({ ok: false, code: grpc.status.INVALID_ARGUMENT, retryDelayMs: null });
  expect(outcome.ok === false && outcome.details).toMatch(/malformed ExportTraceServiceRequest/);
  const garbage = await client.export('logs', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]));
  expect(garbage).toMatchObject({ ok: false, code: grpc.status.INVALID_ARGUMENT });
  await stillServing(2);
});

test('a request over the receive limit gets RESOURCE_EXHAUSTED without RetryInfo', async () => {
  const big = uniqueTraceRequest(3, 2 * 1024 * 1024);
  const outcome = await client.export('traces', big);
  expect(outcome).toMatchObject({ ok: false, code: grpc.status.RESOURCE_EXHAUSTED, retryDelayMs: null });
  await stillServing(4);
});

test('a gzip bomb (tiny on the wire, 100 MiB inflated) is cut off at the receive limit', async () => {
  const bomb = gzipSync(Buffer.alloc(100 * 1024 * 1024));
  expect(bomb.length).toBeLessThan(200 * 1024);
  const frame = Buffer.alloc(5 + bomb.length);
  frame.writeUInt8(1, 0);
  frame.writeUInt32BE(bomb.length, 1);
  bomb.copy(frame, 5);
  const session = http2.connect(`http://${server.grpcAddress}`);
  const status = await new Promise<{ status: string | undefined; message: string | undefined }>((resolve, reject) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-encoding': 'gzip',
      'grpc-accept-encoding': 'identity,gzip',
    });
    let headerStatus: string | undefined;
    stream.on('response', (headers) => (headerStatus = headers['grpc-status'] as string | undefined));
    stream.on('trailers', (trailers) => resolve({ status: trailers['grpc-status'] as string, message: trailers['grpc-message'] as string }));
    stream.on('end', () => resolve({ status: headerStatus, message: undefined }));
    stream.on('error', reject);
    stream.resume();
    stream.end(frame);
  });
  session.close();
  expect(status.status).toBe(String(grpc.status.RESOURCE_EXHAUSTED));
  await stillServing(5);
});

test('deflate and gzip request compression are accepted and stored decompressed', async () => {
  for (const compression of ['deflate', 'gzip'] as const) {
    const compressed = new RawOtlpClient(server.grpcAddress, { compression });
    const payload = uniqueTraceRequest(compression === 'gzip' ? 6 : 7, 20_000);
    expect(await compressed.export('traces', payload)).toEqual({ ok: true });
    compressed.close();
    accepted.push(payload);
  }
});

test('an empty request succeeds and stores nothing; a bad tenant header is refused', async () => {
  expect(await client.export('metrics', Buffer.alloc(0))).toEqual({ ok: true });
  const badTenant = await client.export('traces', uniqueTraceRequest(8), { 'x-scope-orgid': '../../etc' });
  expect(badTenant).toMatchObject({ ok: false, code: grpc.status.INVALID_ARGUMENT });
  expect(badTenant.ok === false && badTenant.details).toMatch(/invalid tenant/);
  const tenant = uniqueTraceRequest(9);
  expect(await client.export('traces', tenant, { 'x-scope-orgid': 'team-a' })).toEqual({ ok: true });
  accepted.push(tenant);
});

test('only the accepted requests were stored, each whole', async () => {
  const data = path.join(dir, 'data');
  const rows = await waitFor('accepted requests to be listed', async () => {
    const listed = await listJson(data);
    return listed.length >= accepted.length ? listed : undefined;
  });
  expect(rows).toHaveLength(accepted.length);
  const stored = await Promise.all(rows.map((row) => getBytes(data, row.id)));
  expect(stored.map((b) => b.toString('hex')).sort()).toEqual(accepted.map((b) => b.toString('hex')).sort());
  expect(rows.filter((row) => row.tenant === 'team-a')).toHaveLength(1);
  expect(rows.every((row) => row.signal === 'traces')).toBe(true);
});
