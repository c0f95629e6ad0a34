// What trace ids cost is bounded, not only bytes: a request with more distinct trace ids than
// admission.maxTraceIdsPerRequest is refused (gRPC RESOURCE_EXHAUSTED without RetryInfo, HTTP 413: send smaller
// batches) and nothing of it is stored, the server serving on; and open objects are sealed once together they hold
// archiver.maxOpenTraceIds. A real serve in process, real gRPC and HTTP on loopback.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CaptureServer } from '../../src/app/capture-server.js';
import { loadConfig } from '../../src/config/load.js';
import { SqliteIndexStore } from '../../src/index/sqlite-index-store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { distinctTracesRequest, lengthField } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';

/** `services` resources, each with its own service.name and one span of one trace. */
function manyServicesRequest(services: number): Buffer {
  const text = (value: string): Buffer => Buffer.from(value, 'utf8');
  const span = lengthField(2, Buffer.concat([lengthField(1, Buffer.alloc(16, 7)), lengthField(2, Buffer.alloc(8, 1))]));
  const resources = Array.from({ length: services }, (_, i) => {
    const name = lengthField(1, Buffer.concat([lengthField(1, text('service.name')), lengthField(2, lengthField(1, text(`svc-${i}`)))]));
    return lengthField(1, Buffer.concat([lengthField(1, name), lengthField(2, span)]));
  });
  return Buffer.concat(resources);
}

let dir: string;
let server: CaptureServer;
let ports: { grpc: number; http: number };

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trace-id-bounds-'));
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: dir,
      'server.grpc.listen': '127.0.0.1:0',
      'server.admin.listen': '127.0.0.1:0',
      'server.http.listen': '127.0.0.1:0',
      'spool.durability': 'none',
      'admission.maxTraceIdsPerRequest': 50,
      'admission.maxServicesPerRequest': 20,
      // Objects seal by trace ids alone here: not by age or size within the test.
      'archiver.maxOpenTraceIds': 100,
      'archiver.maxObjectAge': '1h',
      'log.level': 'silent',
    },
  });
  server = new CaptureServer(config, silentLogger());
  ports = await server.start();
});

afterAll(async () => {
  await server?.stop(5000);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('more distinct trace ids than admission.maxTraceIdsPerRequest: refused on both protocols, nothing stored', async () => {
  const client = new RawOtlpClient(`127.0.0.1:${ports.grpc}`);
  try {
    const refused = await client.export('traces', distinctTracesRequest(1, 51));
    expect(refused).toMatchObject({ ok: false, code: grpc.status.RESOURCE_EXHAUSTED, retryDelayMs: null });
    expect(refused.ok === false && refused.details).toMatch(/more than 50 distinct trace ids \(admission\.maxTraceIdsPerRequest\): send smaller batches/);
    const http = await fetch(`http://127.0.0.1:${ports.http}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: distinctTracesRequest(2, 200),
    });
    expect(http.status).toBe(413);
    expect(http.headers.get('retry-after')).toBeNull();
    // Log records' trace ids are not indexed: a log batch with a trace per line is not bounded by it.
    const logs = lengthField(1, lengthField(2, Buffer.concat(Array.from({ length: 60 }, (_, i) => {
      const traceId = Buffer.alloc(16, 9);
      traceId.writeUInt32BE(i + 1, 12);
      return lengthField(2, lengthField(9, traceId));
    }))));
    expect(await client.export('logs', logs)).toEqual({ ok: true });
    // At the limit: accepted.
    expect(await client.export('traces', distinctTracesRequest(3, 1))).toEqual({ ok: true });
    expect(await client.export('traces', distinctTracesRequest(4, 50))).toEqual({ ok: true });
  } finally {
    client.close();
  }
});

test('more distinct service.name values than admission.maxServicesPerRequest: refused, the server serving on', async () => {
  const client = new RawOtlpClient(`127.0.0.1:${ports.grpc}`);
  try {
    const refused = await client.export('traces', manyServicesRequest(21));
    expect(refused).toMatchObject({ ok: false, code: grpc.status.RESOURCE_EXHAUSTED, retryDelayMs: null });
    expect(refused.ok === false && refused.details).toMatch(/more than 20 distinct service\.name values \(admission\.maxServicesPerRequest\)/);
    expect(await client.export('traces', manyServicesRequest(20))).toEqual({ ok: true });
  } finally {
    client.close();
  }
});

test('open objects are sealed once together they hold archiver.maxOpenTraceIds', async () => {
  const client = new RawOtlpClient(`127.0.0.1:${ports.grpc}`);
  try {
    // The tests above left 1 + 50 + 1 ids in the open object (3 requests): + 40 + 40 > 100 seals it with 5
    // requests; then 40 + 40 + 40 > 100 seals the next with 3.
    for (let n = 10; n < 15; n++) expect(await client.export('traces', distinctTracesRequest(n, 40))).toEqual({ ok: true });
  } finally {
    client.close();
  }
  const index = new SqliteIndexStore(path.join(dir, 'index.sqlite'), { readonly: true });
  await index.start();
  try {
    const objects = await waitFor('two objects sealed by their trace ids', async () => {
      const listed = await index.listObjects({});
      return listed.length >= 2 ? listed : undefined;
    }, 20_000, 100);
    expect(objects.map((o) => o.requestCount).sort()).toEqual([3, 5]);
  } finally {
    await index.close();
  }
});
