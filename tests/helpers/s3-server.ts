// A real S3-protocol server for tests: s3rver (node_modules) as a child process on 127.0.0.1, one per suite, on a
// free port and its own directory. It can be stopped (crash or hang) and started again on the same port and
// directory, as an outage test needs.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { S3_DEFAULTS, type S3Settings } from '../../src/storage/s3-settings.js';

export const S3RVER_BIN = fileURLToPath(new URL('../../node_modules/s3rver/bin/s3rver.js', import.meta.url));
/** s3rver's one built-in key pair (it checks the access key id, not the signature's secret). */
export const S3RVER_KEY = 'S3RVER';

export interface S3Server {
  readonly port: number;
  readonly endpoint: string;
  readonly dir: string;
  /** Created at start-up. */
  readonly bucket: string;
  readonly pid: number | undefined;
  /** Settings for an S3BlobStore on this server (checksums when_required, as s3rver needs). */
  settings(overrides?: Partial<S3Settings>): S3Settings;
  /** The S3_* environment variables that point `otlp-capture` at this server. */
  env(overrides?: Record<string, string>): Record<string, string>;
  createBucket(name: string): Promise<void>;
  /** Kills the server (SIGKILL: as a crash, connections drop). */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory. */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: the server keeps its sockets but answers nothing. */
  freeze(): void;
  thaw(): void;
  /** Stops the server and removes its directory (if the helper made it). */
  dispose(): Promise<void>;
}

export async function startS3Server(options: { bucket?: string; dir?: string } = {}): Promise<S3Server> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-s3rver-'));
  const bucket = options.bucket ?? 'otlp-capture';
  let child = await spawnS3rver(dir, 0, bucket);
  const port = child.port;
  const endpoint = `http://127.0.0.1:${port}`;
  const admin = new S3Client({
    endpoint,
    region: S3_DEFAULTS.region,
    forcePathStyle: true,
    credentials: { accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const stop = async (): Promise<void> => {
    const proc = child.proc;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGCONT');
    proc.kill('SIGKILL');
    await exited;
  };
  return {
    port,
    endpoint,
    dir,
    bucket,
    get pid() {
      return child.proc.pid;
    },
    settings: (overrides = {}) => ({
      ...S3_DEFAULTS,
      endpoint,
      bucket,
      forcePathStyle: true,
      accessKeyId: S3RVER_KEY,
      secretAccessKey: S3RVER_KEY,
      checksums: 'when_required',
      ...overrides,
    }),
    env: (overrides = {}) => ({
      S3_ENDPOINT: endpoint,
      S3_BUCKET: bucket,
      S3_REGION: S3_DEFAULTS.region,
      S3_ACCESS_KEY: S3RVER_KEY,
      S3_SECRET_KEY: S3RVER_KEY,
      S3_FORCE_PATH_STYLE: 'true',
      S3_CHECKSUMS: 'when_required',
      ...overrides,
    }),
    createBucket: async (name) => {
      await admin.send(new CreateBucketCommand({ Bucket: name }));
    },
    stop,
    restart: async () => {
      await stop();
      child = await spawnS3rver(dir, port, bucket);
    },
    freeze: () => {
      child.proc.kill('SIGSTOP');
    },
    thaw: () => {
      child.proc.kill('SIGCONT');
    },
    dispose: async () => {
      await stop();
      admin.destroy();
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function spawnS3rver(dir: string, port: number, bucket: string): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(
    process.execPath,
    // s3rver's ListObjectsV2 continuation tokens use DES, which OpenSSL 3 only has in its legacy provider: without it
    // any truncated listing fails with InternalError.
    ['--openssl-legacy-provider', S3RVER_BIN, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent', '--no-vhost-buckets', '--configure-bucket', bucket],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const listening = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`s3rver did not start in time:\n${output}`)), 15_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /S3rver listening on [^:\s]+:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with ${code} before listening:\n${output}`));
    });
  });
  // Keep draining its output so a chatty server never blocks on a full pipe.
  proc.stdout!.resume();
  proc.stderr!.resume();
  return { proc, port: listening };
}
