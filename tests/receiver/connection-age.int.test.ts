// server.grpc.maxConnectionAge: the ingest listener closes each client connection once it is that old (GOAWAY, then
// the grace period for calls in flight), so Collectors behind a Kubernetes Service reconnect — and land on other
// replicas. A client exporting without pause across several such closes loses nothing: every Export succeeds (the
// client reconnects by itself, no retry of ours) and the archive holds each request exactly once. A TCP proxy in
// front of the listener counts the connections the client had to make.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CaptureServer } from '../../src/app/capture-server.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { readArchive } from '../helpers/archive-reader.js';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { LOOPBACK_LISTENERS } from '../helpers/loopback-listeners.js';

const AGE_MS = 1000;
const EXPORTING_MS = 5000;
const SENDERS = 3;

let dir: string;
let server: CaptureServer;
let proxy: net.Server;
let connections = 0;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'connection-age-'));
});

afterAll(async () => {
  await new Promise((resolve) => proxy?.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

test('connections are closed after maxConnectionAge (+ grace); the client reconnects and every request is archived exactly once', async () => {
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: path.join(dir, 'data'),
      ...LOOPBACK_LISTENERS,
      'server.grpc.maxConnectionAge': `${AGE_MS}ms`,
      'server.grpc.maxConnectionAgeGrace': '5s',
      'spool.durability': 'none',
      'log.level': 'silent',
    },
  });
  server = new CaptureServer(config, silentLogger());
  const { grpc: grpcPort } = await server.start();
  proxy = net.createServer((client) => {
    connections += 1;
    const upstream = net.connect(grpcPort, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const client = new RawOtlpClient(`127.0.0.1:${(proxy.address() as net.AddressInfo).port}`);

  const sent: Buffer[] = [];
  const failures: unknown[] = [];
  const until = Date.now() + EXPORTING_MS;
  let n = 0;
  // Several calls in flight at any moment, so GOAWAYs arrive while calls are running.
  await Promise.all(
    Array.from({ length: SENDERS }, async () => {
      while (Date.now() < until) {
        const payload = uniqueTraceRequest(n++, 3000);
        const outcome = await client.export('traces', payload);
        if (outcome.ok) sent.push(payload);
        else failures.push(outcome);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }),
  );
  client.close();
  expect(failures).toEqual([]);
  expect(sent.length).toBeGreaterThan(50);
  // ~5 s of exporting with connections living ~1 s (±10 % jitter): several reconnects.
  expect(connections).toBeGreaterThanOrEqual(3);

  expect(await server.stop(10_000)).toEqual({ drained: true });
  const archived = (await readArchive(path.join(dir, 'data'))).map((entry) => entry.bytes.toString('hex')).sort();
  expect(archived).toEqual(sent.map((payload) => payload.toString('hex')).sort());
}, 60_000);
