// The admin listener over real HTTP on all addresses, called once over loopback and once through this machine's
// network address (so the server sees a peer from the network): health is open to both, /metrics to loopback and to
// the network only as metrics-access.ts says, with the status and WWW-Authenticate a scraper can act on. And its
// connection limits: per peer, and a connection that sends nothing is closed.
import http from 'node:http';
import net from 'node:net';
import { BearerAuth } from '../../src/admission/auth.js';
import { AdminServer, type AdminLimits } from '../../src/telemetry/admin-server.js';
import { MetricsGate } from '../../src/telemetry/metrics-access.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import type { NotReady } from '../../src/telemetry/readiness-metrics.js';
import { nonLoopbackAddress } from '../helpers/network-address.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(host: string, port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host, port, path, headers, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    request.on('error', reject);
  });
}

const network = nonLoopbackAddress();

async function withAdmin(gate: MetricsGate, run: (port: number) => Promise<void>, notReady: NotReady | null = null): Promise<void> {
  const metrics = new Metrics();
  metrics.rejections.inc({ signal: 'traces', reason: 'malformed' });
  const admin = new AdminServer(metrics, { notReady: () => notReady }, gate);
  const port = await admin.listen('0.0.0.0', 0);
  try {
    await run(port);
  } finally {
    await admin.close();
  }
}

test('tokens configured: health for everyone; /metrics for loopback, and for the network with a metrics token only', async () => {
  const auth = new BearerAuth([{ token: 'scraper-7d1c', scopes: ['metrics'] }, { token: 'collector-93ab', scopes: ['ingest'] }]);
  await withAdmin(new MetricsGate(auth, false), async (port) => {
    for (const host of ['127.0.0.1', network]) {
      expect((await get(host, port, '/healthz')).status).toBe(200);
      expect((await get(host, port, '/readyz')).body).toBe('ready\n');
    }
    const local = await get('127.0.0.1', port, '/metrics');
    expect(local.status).toBe(200);
    expect(local.body).toMatch(/^# HELP otlpcapture_/m);

    const anonymous = await get(network, port, '/metrics');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Bearer');
    expect(anonymous.body).toMatch(/"metrics" scope/);
    expect(anonymous.body).not.toMatch(/otlpcapture_/);

    const collector = await get(network, port, '/metrics', { authorization: 'Bearer collector-93ab' });
    expect(collector).toMatchObject({ status: 403, body: 'this token lacks the "metrics" scope\n' });
    expect((await get(network, port, '/metrics', { authorization: 'Bearer wrong' })).status).toBe(401);

    const scraper = await get(network, port, '/metrics', { authorization: 'Bearer scraper-7d1c' });
    expect(scraper.status).toBe(200);
    expect(scraper.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(scraper.body).toMatch(/^# HELP otlpcapture_/m);
  });
});

test('no tokens: the network gets 403 with what to do; allowUnauthenticatedMetrics opens /metrics', async () => {
  await withAdmin(new MetricsGate(new BearerAuth([]), false), async (port) => {
    expect((await get('127.0.0.1', port, '/metrics')).status).toBe(200);
    const refused = await get(network, port, '/metrics');
    expect(refused.status).toBe(403);
    expect(refused.body).toMatch(/loopback callers only.*OTLP_CAPTURE_METRICS_TOKEN/);
    expect((await get(network, port, '/healthz')).status).toBe(200);
  });
  await withAdmin(new MetricsGate(new BearerAuth([]), true), async (port) => {
    expect((await get(network, port, '/metrics')).status).toBe(200);
  });
});

test('/readyz: 503 for everyone when not ready; why in words only for those who may read /metrics', async () => {
  const notReady: NotReady = { reason: 'blob_store', message: 'S3 unavailable: cannot reach https://minio.internal.example:9000 (bucket otlp-archive)' };
  const auth = new BearerAuth([{ token: 'scraper-7d1c', scopes: ['metrics'] }, { token: 'collector-93ab', scopes: ['ingest'] }]);
  const detailed = `not ready: ${notReady.message}\n`;
  await withAdmin(new MetricsGate(auth, false), async (port) => {
    expect(await get('127.0.0.1', port, '/readyz')).toMatchObject({ status: 503, body: detailed });
    expect(await get(network, port, '/readyz', { authorization: 'Bearer scraper-7d1c' })).toMatchObject({ status: 503, body: detailed });
    const anonymousOrWrong: Record<string, string>[] = [{}, { authorization: 'Bearer collector-93ab' }, { authorization: 'Bearer wrong' }];
    for (const headers of anonymousOrWrong) {
      const probe = await get(network, port, '/readyz', headers);
      expect(probe.status).toBe(503);
      expect(probe.body).toMatch(/^not ready: blob_store \(the log says why/);
      expect(probe.body).not.toMatch(/minio|otlp-archive|S3/);
    }
  }, notReady);
  await withAdmin(new MetricsGate(new BearerAuth([]), true), async (port) => {
    expect(await get(network, port, '/readyz')).toMatchObject({ status: 503, body: detailed });
  }, notReady);
});

/** A raw connection from `host` (as the peer address), resolved once connected; `closed` settles when the server ends it. */
async function idleConnection(host: string, port: number): Promise<{ socket: net.Socket; closed: Promise<number> }> {
  const socket = net.connect({ host, port });
  const began = Date.now();
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - began)));
  socket.on('error', () => {});
  // Flowing, so that the server's answer and FIN are read and 'close' fires when it ends the connection.
  socket.resume();
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, closed };
}

test('connections: a peer gets at most its share, others are still served; one that sends nothing is closed', async () => {
  const limits: AdminLimits = { maxConnections: 64, maxConnectionsPerPeer: 4, requestTimeoutMs: 400, keepAliveTimeoutMs: 200 };
  const admin = new AdminServer(new Metrics(), { notReady: () => null }, new MetricsGate(new BearerAuth([]), false), limits);
  const port = await admin.listen('0.0.0.0', 0);
  try {
    const held = await Promise.all([1, 2, 3, 4].map(() => idleConnection('127.0.0.1', port)));
    // The fifth from the same peer is closed at once, without an answer.
    const fifth = await idleConnection('127.0.0.1', port);
    expect(await fifth.closed).toBeLessThan(300);
    // Another peer (this machine's network address) is served meanwhile.
    expect((await get(network, port, '/healthz')).status).toBe(200);
    // The idle ones are closed after the request timeout, and the peer may connect again.
    const lifetimes = await Promise.all(held.map((connection) => connection.closed));
    for (const ms of lifetimes) {
      expect(ms).toBeGreaterThanOrEqual(350);
      expect(ms).toBeLessThan(5000);
    }
    expect((await get('127.0.0.1', port, '/healthz')).status).toBe(200);
  } finally {
    await admin.close();
  }
});
