// The production backends for the S3 + ClickHouse cases, on loopback, started by the project's own scripts
// (scripts/start-s3.sh: s3rver from node_modules; scripts/start-clickhouse.sh: Debian's ClickHouse 18.16) on free
// ports with their data under the case's work directory, and stopped with the matching stop scripts. The capture
// server gets only the S3_* / CLICKHOUSE_* environment, as a user switches adapters.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { REPO_ROOT } from './servers.js';

const run = promisify(execFile);
const BUCKET = 'otlp-capture-bench';
const DATABASE = 'otlp_capture_bench';
/** s3rver's one built-in key pair. */
const S3RVER_KEY = 'S3RVER';

export interface BackendProcess {
  name: 's3rver' | 'clickhouse';
  pid: number;
}

/** What the index says about the objects written, from ClickHouse (deduplicated with FINAL, as every read is). */
export interface IndexedObjects {
  objects: number;
  requests: number;
  rawBytes: number;
  storedBytes: number;
  maxStoredBytes: number;
}

export interface Backends {
  /** Environment that points `otlp-capture serve` at these servers. */
  readonly env: Record<string, string>;
  readonly processes: readonly BackendProcess[];
  /** Sizes of every archive object in the bucket, as S3 lists them. */
  objectSizes(): Promise<number[]>;
  indexedObjects(): Promise<IndexedObjects>;
  /** Stops both servers (their data goes with the case's work directory). */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function script(name: string): string {
  return path.join(REPO_ROOT, 'scripts', name);
}

/** start-s3.sh records the pid where stop-s3.sh finds it: first line of this file. */
function s3rverPidFile(port: number): string {
  return path.join(process.env.TMPDIR ?? os.tmpdir(), `otlp-capture-s3rver-${port}.pid`);
}

export async function startBackends(workDir: string): Promise<Backends> {
  const s3Dir = path.join(workDir, 's3rver');
  const clickhouseDir = path.join(workDir, 'clickhouse');
  mkdirSync(s3Dir, { recursive: true });
  mkdirSync(clickhouseDir, { recursive: true });
  const [s3Port, clickhousePort] = [await freePort(), await freePort()];
  const env = { ...process.env, S3_BUCKET: BUCKET, CLICKHOUSE_PASSWORD: '' };

  const stopS3 = async (): Promise<void> => void (await run(script('stop-s3.sh'), [String(s3Port)], { env }).catch(() => undefined));
  const stopClickHouse = async (): Promise<void> =>
    void (await run(script('stop-clickhouse.sh'), [clickhouseDir], { env }).catch(() => undefined));

  const started = await Promise.allSettled([
    run(script('start-s3.sh'), [String(s3Port), s3Dir], { env }),
    run(script('start-clickhouse.sh'), [String(clickhousePort), clickhouseDir], { env }),
  ]);
  const failed = started.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failed) {
    await Promise.all([stopS3(), stopClickHouse()]);
    const error = failed.reason as { stderr?: string; message?: string };
    throw new Error(`could not start the S3 + ClickHouse backends: ${error.stderr?.trim() || error.message}`);
  }
  const processes: BackendProcess[] = [
    { name: 's3rver', pid: Number(readFileSync(s3rverPidFile(s3Port), 'utf8').split('\n')[0]) },
    { name: 'clickhouse', pid: Number(readFileSync(path.join(clickhouseDir, 'clickhouse-server.pid'), 'utf8').trim()) },
  ];

  const s3Endpoint = `http://127.0.0.1:${s3Port}`;
  const clickhouseUrl = `http://127.0.0.1:${clickhousePort}`;
  const s3 = new S3Client({
    endpoint: s3Endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });

  return {
    env: {
      S3_ENDPOINT: s3Endpoint,
      S3_BUCKET: BUCKET,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY: S3RVER_KEY,
      S3_SECRET_KEY: S3RVER_KEY,
      S3_FORCE_PATH_STYLE: 'true',
      // s3rver stores a streamed body's aws-chunked framing unless checksums are only sent when required.
      S3_CHECKSUMS: 'when_required',
      CLICKHOUSE_URL: clickhouseUrl,
      CLICKHOUSE_USER: 'default',
      CLICKHOUSE_PASSWORD: '',
      CLICKHOUSE_DATABASE: DATABASE,
    },
    processes,
    async objectSizes() {
      const sizes: number[] = [];
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: token }));
        for (const object of page.Contents ?? []) if (object.Key?.endsWith('.otlpc')) sizes.push(object.Size ?? 0);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
      return sizes;
    },
    async indexedObjects() {
      const sql = `SELECT count() AS objects, sum(request_count) AS requests, sum(raw_bytes) AS raw, sum(stored_bytes) AS stored,
        max(stored_bytes) AS maxStored FROM ${DATABASE}.objects FINAL FORMAT JSONEachRow`;
      const response = await fetch(clickhouseUrl, { method: 'POST', body: sql, headers: { 'X-ClickHouse-User': 'default' } });
      const text = await response.text();
      if (!response.ok) throw new Error(`ClickHouse ${response.status}: ${text}`);
      // 64-bit integers come as strings in JSONEachRow.
      const row = JSON.parse(text) as Record<string, string | number>;
      return { objects: Number(row.objects), requests: Number(row.requests), rawBytes: Number(row.raw), storedBytes: Number(row.stored),
        maxStoredBytes: Number(row.maxStored) };
    },
    async stop() {
      s3.destroy();
      await Promise.all([stopS3(), stopClickHouse()]);
    },
  };
}
