// The transport limits of both gRPC servers — grpc-js with src/grpc/grpc-listener.ts (the API listener) and the OTLP
// listener's own HTTP/2 server (src/receiver/grpc/) — seen from a raw HTTP/2 client: the stream
// limit it announces, its keepalive pings, the idle limit, the connection cap, and keepalive enforcement — a client
// pinging too often (or without calls, when that is not permitted) gets GOAWAY ENHANCE_YOUR_CALM "too_many_pings"
// and loses the connection, while one that keeps to the interval keeps it.
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { GrpcListener } from '../../src/grpc/grpc-listener.js';
import { HealthService } from '../../src/grpc/health.js';
import { Http2GrpcServer } from '../../src/receiver/grpc/http2-grpc-server.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import type { Http2ListenerLimits } from '../../src/transport/http2-limits.js';
import { unary } from '../helpers/grpc-calls.js';

const BASE: Http2ListenerLimits = {
  maxReceiveBytes: 2 ** 20,
  maxConcurrentStreams: 100,
  maxConnections: 100,
  keepaliveTimeMs: 0,
  keepaliveTimeoutMs: 20_000,
  minPingIntervalMs: 1000,
  permitPingsWithoutCalls: true,
  maxConnectionIdleMs: 0,
  maxConnectionAgeMs: 0,
  maxConnectionAgeGraceMs: 0,
};

type ServerKind = 'grpc-js listener (API)' | 'OTLP listener (own HTTP/2 server)';
const KINDS: ServerKind[] = ['grpc-js listener (API)', 'OTLP listener (own HTTP/2 server)'];
let kind: ServerKind = KINDS[0]!;

const listeners: { shutdown(deadlineMs: number): Promise<void> }[] = [];
const sessions: http2.ClientHttp2Session[] = [];

afterEach(async () => {
  for (const session of sessions.splice(0)) session.destroy();
  for (const listener of listeners.splice(0)) await listener.shutdown(Date.now());
});

async function listen(limits: Partial<Http2ListenerLimits>): Promise<number> {
  if (kind === 'OTLP listener (own HTTP/2 server)') {
    const server = new Http2GrpcServer({
      name: 'test',
      transport: { ...BASE, initialWindowSize: 65_535, ...limits },
      tls: null,
      logger: silentLogger(),
    });
    new HealthService().addTo(server);
    listeners.push(server);
    return server.listen('127.0.0.1', 0);
  }
  const listener = new GrpcListener({
    name: 'test',
    host: '127.0.0.1',
    port: 0,
    limits: { ...BASE, ...limits },
    maxSendBytes: 2 ** 20,
    credentials: grpc.ServerCredentials.createInsecure(),
    logger: silentLogger(),
  });
  new HealthService().addTo(listener.server);
  listeners.push(listener);
  return listener.listen();
}

interface Watched {
  session: http2.ClientHttp2Session;
  connected: Promise<boolean>;
  goaway: Promise<{ code: number; data: string }>;
  closed: Promise<void>;
  pingsReceived: () => number;
}

