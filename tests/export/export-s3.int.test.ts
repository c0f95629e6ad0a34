// `otlp-capture export --to s3://bucket/prefix` against a real S3-protocol server (s3rver), with the S3 settings a
// user configures (S3_* environment; the archive itself stays on the filesystem): the Parquet files and markers land
// under the prefix, DuckDB reads the downloaded files back with the archive's counts, and --resume skips everything.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { buildMixedArchive, type MixedArchive } from '../helpers/mixed-archive.js';
import { S3RVER_KEY, startS3Server, type S3Server } from '../helpers/s3-server.js';
import { runCli } from '../helpers/server-process.js';

let dir: string;
let dataDir: string;
let archive: MixedArchive;
let s3: S3Server;
let client: S3Client;
const BUCKET = 'exports';

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-export-s3-'));
  dataDir = path.join(dir, 'data');
  archive = await buildMixedArchive(dataDir);
  await archive.close();
  s3 = await startS3Server();
  await s3.createBucket(BUCKET);
  client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY },
  });
});

afterAll(async () => {
  client?.destroy();
  await s3?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** The S3 settings without S3_BUCKET (which would move the archive itself to S3). */
function s3Env(): NodeJS.ProcessEnv {
  const { S3_BUCKET: _bucket, ...env } = s3.env();
  return { ...process.env, ...env };
}

async function listKeys(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((c) => c.Key!));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return keys.sort();
}

it('exports Parquet under an S3 prefix that DuckDB reads back, and --resume then skips every partition', async () => {
  const to = `s3://${BUCKET}/team-a/otlp`;
  const result = await runCli(['export', '--data-dir', dataDir, '--to', to, '--format', 'parquet'], { env: s3Env() });
  expect(result.stderr).not.toMatch(/otlp-capture:/);
  expect(result.code).toBe(0);
  expect(result.stdout.toString()).toMatch(/^exported \d+ rows in \d+ partitions .* from 36\/36 requests .* to s3:\/\/exports\/team-a\/otlp\//);

  const keys = await listKeys('team-a/otlp/');
  expect(keys.length).toBeGreaterThan(0);
  expect(keys.every((key) => /^team-a\/otlp\/signal=(traces|metrics|logs)\/tenant=(acme|globex)\/dt=2024-03-0[1-3]\/hour=\d\d\/(part-\d{5}\.parquet|_SUCCESS)$/.test(key))).toBe(true);
  const partitions = new Set(keys.map((key) => path.posix.dirname(key)));
  for (const partition of partitions) expect(keys).toContain(`${partition}/_SUCCESS`);

  // DuckDB cannot reach S3 here (no httpfs download): read the downloaded files.
  const local = path.join(dir, 'downloaded');
  for (const key of keys) {
    const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const file = path.join(local, key);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, await object.Body!.transformToByteArray());
  }
  const duck = await DuckDBInstance.create(':memory:');
  const db = await duck.connect();
  try {
    for (const signal of ['traces', 'metrics', 'logs'] as const) {
      const reader = await db.runAndReadAll(`SELECT count(*) AS n FROM read_parquet('${local}/team-a/otlp/signal=${signal}/*/*/*/*.parquet')`);
      const items = archive.requests.filter((r) => r.signal === signal).reduce((sum, r) => sum + r.items, 0);
      expect(Number((reader.getRowObjectsJS()[0] as { n: bigint }).n)).toBe(items);
    }
  } finally {
    db.closeSync();
    duck.closeSync();
  }

  const again = await runCli(['export', '--data-dir', dataDir, '--to', to, '--format', 'parquet', '--resume'], { env: s3Env() });
  expect(again.code).toBe(0);
  // Requests whose hour range includes an hour they hold no data for are read again (no marker says that hour is
  // done), but nothing is written: every partition they do hold data for is complete.
  expect(again.stdout.toString()).toMatch(/^exported 0 rows in 0 partitions \(0 files, 0 B\) from \d\/36 requests .*; \d\d requests skipped/);
  expect(await listKeys('team-a/otlp/')).toEqual(keys);
});

it('fails with one clear line when the bucket does not exist', async () => {
  const result = await runCli(['export', '--data-dir', dataDir, '--to', 's3://no-such-bucket/x', '--format', 'otlp-json'], { env: s3Env() });
  expect(result.code).toBe(1);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(/no-such-bucket/);
});
