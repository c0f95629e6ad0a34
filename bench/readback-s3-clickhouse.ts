// The find-trace part of the read-back benchmark on the production pair: the same archive in s3rver, indexed in
// ClickHouse 18.16 (both started by bench/backends.ts, as for the ingest bench's S3 + ClickHouse cases).
//
// The objects are copied into the bucket as they are (the filesystem store's bytes, through the S3 adapter's streamed
// writer), then `otlp-capture reindex` builds the ClickHouse index from their manifests alone — request rows and, from
// manifest version 2, the trace rows — through the outbox, as a user rebuilds an index. find-trace is then measured
// in-process (the read side the CLI opens, from the S3_* / CLICKHOUSE_* environment) and as `otlp-capture find-trace`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createBlobStore } from '../src/app/components.js';
import { loadConfig } from '../src/config/load.js';
import { FsBlobStore } from '../src/storage/fs-blob-store.js';
import type { Stats } from './readback-archive.js';
import { startBackends } from './backends.js';
import { CLI, dropPageCache, measureFindTrace, measureFindTraceCli, type FindTraceResult } from './readback-measure.js';

const MIB = 2 ** 20;
/** Chunks handed to the S3 writer (its multipart parts are sized by the adapter). */
const COPY_CHUNK = 8 * MIB;

export interface S3ClickHouseFindTrace {
  objects: number;
  copiedBytes: number;
  copySeconds: number;
  reindexSeconds: number;
  /** `otlp-capture reindex`'s summary line. */
  reindexSummary: string;
  /** Rows in ClickHouse after reindex (trace_requests may hold duplicates until merged; lookups are DISTINCT). */
  requestRows: number;
  traceRows: number;
  findCold: FindTraceResult | null;
  findWarm: FindTraceResult;
  cli: Stats;
}

/** Copies every archive object of `dataDir` into the bucket `env` names. */
async function copyObjects(dataDir: string, env: Record<string, string>): Promise<{ objects: number; bytes: number }> {
  const source = new FsBlobStore(path.join(dataDir, 'objects'));
  await source.start();
  const target = await createBlobStore(loadConfig({ env: { ...process.env, ...env }, overrides: { dataDir } }));
  await target.start();
  let objects = 0;
  let bytes = 0;
  try {
    for await (const info of source.list('')) {
      if (!info.key.endsWith('.otlpc')) continue;
      const writer = target.createWriter(info.key);
      for (let at = 0; at < info.size; at += COPY_CHUNK) {
        await writer.write(await source.readRange(info.key, at, Math.min(COPY_CHUNK, info.size - at)));
      }
      await writer.complete();
      objects += 1;
      bytes += info.size;
    }
  } finally {
    await target.close();
    await source.close();
  }
  return { objects, bytes };
}

async function clickhouseCount(env: Record<string, string>, table: string): Promise<number> {
  return clickhouseNumber(env, `SELECT count() AS n FROM ${env.CLICKHOUSE_DATABASE}.${table}`);
}

async function clickhouseNumber(env: Record<string, string>, select: string): Promise<number> {
  const sql = `${select} FORMAT JSONEachRow`;
  const response = await fetch(env.CLICKHOUSE_URL!, { method: 'POST', body: sql, headers: { 'X-ClickHouse-User': 'default' } });
  const text = await response.text();
  if (!response.ok) throw new Error(`ClickHouse ${response.status}: ${text}`);
  return Number((JSON.parse(text) as { n: string }).n);
}

/** Runs in a new work directory under `dataDir` (s3rver's and ClickHouse's data), removed at the end. */
export async function measureS3ClickHouse(
  dataDir: string,
  sample: readonly string[],
  cliRuns: number,
  log: (line: string) => void,
): Promise<S3ClickHouseFindTrace> {
  const workDir = mkdtempSync(path.join(dataDir, 's3-clickhouse-'));
  const backends = await startBackends(workDir).catch((error: unknown) => {
    rmSync(workDir, { recursive: true, force: true });
    throw error;
  });
  try {
    const env = backends.env;
    // The read side's own data dir: only ClickHouse's outbox lives there (the objects are in the bucket).
    const chDataDir = path.join(workDir, 'data');
    mkdirSync(chDataDir, { recursive: true });

    let t0 = performance.now();
    const copied = await copyObjects(dataDir, env);
    const copySeconds = (performance.now() - t0) / 1000;
    log(`  copied ${copied.objects} objects (${(copied.bytes / 2 ** 30).toFixed(2)} GiB) into s3rver in ${copySeconds.toFixed(1)} s`);

    t0 = performance.now();
    const reindex = spawnSync(process.execPath, [CLI, 'reindex', '--data-dir', chDataDir], {
      env: { ...process.env, ...env, OTLP_CAPTURE_LOG_LEVEL: 'warn' },
      maxBuffer: 16 * MIB,
    });
    const reindexSeconds = (performance.now() - t0) / 1000;
    if (reindex.status !== 0) throw new Error(`reindex failed (${reindex.status}): ${reindex.stderr.toString()}`);
    const reindexSummary = reindex.stdout.toString().trim();
    const requestRows = await clickhouseCount(env, 'requests');
    const traceRows = await clickhouseCount(env, 'trace_requests');
    log(`  otlp-capture reindex into ClickHouse: ${reindexSeconds.toFixed(1)} s; ${requestRows} request rows, ${traceRows} trace rows`);
    // Measured on a settled index, as a production one mostly is: after the background merges the reindex's inserts
    // started (they take CPU from everything else on two cores meanwhile).
    const settled = performance.now();
    while ((await clickhouseNumber(env, 'SELECT count() AS n FROM system.merges')) > 0 && performance.now() - settled < 120_000) {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const parts = await clickhouseNumber(env, `SELECT count() AS n FROM system.parts WHERE database = '${env.CLICKHOUSE_DATABASE}' AND active`);
    log(`  ClickHouse's background merges done after ${((performance.now() - settled) / 1000).toFixed(1)} s more; ${parts} active parts`);

    const findCold = dropPageCache() ? await measureFindTrace(chDataDir, sample, env) : null;
    const findWarm = await measureFindTrace(chDataDir, sample, env);
    const cli = measureFindTraceCli(chDataDir, sample.slice(0, cliRuns), env);
    return {
      objects: copied.objects,
      copiedBytes: copied.bytes,
      copySeconds,
      reindexSeconds,
      reindexSummary,
      requestRows,
      traceRows,
      findCold,
      findWarm,
      cli,
    };
  } finally {
    await backends.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}
