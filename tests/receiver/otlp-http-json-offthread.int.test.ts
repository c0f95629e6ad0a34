// OTLP/HTTP JSON against an in-process server: while a body near the default 8 MiB JSON limit is converted (on the
// worker thread, src/otlp/json-workers.ts), the same process still answers gRPC health checks and Exports; and what
// is stored is exactly parseOtlpJson's encoding of the body. Ordering only, no timings: these machines are shared.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CaptureServer, type RunningPorts } from '../../src/app/capture-server.js';
import { loadConfig } from '../../src/config/load.js';
import { parseOtlpJson } from '../../src/otlp/json.js';
import { closeJsonWorkers } from '../../src/otlp/json-workers.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { readArchive } from '../helpers/archive-reader.js';
import { grpcExport, unary } from '../helpers/grpc-calls.js';
import { post, type HttpReply } from '../helpers/otlp-http-client.js';
import { traceRequestOfSize } from '../helpers/otlp-payloads.js';
import { LOOPBACK_LISTENERS } from '../helpers/loopback-listeners.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';

const DEFAULT_MAX_JSON_BYTES = 8 * 2 ** 20;
const insecure = grpc.credentials.createInsecure();

let dir: string;
let server: CaptureServer;
let ports: RunningPorts;
let stopped = false;

// Default limits (server.http.maxJsonBytes 8 MiB, the in-flight budget): the case is the default configuration's.
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlp-http-json-offthread-'));
  const config = loadConfig({ env: {}, overrides: { dataDir: dir, ...LOOPBACK_LISTENERS, 'spool.durability': 'none', 'log.level': 'silent' } });
  server = new CaptureServer(config, silentLogger());
  ports = await server.start();
});

afterAll(async () => {
  if (!stopped) await server.stop(0);
  await closeJsonWorkers();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Realistic OTLP/JSON spans just under the default limit (traceRequestOfSize sizes the protobuf encoding). */
function jsonBodyNearLimit(): Buffer {
  const sample = traceRequestOfSize(256 * 1024, 17);
  const jsonPerProtoByte = JSON.stringify(sample.json).length / sample.proto.length;
  const body = Buffer.from(JSON.stringify(traceRequestOfSize((0.92 * DEFAULT_MAX_JSON_BYTES) / jsonPerProtoByte, 17).json));
  expect(body.length).toBeGreaterThan(6 * 2 ** 20);
  expect(body.length).toBeLessThanOrEqual(DEFAULT_MAX_JSON_BYTES);
  return body;
}

async function inFlightBytes(): Promise<number> {
  return (await server.metrics.inFlightBytes.get()).values[0]?.value ?? 0;
}

test('gRPC health checks and an Export are answered while a large OTLP/JSON body converts; it is stored as parseOtlpJson encodes it', async () => {
  const body = jsonBodyNearLimit();
  const expected = parseOtlpJson('traces', body);
  const small = uniqueTraceRequest(1);
  const grpcAddress = `127.0.0.1:${ports.grpc}`;
  // The gRPC listener answers before the JSON is sent (the code paths below are loaded and warm).
  expect((await unary(grpcAddress, insecure, 'grpc.health.v1.Health', 'Check', { service: '' })).error).toBeNull();

  let jsonReply: HttpReply | null = null;
  const json = post(`http://127.0.0.1:${ports.http}/v1/traces`, body, { 'content-type': 'application/json' }).then((reply) => {
    jsonReply = reply;
    return reply;
  });
  // The body holds exactly its own size of the in-flight budget from when it has been read until its protobuf is
  // admitted, i.e. while it converts (the protobuf then adds its size). On the event loop that span was one
  // synchronous step nobody else could see; converted off it, the server is observed inside it.
  let converting = false;
  while (jsonReply === null && !converting) {
    converting = (await inFlightBytes()) === body.length;
    if (!converting) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  expect({ converting, answeredFirst: (jsonReply as HttpReply | null)?.status }).toEqual({ converting: true, answeredFirst: undefined });

  const [health, exported] = await Promise.all([
    unary<{ status: string }>(grpcAddress, insecure, 'grpc.health.v1.Health', 'Check', { service: '' }),
    grpcExport(grpcAddress, insecure, small),
  ]);
  expect(health.error).toBeNull();
  expect(health.response.status).toBe('SERVING');
  expect(exported).toEqual({ ok: true });
  // Answered while the JSON request was still converting.
  expect(jsonReply).toBeNull();
  expect(await inFlightBytes()).toBe(body.length);

  const reply = await json;
  expect([reply.status, reply.body.toString()]).toEqual([200, '{}']);
  stopped = true;
  await server.stop(20_000);
  const stored = (await readArchive(dir)).map((entry) => entry.bytes.toString('hex')).sort();
  expect(stored).toEqual([expected.toString('hex'), small.toString('hex')].sort());
});
