// scripts/start-s3.sh prints the environment that points otlp-capture at the server it started; with exactly that
// environment the configured adapter works. scripts/stop-s3.sh stops it and removes the temp directory it made.
import { expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createBlobStore } from '../../src/app/components.js';
import { loadConfig } from '../../src/config/load.js';
import { BackendUnavailableError } from '../../src/errors.js';

const run = promisify(execFile);
const SCRIPTS = fileURLToPath(new URL('../../scripts/', import.meta.url));

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

it('start-s3.sh serves a bucket the S3 adapter can use with the printed environment; stop-s3.sh stops it', async () => {
  const port = await freePort();
  const started = await run('bash', [path.join(SCRIPTS, 'start-s3.sh'), String(port)]);
  try {
    const env = Object.fromEntries([...started.stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
    expect(env).toEqual({
      S3_ENDPOINT: `http://127.0.0.1:${port}`,
      S3_BUCKET: 'otlp-capture',
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY: 'S3RVER',
      S3_SECRET_KEY: 'S3RVER',
      S3_FORCE_PATH_STYLE: 'true',
      S3_CHECKSUMS: 'when_required',
    });
    expect(started.stderr).toMatch(/serves bucket 'otlp-capture'/);

    const store = await createBlobStore(loadConfig({ env }));
    await store.start();
    const writer = store.createWriter('from/script');
    await writer.write(Buffer.from('hello s3'));
    await writer.complete();
    expect((await store.readRange('from/script', 6, 2)).toString()).toBe('s3');
    await store.close();

    // A second start on the same port is refused clearly instead of starting a server that cannot listen.
    await expect(run('bash', [path.join(SCRIPTS, 'start-s3.sh'), String(port)])).rejects.toMatchObject({
      stderr: expect.stringMatching(/already runs on port/),
    });
  } finally {
    const stopped = await run('bash', [path.join(SCRIPTS, 'stop-s3.sh'), String(port)]);
    expect(stopped.stderr).toMatch(/stopped s3rver \(pid \d+\) and removed /);
  }
  const dataDir = /data in (\S+)\/data/.exec(started.stderr)![1]!;
  expect(existsSync(dataDir)).toBe(false);
  expect(existsSync(path.join(os.tmpdir(), `otlp-capture-s3rver-${port}.pid`))).toBe(false);
  const after = await createBlobStore(loadConfig({ env: { S3_BUCKET: 'otlp-capture', S3_ENDPOINT: `http://127.0.0.1:${port}`, S3_ACCESS_KEY: 'S3RVER', S3_SECRET_KEY: 'S3RVER', S3_FORCE_PATH_STYLE: 'true' } }));
  await expect(after.start()).rejects.toBeInstanceOf(BackendUnavailableError);
  await after.close();
}, 60_000);
