// A second, independent HTTP/2 + gRPC stack against the OTLP listener: gRPC C-core (Debian's python3-grpcio) with
// stubs that protoc and grpc_python_plugin generate from proto/ here. Export identity and gzip (stored byte for byte
// as sent), health, an authentication failure and an overload refusal whose RetryInfo C-core hands the caller.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROTO_DIR } from '../../../src/protos.js';
import { readArchive } from '../../helpers/archive-reader.js';
import { startCaptureInProcess, type InProcessCapture } from '../../helpers/capture-in-process.js';
import { EXPORT_TRACES_PATH, grpcHeaders } from '../../helpers/raw-grpc-call.js';

const PYTHON = '/usr/bin/python3';
const CLIENT = fileURLToPath(new URL('./grpcio_client.py', import.meta.url));
const TOKEN = 'grpcio-test-token';
const AUTH: [string, string] = ['authorization', `Bearer ${TOKEN}`];

interface PyOutcome {
  code: string;
  details: string;
  retry_delay_ms: number | null;
  response: string | null;
  sent?: string;
}

let stubs: string;
let capture: InProcessCapture;

/** Generates the Python stubs. grpc/health is generated as grpc_health/: the real `grpc` package would hide it. */
function generateStubs(): string {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'grpcio-stubs-'));
  const sources = path.join(out, 'src');
  const protos = execFileSync('find', ['.', '-name', '*.proto'], { cwd: PROTO_DIR, encoding: 'utf8' })
    .split('\n').filter((p) => p !== '' && !p.includes('grpc/health')).map((p) => p.replace(/^\.\//, ''));
  fs.mkdirSync(path.join(sources, 'grpc_health', 'v1'), { recursive: true });
  fs.copyFileSync(path.join(PROTO_DIR, 'grpc/health/v1/health.proto'), path.join(sources, 'grpc_health/v1/health.proto'));
  const plugin = '--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin';
  execFileSync('protoc', ['-I', PROTO_DIR, `--python_out=${out}`, `--grpc_python_out=${out}`, plugin, ...protos]);
  execFileSync('protoc', ['-I', sources, `--python_out=${out}`, `--grpc_python_out=${out}`, plugin, 'grpc_health/v1/health.proto']);
  return out;
}

/** Runs the client in a child process (asynchronously: the server under test shares this event loop). */
function runClient(calls: object[]): Promise<PyOutcome[]> {
  const spec = JSON.stringify({ address: capture.grpcAddress, calls });
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [CLIENT, spec], { env: { ...process.env, PYTHONPATH: stubs }, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`python client failed: ${error.message}\n${stderr}`));
      else resolve(stdout.trim().split('\n').map((line) => JSON.parse(line) as PyOutcome));
    });
  });
}

beforeAll(async () => {
  stubs = generateStubs();
  capture = await startCaptureInProcess({
    'auth.bearerTokens': [{ token: TOKEN }],
    'admission.maxInFlightBytes': '64KiB',
    'admission.maxWait': '300ms',
    'admission.retryAfter': '1500ms',
    'archiver.maxObjectAge': '200ms',
  });
});

afterAll(async () => {
  await capture?.dispose();
  if (stubs) fs.rmSync(stubs, { recursive: true, force: true });
});

const stored: string[] = [];

test('Export without and with gzip succeeds; health says SERVING', async () => {
  const [plain, gzipped, health] = await runClient([
    { kind: 'export', seed: 1, padding: 2000, compression: 'none', metadata: [AUTH] },
    { kind: 'export', seed: 2, padding: 20_000, compression: 'gzip', metadata: [AUTH] },
    { kind: 'health', service: '' },
  ]);
  expect(plain).toMatchObject({ code: 'OK', response: '' });
  expect(gzipped).toMatchObject({ code: 'OK', response: '' });
  expect(health).toMatchObject({ code: 'OK', response: 'SERVING' });
  stored.push(plain!.sent!, gzipped!.sent!);
});

test('without a token: UNAUTHENTICATED with the reason, and no RetryInfo', async () => {
  const [outcome] = await runClient([{ kind: 'export', seed: 3, compression: 'gzip', metadata: [] }]);
  expect(outcome).toMatchObject({ code: 'UNAUTHENTICATED', details: expect.stringMatching(/missing bearer token/), retry_delay_ms: null });
});

test('over the in-flight budget: UNAVAILABLE after the wait, with the RetryInfo delay in the trailing metadata', async () => {
  // Another client holds the budget: its 200 kB message is admitted (nothing else was in flight) and half sent.
  const session = http2.connect(`http://${capture.grpcAddress}`);
  const holder = session.request(grpcHeaders(EXPORT_TRACES_PATH, { authorization: AUTH[1] }));
  holder.on('error', () => undefined);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(200_000, 1);
  holder.write(Buffer.concat([prefix, Buffer.alloc(100_000)]));
  try {
    await waitForInFlight(capture.adminPort, (bytes) => bytes >= 200_000);
    const began = Date.now();
    const [refused] = await runClient([{ kind: 'export', seed: 4, metadata: [AUTH] }]);
    expect(refused).toMatchObject({ code: 'UNAVAILABLE', details: expect.stringMatching(/in flight/), retry_delay_ms: 1500 });
    expect(Date.now() - began).toBeGreaterThanOrEqual(300);
  } finally {
    holder.close(http2.constants.NGHTTP2_CANCEL);
    session.close();
  }
  // The holder gone, its room is free again.
  await waitForInFlight(capture.adminPort, (bytes) => bytes === 0);
  const [accepted] = await runClient([{ kind: 'export', seed: 5, metadata: [AUTH] }]);
  expect(accepted).toMatchObject({ code: 'OK' });
  stored.push(accepted!.sent!);
});

test('exactly the acknowledged requests are archived, byte for byte as C-core sent them', async () => {
  await capture.stop();
  const archive = await readArchive(capture.dataDir);
  expect(archive.map((entry) => entry.bytes.toString('base64')).sort()).toEqual([...stored].sort());
});

async function waitForInFlight(adminPort: number, done: (bytes: number) => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    const bytes = Number(/^otlpcapture_inflight_bytes (\d+)/m.exec(metrics)?.[1] ?? NaN);
    if (done(bytes)) return;
    if (Date.now() > deadline) throw new Error(`in-flight bytes stayed at ${bytes}`);
    await new Promise((wake) => setTimeout(wake, 20));
  }
}