function connect(port: number): Watched {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  sessions.push(session);
  session.on('error', () => undefined);
  let pings = 0;
  session.on('ping', () => (pings += 1));
  return {
    session,
    connected: new Promise((resolve) => {
      session.once('remoteSettings', () => resolve(true));
      session.once('close', () => resolve(false));
    }),
    goaway: new Promise((resolve) => session.once('goaway', (code, _last, data) => resolve({ code, data: data?.toString() ?? '' }))),
    closed: new Promise((resolve) => session.once('close', () => resolve())),
    pingsReceived: () => pings,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe.each(KINDS)('%s', (serverKind) => {
  beforeAll(() => {
    kind = serverKind;
  });

  test('announces maxConcurrentStreams in its SETTINGS', async () => {
    const client = connect(await listen({ maxConcurrentStreams: 7 }));
    expect(await client.connected).toBe(true);
    expect(client.session.remoteSettings.maxConcurrentStreams).toBe(7);
  });

  test('a ping flood ends in GOAWAY ENHANCE_YOUR_CALM "too_many_pings", and the connection is closed', async () => {
    const client = connect(await listen({ minPingIntervalMs: 1000 }));
    expect(await client.connected).toBe(true);
    for (let i = 0; i < 10; i++) client.session.ping(() => undefined);
    const goaway = await within(client.goaway, 5000, 'GOAWAY');
    expect(goaway).toEqual({ code: http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, data: 'too_many_pings' });
    await within(client.closed, 5000, 'close');
  });

  test('a client that keeps to minPingInterval keeps its connection, and calls on it work', async () => {
    const port = await listen({ minPingIntervalMs: 100 });
    const client = connect(port);
    expect(await client.connected).toBe(true);
    for (let i = 0; i < 6; i++) {
      await new Promise<void>((resolve, reject) => client.session.ping((error) => (error ? reject(error) : resolve())));
      await sleep(200);
    }
    expect(client.session.closed || client.session.destroyed).toBe(false);
    const answered = await Promise.race([client.goaway.then(() => 'goaway'), sleep(100).then(() => 'none')]);
    expect(answered).toBe('none');
    const health = await new Promise<number>((resolve) => {
      const stream = client.session.request({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers' });
      stream.on('response', () => undefined);
      stream.on('trailers', (trailers) => resolve(Number(trailers['grpc-status'])));
      stream.on('error', () => resolve(-1));
      stream.resume();
      stream.end(Buffer.from([0, 0, 0, 0, 0])); // an empty HealthCheckRequest
    });
    expect(health).toBe(grpc.status.OK);
  });

  test('without calls, pings are refused unless permitPingsWithoutCalls', async () => {
    const strict = connect(await listen({ minPingIntervalMs: 50, permitPingsWithoutCalls: false }));
    expect(await strict.connected).toBe(true);
    for (let i = 0; i < 5 && !strict.session.destroyed && !strict.session.closed; i++) {
      strict.session.ping(() => undefined);
      await sleep(100);
    }
    expect(await within(strict.goaway, 5000, 'GOAWAY')).toEqual({ code: http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, data: 'too_many_pings' });

    const lenient = connect(await listen({ minPingIntervalMs: 50, permitPingsWithoutCalls: true }));
    expect(await lenient.connected).toBe(true);
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve, reject) => lenient.session.ping((error) => (error ? reject(error) : resolve())));
      await sleep(100);
    }
    expect(lenient.session.closed).toBe(false);
  });

  test('the server pings every keepaliveTime', async () => {
    const client = connect(await listen({ keepaliveTimeMs: 200, keepaliveTimeoutMs: 5000 }));
    expect(await client.connected).toBe(true);
    await sleep(1100);
    expect(client.pingsReceived()).toBeGreaterThanOrEqual(2);
  });

  test('an idle connection is closed gracefully after maxConnectionIdle', async () => {
    const client = connect(await listen({ maxConnectionIdleMs: 300 }));
    expect(await client.connected).toBe(true);
    expect((await within(client.goaway, 5000, 'GOAWAY')).code).toBe(http2.constants.NGHTTP2_NO_ERROR);
  });

  test('maxConnections: connections beyond it are closed at once; those within are served', async () => {
    const port = await listen({ maxConnections: 2 });
    const first = connect(port);
    const second = connect(port);
    expect(await first.connected).toBe(true);
    expect(await second.connected).toBe(true);
    const third = connect(port);
    expect(await within(third.connected, 5000, 'an answer')).toBe(false);
    const health = await unary(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), 'grpc.health.v1.Health', 'Check', { service: '' });
    // Two are taken by the raw sessions: a third client is refused too, until one goes.
    expect(health.error?.code).toBe(grpc.status.UNAVAILABLE);
    first.session.destroy();
    await first.closed;
    await sleep(100);
    const again = await unary(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), 'grpc.health.v1.Health', 'Check', { service: '' });
    expect(again).toEqual({ error: null, response: { status: 'SERVING' } });
  });
});
