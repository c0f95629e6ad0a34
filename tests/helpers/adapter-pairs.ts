// The two adapter pairs otlp-capture ships — the embedded default (filesystem blob store + SQLite index) and S3 +
// ClickHouse — behind one interface, so that an end-to-end suite runs the very same cases against both
// (`describe.each(ADAPTER_PAIRS)`). The production pair runs on real servers started here: s3rver and Debian's
// ClickHouse 18.16, via tests/helpers/s3-server.ts and tests/helpers/clickhouse-server.ts. `serve` and the read
// commands pick their adapters from the environment only, as a user switches them.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { RequestView } from '../../src/query/request-view.js';
import { startClickHouse } from './clickhouse-server.js';
import { startS3Server } from './s3-server.js';
import { runCli } from './server-process.js';

/** Every variable that switches otlp-capture to S3 or ClickHouse; the embedded pair unsets them all. */
const BACKEND_ENV = [
  'S3_ENDPOINT', 'S3_BUCKET', 'S3_REGION', 'S3_ACCESS_KEY', 'S3_SECRET_KEY', 'S3_FORCE_PATH_STYLE', 'S3_CHECKSUMS',
  'CLICKHOUSE_URL', 'CLICKHOUSE_USER', 'CLICKHOUSE_PASSWORD', 'CLICKHOUSE_DATABASE', 'CLICKHOUSE_CLUSTER',
] as const;

export interface AdapterPair {
  readonly name: string;
  /**
   * Environment for `serve` and the read commands (merged over process.env; an undefined value unsets a variable, so
   * a developer's own S3_* / CLICKHOUSE_* never turn the embedded run into something else).
   */
  readonly env: NodeJS.ProcessEnv;
  /** What `serve`'s start-up log line must say about its blob store and index: proof of which adapters it chose. */
  readonly servingLog: RegExp;
  /** Keys of every archive object in the pair's blob store, read from the store itself, not through the index. */
  objectKeys(dataDir: string): Promise<string[]>;
  /**
   * Ids of every request row in the pair's index backend, read from the backend itself (for ClickHouse: the rows the
   * outbox has already flushed, deduplicated by FINAL as every read is).
   */
  indexedIds(dataDir: string): Promise<string[]>;
  /** `otlp-capture list --json`, as a user runs it against this pair. */
  list(dataDir: string, ...args: string[]): Promise<RequestView[]>;
  /** `otlp-capture get ID --format F` (stdout). */
  get(dataDir: string, id: string, format?: 'proto' | 'json'): Promise<Buffer>;
  /** Stops the pair's servers and removes their data. */
  dispose(): Promise<void>;
}

export interface AdapterPairSpec {
  readonly name: string;
  start(): Promise<AdapterPair>;
}

function readCommands(env: NodeJS.ProcessEnv): Pick<AdapterPair, 'list' | 'get'> {
  return {
    async list(dataDir, ...args) {
      const result = await runCli(['list', '--data-dir', dataDir, '--json', '--limit', '100000', ...args], { env });
      if (result.code !== 0) throw new Error(`list failed (${result.code}): ${result.stderr}`);
      const text = result.stdout.toString('utf8').trim();
      return text === '' ? [] : text.split('\n').map((line) => JSON.parse(line) as RequestView);
    },
    async get(dataDir, id, format = 'proto') {
      const result = await runCli(['get', id, '--data-dir', dataDir, '--format', format], { env });
      if (result.code !== 0) throw new Error(`get failed (${result.code}): ${result.stderr}`);
      return result.stdout;
    },
  };
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const unsetBackends = (): NodeJS.ProcessEnv => Object.fromEntries(BACKEND_ENV.map((name) => [name, undefined]));

export const EMBEDDED_PAIR: AdapterPairSpec = {
  name: 'embedded default (filesystem + SQLite)',
  start: async () => {
    const env = unsetBackends();
    return {
      name: EMBEDDED_PAIR.name,
      env,
      servingLog: /"blobStore":"filesystem [^"]*objects","index":"sqlite [^"]*index\.sqlite"/,
      objectKeys: async (dataDir) => {
        const root = path.join(dataDir, 'objects');
        return readdirSync(root, { recursive: true, encoding: 'utf8' })
          .filter((name) => name.endsWith('.otlpc'))
          .map((name) => name.split(path.sep).join('/'))
          .sort();
      },
      indexedIds: async (dataDir) => {
        const db = new Database(path.join(dataDir, 'index.sqlite'), { readonly: true, fileMustExist: true });
        try {
          return db.prepare('SELECT id FROM requests ORDER BY id').pluck().all() as string[];
        } finally {
          db.close();
        }
      },
      ...readCommands(env),
      dispose: async () => undefined,
    };
  },
};

/** The ClickHouse database each production pair indexes into (the server is private to the pair). */
const CLICKHOUSE_DATABASE = 'otlp_capture_e2e';

export const S3_CLICKHOUSE_PAIR: AdapterPairSpec = {
  name: 's3rver + ClickHouse 18.16',
  start: async () => {
    const [s3Started, clickhouseStarted] = await Promise.allSettled([startS3Server(), startClickHouse()]);
    if (s3Started.status === 'rejected' || clickhouseStarted.status === 'rejected') {
      if (s3Started.status === 'fulfilled') await s3Started.value.dispose();
      if (clickhouseStarted.status === 'fulfilled') await clickhouseStarted.value.dispose();
      throw s3Started.status === 'rejected' ? s3Started.reason : (clickhouseStarted as PromiseRejectedResult).reason;
    }
    const s3 = s3Started.value;
    const clickhouse = clickhouseStarted.value;
    const env: NodeJS.ProcessEnv = {
      ...unsetBackends(),
      ...s3.env(),
      CLICKHOUSE_URL: clickhouse.url,
      CLICKHOUSE_USER: 'default',
      CLICKHOUSE_PASSWORD: '',
      CLICKHOUSE_DATABASE,
    };
    const settings = s3.settings();
    const client = new S3Client({
      endpoint: settings.endpoint,
      region: settings.region,
      forcePathStyle: true,
      credentials: { accessKeyId: settings.accessKeyId!, secretAccessKey: settings.secretAccessKey! },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    return {
      name: S3_CLICKHOUSE_PAIR.name,
      env,
      servingLog: new RegExp(
        `"blobStore":"${escapeRegExp(`s3://${s3.bucket}/ at ${s3.endpoint}`)}","index":"${escapeRegExp(`clickhouse ${clickhouse.url} database ${CLICKHOUSE_DATABASE}`)}`,
      ),
      objectKeys: async () => {
        const keys: string[] = [];
        let token: string | undefined;
        do {
          const page = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, ContinuationToken: token }));
          for (const object of page.Contents ?? []) keys.push(object.Key!);
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token !== undefined);
        return keys.sort();
      },
      indexedIds: async () => {
        const rows = await clickhouse.query<{ id: string }>(`SELECT id FROM ${CLICKHOUSE_DATABASE}.requests FINAL ORDER BY id`);
        return rows.map((row) => row.id);
      },
      ...readCommands(env),
      dispose: async () => {
        client.destroy();
        await Promise.allSettled([s3.dispose(), clickhouse.dispose()]);
      },
    };
  },
};

export const ADAPTER_PAIRS: readonly AdapterPairSpec[] = [EMBEDDED_PAIR, S3_CLICKHOUSE_PAIR];
