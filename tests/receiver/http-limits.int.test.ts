// The OTLP/HTTP listener's transport limits (server.http.*), from raw sockets: a client that sends its headers too
// slowly, or its body too slowly, is cut off (408) near the configured timeout; an idle keep-alive connection is
// closed after keepAliveTimeout; connections beyond maxConnections are closed at once.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CaptureServer } from '../../src/app/capture-server.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { LOOPBACK_LISTENERS } from '../helpers/loopback-listeners.js';

let dir: string;
let server: CaptureServer;
let httpPort: number;
const sockets: net.Socket[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'http-limits-'));
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: path.join(dir, 'data'),
      ...LOOPBACK_LISTENERS,
      'server.http.headersTimeout': '600ms',
      'server.http.requestTimeout': '1200ms',
      'server.http.keepAliveTimeout': '400ms',
      'server.http.maxConnections': 3,
      'spool.durability': 'none',
      'log.level': 'silent',
    },
  });
  server = new CaptureServer(config, silentLogger());
  ({ http: httpPort } = await server.start());
});

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
});

afterAll(async () => {
  await server?.stop(10_000);
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Watched {
  socket: net.Socket;
  received: () => string;
  /** Milliseconds from connecting until the server closed the connection. */
  closed: Promise<number>;
}

function open(): Promise<Watched> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let text = '';
    const socket = net.connect(httpPort, '127.0.0.1');
    sockets.push(socket);
    const closed = new Promise<number>((done) => socket.once('close', () => done(performance.now() - started)));
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, received: () => text, closed }));
    socket.once('error', reject);
  });
}

test('headers sent too slowly: 408 and closed after about headersTimeout', async () => {
  const slow = await open();
  slow.socket.write('POST /v1/traces HTTP/1.1\r\nHost: capture\r\n'); // …and the rest never comes
  const ms = await slow.closed;
  expect(ms).toBeGreaterThan(500);
  expect(ms).toBeLessThan(5000);
  expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
});

test('a body sent too slowly: cut off after about requestTimeout, never acknowledged', async () => {
  const slow = await open();
  const body = uniqueTraceRequest(1);
  slow.socket.write(`POST /v1/traces HTTP/1.1\r\nHost: capture\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${body.length}\r\n\r\n`);
  slow.socket.write(body.subarray(0, 10)); // …and the rest never comes
  const ms = await slow.closed;
  expect(ms).toBeGreaterThan(1000);
  expect(ms).toBeLessThan(6000);
  expect(slow.received()).not.toMatch(/^HTTP\/1\.1 200 /);
});

test('an idle keep-alive connection is closed after keepAliveTimeout', async () => {
  const client = await open();
  const body = uniqueTraceRequest(2);
  client.socket.write(`POST /v1/traces HTTP/1.1\r\nHost: capture\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${body.length}\r\n\r\n`);
  client.socket.write(body);
  const ms = await client.closed;
  expect(client.received()).toMatch(/^HTTP\/1\.1 200 /);
  expect(ms).toBeGreaterThan(300);
  expect(ms).toBeLessThan(5000);
});

test('connections beyond maxConnections are closed at once', async () => {
  const held = await Promise.all([open(), open(), open()]);
  const fourth = await open();
  expect(await fourth.closed).toBeLessThan(2000);
  expect(fourth.received()).toBe('');
  // The three within the limit are still served.
  const body = uniqueTraceRequest(3);
  held[0]!.socket.write(`POST /v1/traces HTTP/1.1\r\nHost: capture\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
  held[0]!.socket.write(body);
  await held[0]!.closed;
  expect(held[0]!.received()).toMatch(/^HTTP\/1\.1 200 /);
});
