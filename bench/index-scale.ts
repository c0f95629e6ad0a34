// The index at archive scale: fill ClickHouse (Debian's 18.16 and a current engine, chdb behind the project's HTTP
// shim) and SQLite with synthetic request rows (index-synthetic.ts), then time the everyday questions at two sizes —
// in process (a read-only IndexStore, as `list` opens it) and from a new CLI process — to show they stay fast and do not
// grow with the table. Fills are resumable: the smaller size is measured on the way to the larger one.
//
// The ClickHouse fill goes through what the adapter's flusher sends (JSONEachRow batches of ≤ 100 k request rows, their
// trace rows, then their object rows, over @clickhouse/client): its rate is the index's insert rate. SQLite is filled
// through SqliteIndexStore.commitObject (one transaction per object), as the archiver commits.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { ClickHouseConnection } from '../src/index/clickhouse-connection.js';
import { ClickHouseIndexStore } from '../src/index/clickhouse-index-store.js';
import { objectRow, requestRow, traceRows } from '../src/index/clickhouse-rows.js';
import type { IndexStore } from '../src/index/index-store.js';
import { SqliteIndexStore } from '../src/index/sqlite-index-store.js';
import type { RequestFilter } from '../src/model.js';
import { SyntheticArchive, START_MS, type SyntheticObject } from './index-synthetic.js';
import { readSystemCpuSeconds } from './proc-stats.js';
import { waitForQuiet } from './quiet.js';
import { REPO_ROOT } from './servers.js';

const run = promisify(execFile);
/** Machine-wide busy CPU (% of one core) below which the shared machine counts as idle before a measurement. */
const QUIET_PERCENT = 25;
const CLI = path.join(REPO_ROOT, 'bin', 'otlp-capture.js');
const DATABASE = 'otlp_capture_bench';
const BATCH_ROWS = 100_000;

export type EngineName = 'clickhouse-18.16' | 'chdb' | 'sqlite';

export interface IndexScaleOptions {
  dir: string;
  engines: EngineName[];
  /** Sizes to measure ClickHouse at (rows), ascending. */
  clickhouseRows: number[];
  /** Sizes to measure SQLite at (rows), ascending. */
  sqliteRows: number[];
  queryRuns: number;
  cliRuns: number;
  /** Before measuring, wait up to this long for the machine to be idle (it is shared), seconds. */
  quietWaitSeconds: number;
  log(line: string): void;
}

export interface Timing {
  medianMs: number;
  maxMs: number;
}

export interface QueryResult {
  name: string;
  /** Rows returned (or the count / 0 for a miss), the same at every run. */
  answer: number;
  inProcess: Timing;
  cli: Timing | null;
  /** Machine-wide CPU busy (% of one core) while the in-process runs went on: other work on the shared machine. */
  busyPercent: number;
}

export interface SizeResult {
  engine: EngineName;
  rows: number;
  fill: { rows: number; seconds: number; rowsPerSecond: number };
  diskMiB: number | null;
  queries: QueryResult[];
}

interface Backend {
  name: EngineName;
  insert(objects: SyntheticObject[]): Promise<void>;
  reader(): Promise<IndexStore>;
  /** Environment and arguments for a CLI process reading this index. */
  cli: { env: NodeJS.ProcessEnv; args: string[] };
  diskMiB(): Promise<number | null>;
  close(): Promise<void>;
}

const BACKEND_ENV_OFF = { S3_ENDPOINT: undefined, S3_BUCKET: undefined, CLICKHOUSE_URL: undefined, CLICKHOUSE_DATABASE: undefined, CLICKHOUSE_CLUSTER: undefined };

