// The API listener with certificate settings of its own (server.api.tls): it presents its own certificate and asks
// for client certificates (mutual TLS) while the OTLP listener keeps server.tls (server-side TLS only). Without
// server.api.tls the API listener uses server.tls (tests/e2e/security.int.test.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { CaptureServer } from '../../src/app/capture-server.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { makePki, pem, type CertPair, type TestPki } from '../helpers/certs.js';
import { grpcExport, unary } from '../helpers/grpc-calls.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { LOOPBACK_LISTENERS } from '../helpers/loopback-listeners.js';

let dir: string;
let pki: TestPki;
let server: CaptureServer;
let ports: { grpc: number; api: number };

function presentedCn(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: pem(pki.ca.cert), servername: 'localhost', ALPNProtocols: ['h2'], cert: pem(pki.client.cert), key: pem(pki.client.key) }, () => {
      const cn = socket.getPeerCertificate().subject?.CN;
      socket.destroy();
      resolve(String(cn));
    });
    socket.on('error', reject);
  });
}

const credentials = (client?: CertPair): grpc.ChannelCredentials =>
  grpc.credentials.createSsl(pem(pki.ca.cert), client ? pem(client.key) : null, client ? pem(client.cert) : null);

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'api-tls-'));
  pki = makePki(dir);
  const apiCert = pki.issue('api-server', 'server');
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: path.join(dir, 'data'),
      ...LOOPBACK_LISTENERS,
      'server.tls': { certFile: pki.server.cert, keyFile: pki.server.key },
      'server.api.tls': { certFile: apiCert.cert, keyFile: apiCert.key, clientCaFile: pki.ca.cert, requireClientCert: true },
      'spool.durability': 'none',
      'log.level': 'silent',
    },
  });
  server = new CaptureServer(config, silentLogger());
  ports = await server.start();
});

afterAll(async () => {
  await server?.stop(10_000);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('each listener presents its own certificate', async () => {
  expect(await presentedCn(ports.api)).toBe('api-server');
  expect(await presentedCn(ports.grpc)).toBe('server');
});

test('the API listener requires a client certificate; the OTLP listener does not', async () => {
  const health = { service: '' };
  expect((await unary(`127.0.0.1:${ports.api}`, credentials(), 'grpc.health.v1.Health', 'Check', health)).error?.code).toBe(grpc.status.UNAVAILABLE);
  expect((await unary(`127.0.0.1:${ports.api}`, credentials(pki.rogueClient), 'grpc.health.v1.Health', 'Check', health)).error?.code).toBe(grpc.status.UNAVAILABLE);
  expect(await unary(`127.0.0.1:${ports.api}`, credentials(pki.client), 'grpc.health.v1.Health', 'Check', health)).toEqual({ error: null, response: { status: 'SERVING' } });
  expect((await unary(`127.0.0.1:${ports.api}`, credentials(pki.client), 'otlpcapture.v1.CaptureService', 'ListRequests', {})).error).toBeNull();
  expect(await grpcExport(`127.0.0.1:${ports.grpc}`, credentials(), uniqueTraceRequest(1))).toEqual({ ok: true });
});
