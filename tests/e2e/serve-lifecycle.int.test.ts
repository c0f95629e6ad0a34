// `serve` as operators meet it: inspectable (reflection, health, admin HTTP), graceful on SIGTERM, and clear
// about configuration it cannot use.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_DIR } from '../../src/protos.js';
import { readArchive } from '../helpers/archive-reader.js';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { fetchLikeGrpcurl, ReflectionClient, unresolvableReferences } from '../helpers/reflection-client.js';
import { runCli, startServer } from '../helpers/server-process.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-life-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function config(yaml: string): string {
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, yaml);
  return file;
}

function healthCheck(address: string): Promise<string> {
  const definition = protoLoader.loadSync('grpc/health/v1/health.proto', { includeDirs: [PROTO_DIR], enums: String });
  const Health = (grpc.loadPackageDefinition(definition) as any).grpc.health.v1.Health as typeof grpc.Client;
  const client = new Health(address, grpc.credentials.createInsecure()) as any;
  return new Promise((resolve, reject) => {
    client.Check({ service: '' }, (error: Error | null, response: { status: string }) => {
      client.close();
      if (error) reject(error);
      else resolve(response.status);
    });
  });
}

test('each listener reflects what it serves and resolves its request types; health and admin endpoints answer', async () => {
  const server = await startServer(['--config', config('archiver:\n  maxObjectAge: 100ms\n'), '--data-dir', path.join(dir, 'data')]);
  try {
    const reflection = new ReflectionClient(server.grpcAddress, 'v1');
    const services = await reflection.listServices();
    for (const name of [
      'opentelemetry.proto.collector.trace.v1.TraceService',
      'opentelemetry.proto.collector.metrics.v1.MetricsService',
      'opentelemetry.proto.collector.logs.v1.LogsService',
      'grpc.health.v1.Health',
    ]) {
      expect(services).toContain(name);
      const files = await fetchLikeGrpcurl(reflection, name);
      expect(unresolvableReferences(files)).toEqual([]);
    }
    // The read API is not on the ingest port.
    expect(services).not.toContain('otlpcapture.v1.CaptureService');
    const files = await fetchLikeGrpcurl(reflection, 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
    expect(unresolvableReferences(files)).toEqual([]);
    reflection.close();

    const apiReflection = new ReflectionClient(server.apiAddress, 'v1');
    const apiServices = await apiReflection.listServices();
    expect(apiServices).toEqual(expect.arrayContaining(['otlpcapture.v1.CaptureService', 'grpc.health.v1.Health']));
    expect(apiServices).not.toContain('opentelemetry.proto.collector.trace.v1.TraceService');
    expect(unresolvableReferences(await fetchLikeGrpcurl(apiReflection, 'otlpcapture.v1.CaptureService'))).toEqual([]);
    apiReflection.close();
    expect(await healthCheck(server.apiAddress)).toBe('SERVING');

    expect(await healthCheck(server.grpcAddress)).toBe('SERVING');
    const admin = `http://127.0.0.1:${server.adminPort}`;
    expect((await fetch(`${admin}/healthz`)).status).toBe(200);
    expect((await fetch(`${admin}/readyz`)).status).toBe(200);

    const client = new RawOtlpClient(server.grpcAddress);
    expect(await client.export('traces', uniqueTraceRequest(1, 2000))).toEqual({ ok: true });
    expect((await client.export('traces', Buffer.from([0xff]))).ok).toBe(false);
    client.close();
    const metrics = await waitFor('the object to be archived', async () => {
      const text = await (await fetch(`${admin}/metrics`)).text();
      return /otlpcapture_objects_archived_total\{signal="traces"\} 1\b/.test(text) ? text : undefined;
    });
    expect(metrics).toMatch(/otlpcapture_requests_received_total\{signal="traces",tenant="default"\} 1\b/);
    expect(metrics).toMatch(/otlpcapture_items_received_total\{signal="traces",tenant="default"\} 1\b/);
    expect(metrics).toMatch(/otlpcapture_requests_rejected_total\{signal="traces",reason="malformed"\} 1\b/);
    expect(metrics).toMatch(/otlpcapture_upload_duration_seconds_count\{signal="traces"\} 1\b/);
    expect(metrics).toMatch(/otlpcapture_archive_lag_seconds_count\{signal="traces"\} 1\b/);
    expect(metrics).toMatch(/otlpcapture_spool_fsyncs [1-9]/);
    // The archiver kept up, so it took the request from memory rather than from the spool file.
    expect(metrics).toMatch(/otlpcapture_spool_records_handed_over 1\b/);
  } finally {
    await server.stop();
  }
});

test('spool.handoverBytes: 0 makes the archiver read every request back from the spool, with the same result', async () => {
  const file = config('archiver:\n  maxObjectAge: 100ms\nspool:\n  handoverBytes: 0\n');
  const server = await startServer(['--config', file, '--data-dir', path.join(dir, 'data')]);
  try {
    const client = new RawOtlpClient(server.grpcAddress);
    const sent = Array.from({ length: 5 }, (_, i) => uniqueTraceRequest(100 + i, 3000));
    for (const payload of sent) expect(await client.export('traces', payload)).toEqual({ ok: true });
    client.close();
    const admin = `http://127.0.0.1:${server.adminPort}`;
    const metrics = await waitFor('every request to be archived', async () => {
      const text = await (await fetch(`${admin}/metrics`)).text();
      // Gauges are refreshed at each scrape: age 0 means no acknowledged request is left unarchived.
      const done = /otlpcapture_spool_oldest_unarchived_age_seconds 0\n/.test(text) && /otlpcapture_objects_archived_total\{signal="traces"\} [1-9]/.test(text);
      return done ? text : undefined;
    });
    expect(metrics).toMatch(/otlpcapture_spool_records_handed_over 0\b/);
    expect(await server.stop('SIGTERM')).toBe(0);
    const archive = await readArchive(path.join(dir, 'data'));
    expect(archive.map((e) => e.bytes.toString('hex')).sort()).toEqual(sent.map((b) => b.toString('hex')).sort());
  } finally {
    await server.stop();
  }
});

test('SIGTERM drains: open objects are sealed and archived, the spool is emptied, exit code 0', async () => {
  const file = config('archiver:\n  maxObjectAge: 1h\n');
  const server = await startServer(['--config', file, '--data-dir', path.join(dir, 'data')]);
  const client = new RawOtlpClient(server.grpcAddress);
  const sent = Array.from({ length: 25 }, (_, i) => uniqueTraceRequest(i, 5000));
  for (const payload of sent) expect(await client.export('traces', payload)).toEqual({ ok: true });
  client.close();
  expect(await server.stop('SIGTERM')).toBe(0);
  expect(server.output()).toMatch(/stopped: spool fully archived/);
  const archive = await readArchive(path.join(dir, 'data'));
  expect(archive.map((e) => e.bytes.toString('hex')).sort()).toEqual(sent.map((b) => b.toString('hex')).sort());
  expect(readdirSync(path.join(dir, 'data', 'spool')).filter((name) => name.endsWith('.spool'))).toHaveLength(0);
});

test('what a too-short grace period leaves in the spool is archived at the next start', async () => {
  const file = config('archiver:\n  maxObjectAge: 1h\nshutdown:\n  gracePeriod: 0ms\n');
  const server = await startServer(['--config', file, '--data-dir', path.join(dir, 'data')]);
  const client = new RawOtlpClient(server.grpcAddress);
  const sent = Array.from({ length: 10 }, (_, i) => uniqueTraceRequest(i, 3000));
  for (const payload of sent) expect(await client.export('traces', payload)).toEqual({ ok: true });
  client.close();
  await server.stop('SIGTERM');
  expect(server.output()).toMatch(/some data stays spooled/);

  const again = await startServer(['--config', config('archiver:\n  maxObjectAge: 1h\n'), '--data-dir', path.join(dir, 'data')]);
  expect(await again.stop('SIGTERM')).toBe(0);
  const archive = await readArchive(path.join(dir, 'data'));
  expect(archive.map((e) => e.bytes.toString('hex')).sort()).toEqual(sent.map((b) => b.toString('hex')).sort());
});

async function serveFails(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const result = await runCli(['serve', '--admin-listen', '127.0.0.1:0', '--api-listen', '127.0.0.1:0', ...args]);
  // One clear line, no stack trace.
  expect(result.stderr).not.toMatch(/\n\s+at /);
  return result;
}

test('bad configuration, a taken port and an unusable data dir each give one clear error', async () => {
  const unknownKey = await serveFails(['--config', config('spoool:\n  maxBytes: 1GiB\n'), '--grpc-listen', '127.0.0.1:0']);
  expect(unknownKey.code).toBe(2);
  expect(unknownKey.stderr).toMatch(/unknown key\(s\) "spoool"/);

  const badSize = await serveFails(['--config', config('spool:\n  maxBytes: lots\n'), '--grpc-listen', '127.0.0.1:0']);
  expect(badSize.code).toBe(2);
  expect(badSize.stderr).toMatch(/spool\.maxBytes: expected a size such as 64MiB/);

  const missing = await serveFails(['--config', path.join(dir, 'nope.yaml')]);
  expect(missing.stderr).toMatch(/cannot read config file .*nope\.yaml: ENOENT/);

  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as net.AddressInfo).port;
  const taken = await serveFails(['--data-dir', path.join(dir, 'data'), '--grpc-listen', `127.0.0.1:${port}`]);
  blocker.close();
  expect(taken.code).not.toBe(0);
  expect(taken.stderr).toMatch(new RegExp(`cannot listen for OTLP/gRPC on 127\\.0\\.0\\.1:${port}`));

  const notADir = path.join(dir, 'a-file');
  writeFileSync(notADir, 'x');
  const unusable = await serveFails(['--data-dir', notADir, '--grpc-listen', '127.0.0.1:0']);
  expect(unusable.code).not.toBe(0);
  expect(unusable.stderr).toContain(notADir);
});