async function clickhouseBackend(name: 'clickhouse-18.16' | 'chdb', dir: string): Promise<Backend> {
  mkdirSync(dir, { recursive: true });
  let url: string;
  let shim: ChildProcess | null = null;
  if (name === 'clickhouse-18.16') {
    const port = 28000 + Math.floor(Math.random() * 2000);
    await run(path.join(REPO_ROOT, 'scripts', 'start-clickhouse.sh'), [String(port), path.join(dir, 'server')]);
    url = `http://127.0.0.1:${port}`;
  } else {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'scripts', 'chdb-http-server.mjs'), '--dir', path.join(dir, 'chdb')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    shim = child;
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /ready (http:\/\/\S+)/.exec(out);
        if (match) resolve(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`chdb shim exited (${code})`)));
    });
  }
  // The schema, as serve creates it.
  const writer = new ClickHouseIndexStore({ url, database: DATABASE, outboxPath: path.join(dir, 'outbox.sqlite') });
  await writer.start();
  await writer.close();
  const connection = new ClickHouseConnection({ url, requestTimeoutMs: 600_000 });
  return {
    name,
    async insert(objects) {
      // What OutboxFlusher → insertBatch sends: requests, their trace rows, then the object rows. A socket the server
      // closed while idle is retried, as the flusher retries any failed batch.
      const version = Date.now();
      const send = async (table: string, rows: object[]): Promise<void> => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await connection.insert(`${DATABASE}.${table}`, rows);
          } catch (error) {
            if (attempt >= 3 || !/EPIPE|ECONNRESET|socket hang up/.test(String(error))) throw error;
          }
        }
      };
      await send('requests', objects.flatMap((o) => o.requests.map((r) => requestRow(r, version))));
      await send('trace_requests', traceRows(objects.flatMap((o) => o.requests)));
      await send('objects', objects.map((o) => objectRow(o.object, version)));
    },
    async reader() {
      const store = new ClickHouseIndexStore({ url, database: DATABASE, readonly: true, outboxPath: path.join(dir, 'no-outbox.sqlite') });
      await store.start();
      return store;
    },
    cli: { env: { ...BACKEND_ENV_OFF, CLICKHOUSE_URL: url, CLICKHOUSE_DATABASE: DATABASE }, args: ['--data-dir', path.join(dir, 'cli-data')] },
    async diskMiB() {
      const [row] = await connection.select<{ bytes: string }>(
        `SELECT toString(sum(bytes_on_disk)) AS bytes FROM system.parts WHERE database = '${DATABASE}' AND active`,
      );
      return Number(row?.bytes ?? 0) / 2 ** 20;
    },
    async close() {
      await connection.close();
      if (shim) {
        const exited = new Promise((resolve) => shim!.once('exit', resolve));
        shim.kill('SIGTERM');
        await exited;
      } else {
        await run(path.join(REPO_ROOT, 'scripts', 'stop-clickhouse.sh'), [path.join(dir, 'server')]);
      }
    },
  };
}

async function sqliteBackend(dir: string): Promise<Backend> {
  const dataDir = path.join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'index.sqlite');
  const writer = new SqliteIndexStore(file);
  await writer.start();
  return {
    name: 'sqlite',
    async insert(objects) {
      for (const { object, requests } of objects) await writer.commitObject(object, requests);
    },
    async reader() {
      const store = new SqliteIndexStore(file, { readonly: true });
      await store.start();
      return store;
    },
    cli: { env: BACKEND_ENV_OFF, args: ['--data-dir', dataDir] },
    async diskMiB() {
      const { statSync } = await import('node:fs');
      return statSync(file).size / 2 ** 20;
    },
    close: () => writer.close(),
  };
}

interface QueryCase {
  name: string;
  run(index: IndexStore): Promise<number>;
  cli: string[];
}

/** The everyday questions, at a point in the middle of the data (the same for every engine and size). */
function queryCases(rows: number): QueryCase[] {
  const middleMs = SyntheticArchive.receivedAt(Math.floor(rows / 2));
  const hour: RequestFilter = { sinceNs: BigInt(middleMs) * 1_000_000n, untilNs: BigInt(middleMs + 3_600_000) * 1_000_000n };
  const iso = (ns: bigint): string => new Date(Number(ns / 1_000_000n)).toISOString();
  const missingTrace = 'f00dfeedf00dfeedf00dfeedf00dfeed';
  const list = (filter: RequestFilter) => async (index: IndexStore) => (await index.listRequests({ ...filter, limit: 100 })).length;
  return [
    { name: 'list --limit 100 (oldest first)', run: list({}), cli: ['list', '--json'] },
    { name: 'list --newest', run: list({ newestFirst: true }), cli: ['list', '--json', '--newest'] },
    { name: 'list --service svc-7', run: list({ service: 'svc-7' }), cli: ['list', '--json', '--service', 'svc-7'] },
    { name: 'list --tenant tenant-7 --signal logs', run: list({ tenant: 'tenant-7', signal: 'logs' }), cli: ['list', '--json', '--tenant', 'tenant-7', '--signal', 'logs'] },
    {
      name: 'list one-hour --since/--until window',
      run: list(hour),
      cli: ['list', '--json', '--since', iso(hour.sinceNs!), '--until', iso(hour.untilNs!)],
    },
    { name: 'list --newest --tenant tenant-7 --signal logs', run: list({ newestFirst: true, tenant: 'tenant-7', signal: 'logs' }), cli: ['list', '--json', '--newest', '--tenant', 'tenant-7', '--signal', 'logs'] },
    { name: 'list --count', run: (index) => index.countRequests({}), cli: ['list', '--count'] },
    { name: 'list --count --tenant tenant-7 --signal logs', run: (index) => index.countRequests({ tenant: 'tenant-7', signal: 'logs' }), cli: ['list', '--count', '--tenant', 'tenant-7', '--signal', 'logs'] },
    { name: 'find-trace (miss)', run: async (index) => (await index.findTraceRequests(missingTrace)).length, cli: ['find-trace', missingTrace] },
  ];
}

function timing(samples: number[]): Timing {
  const sorted = [...samples].sort((a, b) => a - b);
  return { medianMs: sorted[Math.floor(sorted.length / 2)]!, maxMs: sorted[sorted.length - 1]! };
}

