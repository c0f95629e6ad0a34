// The container health check (Dockerfile HEALTHCHECK, and the same command in docker-compose.yaml), run for real
// against otlp-capture's admin server: exit 0 only while /readyz says ready; 1 when not ready, when nothing
// listens, and when the server never answers (within its own 2 s timeout, before Docker's).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { BearerAuth } from '../../src/admission/auth.js';
import { AdminServer } from '../../src/telemetry/admin-server.js';
import { MetricsGate } from '../../src/telemetry/metrics-access.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { composeServices, readCompose } from './compose-model.js';
import { execForm, parseDockerfile } from './dockerfile.js';
import { repoPath, tree } from './repo-yaml.js';

const stages = parseDockerfile(readFileSync(repoPath('deploy/Dockerfile'), 'utf8'));
const dockerfileCheck = execForm(stages[stages.length - 1]!.instructions.find((i) => i.keyword === 'HEALTHCHECK')!.args)!;
const composeCheck = (tree(composeServices(readCompose()).get('otlp-capture')!.raw.healthcheck, 'healthcheck').test as string[]).slice(1);

let notReady: string | null = null;
const admin = new AdminServer(
  new Metrics(),
  { notReady: () => (notReady === null ? null : { reason: 'stopping', message: notReady }) },
  new MetricsGate(new BearerAuth([]), false),
);
let port = 0;

beforeAll(async () => {
  port = await admin.listen('127.0.0.1', 0);
});

afterAll(async () => {
  await admin.close();
});

/** Runs a health check command against `targetPort` instead of 8888; resolves to its exit code. */
function run(command: string[], targetPort: number): Promise<{ code: number; ms: number }> {
  const started = Date.now();
  const [program, ...args] = command.map((arg) => arg.replace('127.0.0.1:8888/', `127.0.0.1:${targetPort}/`));
  expect(program).toBe('node');
  return new Promise((resolve) => {
    execFile(process.execPath, args, { timeout: 10_000 }, (error) => {
      resolve({ code: error ? Number((error as { code?: unknown }).code) : 0, ms: Date.now() - started });
    });
  });
}

test('the Dockerfile and docker-compose.yaml run the same check', () => {
  expect(composeCheck).toEqual(dockerfileCheck);
});

test('exit 0 while ready, 1 while /readyz answers 503', async () => {
  notReady = null;
  expect((await run(dockerfileCheck, port)).code).toBe(0);
  notReady = 'stopping';
  expect((await run(dockerfileCheck, port)).code).toBe(1);
  notReady = null;
});

test('exit 1 when nothing listens on the port', async () => {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  expect((await run(dockerfileCheck, closedPort)).code).toBe(1);
});

test('exit 1 within about 2 s when the server accepts but never answers', async () => {
  const sockets: net.Socket[] = [];
  const silent = net.createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    const { code, ms } = await run(dockerfileCheck, (silent.address() as AddressInfo).port);
    expect(code).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(1900);
    expect(ms).toBeLessThan(3000 + 2000);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
});
