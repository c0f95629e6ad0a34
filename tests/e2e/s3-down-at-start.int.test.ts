// An S3 endpoint that is down when `serve` starts: serve still starts and acknowledges into the spool, /readyz says
// why it is not ready, and once S3 answers the backlog is archived — no restart needed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { startS3Server, type S3Server } from '../helpers/s3-server.js';
import { runCli, startServer } from '../helpers/server-process.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';

let dir: string;
let s3: S3Server;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-s3-down-'));
  s3 = await startS3Server();
}, 30_000);

afterAll(async () => {
  await s3?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test('serve starts without S3, acknowledges into the spool, reports not ready, and archives once S3 is up', async () => {
  await s3.stop();
  const config = path.join(dir, 'config.yaml');
  writeFileSync(config, 'archiver:\n  maxObjectAge: 200ms\n  retryInitialBackoff: 200ms\n  retryMaxBackoff: 1s\n');
  const env = s3.env();
  const server = await startServer(['--config', config, '--data-dir', path.join(dir, 'data')], { env });
  const client = new RawOtlpClient(server.grpcAddress);
  try {
    expect(server.output()).toMatch(/blob store|S3/i);
    const ready = await fetch(`http://127.0.0.1:${server.adminPort}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toMatch(/blob store unavailable/);

    const sent = Array.from({ length: 5 }, (_, i) => uniqueTraceRequest(i, 2000));
    for (const payload of sent) expect(await client.export('traces', payload)).toEqual({ ok: true });

    await s3.restart();
    await waitFor('readiness once S3 answers', async () => {
      const response = await fetch(`http://127.0.0.1:${server.adminPort}/readyz`);
      return response.status === 200 ? true : undefined;
    }, 30_000, 200);
    const listed = await waitFor('the spooled requests to be archived', async () => {
      const result = await runCli(['list', '--data-dir', path.join(dir, 'data'), '--json'], { env });
      const lines = result.stdout.toString().trim().split('\n').filter(Boolean);
      return lines.length === sent.length ? lines : undefined;
    }, 30_000, 300);
    expect(listed).toHaveLength(sent.length);
  } finally {
    client.close();
    await server.stop();
  }
}, 90_000);