async function cliWall(backend: Backend, args: string[]): Promise<number> {
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args, ...backend.cli.args], {
      env: { ...process.env, ...backend.cli.env } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    // find-trace of a missing trace exits 1 ("no spans"); anything else is a failure of the run.
    child.once('exit', (code) => (code === 0 || (code === 1 && args[0] === 'find-trace') ? resolve() : reject(new Error(`${args.join(' ')}: exit ${code}: ${stderr}`))));
  });
  return performance.now() - started;
}

async function measure(backend: Backend, rows: number, options: IndexScaleOptions): Promise<QueryResult[]> {
  const index = await backend.reader();
  const results: QueryResult[] = [];
  try {
    for (const query of queryCases(rows)) {
      if (options.quietWaitSeconds > 0) await waitForQuiet(QUIET_PERCENT, options.quietWaitSeconds * 1000);
      const cpuBefore = readSystemCpuSeconds();
      const wallBefore = performance.now();
      const answer = await query.run(index); // warm-up
      const samples: number[] = [];
      for (let i = 0; i < options.queryRuns; i++) {
        const started = performance.now();
        const again = await query.run(index);
        samples.push(performance.now() - started);
        if (again !== answer) throw new Error(`${backend.name} ${query.name}: answered ${again}, then ${answer}`);
      }
      const cpuAfter = readSystemCpuSeconds();
      const busyPercent = ((cpuAfter.busy - cpuBefore.busy) / ((performance.now() - wallBefore) / 1000)) * 100;
      const cliSamples: number[] = [];
      for (let i = 0; i < options.cliRuns; i++) cliSamples.push(await cliWall(backend, query.cli));
      results.push({ name: query.name, answer, inProcess: timing(samples), cli: cliSamples.length > 0 ? timing(cliSamples) : null, busyPercent });
      options.log(
        `    ${query.name.padEnd(48)} ${String(answer).padStart(9)}  in process ${timing(samples).medianMs.toFixed(1).padStart(7)} ms` +
          (cliSamples.length > 0 ? `  CLI ${timing(cliSamples).medianMs.toFixed(0).padStart(5)} ms` : ''),
      );
    }
  } finally {
    await index.close();
  }
  return results;
}

export async function runIndexScale(options: IndexScaleOptions): Promise<SizeResult[]> {
  const results: SizeResult[] = [];
  for (const engine of options.engines) {
    const sizes = engine === 'sqlite' ? options.sqliteRows : options.clickhouseRows;
    if (sizes.length === 0) continue;
    const dir = path.join(options.dir, engine);
    rmSync(dir, { recursive: true, force: true });
    options.log(`index-scale ${engine}: filling to ${sizes.map((n) => `${n / 1e6} M`).join(', then ')} rows`);
    const backend = engine === 'sqlite' ? await sqliteBackend(dir) : await clickhouseBackend(engine, dir);
    try {
      const archive = new SyntheticArchive();
      let filledSeconds = 0;
      for (const size of sizes) {
        const started = performance.now();
        let batch: SyntheticObject[] = [];
        let batchRows = 0;
        let nextLog = archive.produced + 5_000_000;
        // One insert in flight while the next batch is generated (the server parses on the other core).
        let inFlight: Promise<void> = Promise.resolve();
        for (const object of archive.fillTo(size)) {
          batch.push(object);
          batchRows += object.requests.length;
          if (batchRows >= BATCH_ROWS || engine === 'sqlite') {
            await inFlight;
            inFlight = backend.insert(batch);
            batch = [];
            batchRows = 0;
          }
          if (archive.produced >= nextLog) {
            const seconds = (performance.now() - started) / 1000;
            options.log(`  ${(archive.produced / 1e6).toFixed(0)} M rows (${seconds.toFixed(0)} s this step)`);
            nextLog += 5_000_000;
          }
        }
        await inFlight;
        if (batch.length > 0) await backend.insert(batch);
        const seconds = (performance.now() - started) / 1000;
        filledSeconds += seconds;
        const stepRows = size - (results.filter((r) => r.engine === engine).at(-1)?.rows ?? 0);
        options.log(`  at ${size / 1e6} M rows: this step ${stepRows / 1e6} M rows in ${seconds.toFixed(0)} s (${Math.round(stepRows / seconds).toLocaleString('en-US')} rows/s)`);
        const queries = await measure(backend, size, options);
        results.push({
          engine,
          rows: size,
          fill: { rows: stepRows, seconds, rowsPerSecond: stepRows / seconds },
          diskMiB: await backend.diskMiB(),
          queries,
        });
      }
      options.log(`  ${engine}: filled in ${filledSeconds.toFixed(0)} s in all`);
    } finally {
      await backend.close();
    }
  }
  return results;
}

/** Start of the synthetic data, for reports. */
export const SYNTHETIC_START = new Date(START_MS).toISOString();
