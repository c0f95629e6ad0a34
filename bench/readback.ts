// Read-back benchmark: find-trace latency over a >= 1 GiB archive of traces (several million spans), the cost of the
// trace index at commit, per-request Bloom filters for comparison, and replay throughput to a discard sink.
//
//   npx tsc -p tsconfig.build.json && npx tsc -p tsconfig.bench.json && node bench/dist/bench/readback.js [options]
//
// Options: --gib N (archive size, default 1.25) --object-mib N (default 64) --lookups N (default 100)
//          --data-dir DIR (build there, or reuse an archive built there before; default: a temp dir, removed)
//          --keep (keep the temp dir) --concurrency LIST (replay, default 1,4,8,16)
//          --no-replay (skip the replay part) --cli-runs N (otlp-capture find-trace runs per pair, default 10)
//          --no-s3-clickhouse (skip find-trace on s3rver + ClickHouse 18.16; needs Debian's clickhouse-server)
//          --index-growth (also: commit cost of the trace index as it grows to 5.4 M rows, two layouts; ~5 min)
// Prints tables and writes bench/results/readback-<time>.json.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildArchive, SPREAD, worstCaseCommit, type BuiltArchive, type Stats } from './readback-archive.js';
import { measureBloom } from './readback-bloom.js';
import { measureIndexGrowth, type GrowthPoint } from './readback-index-growth.js';
import { describeMachine } from './machine.js';
import {
  dropPageCache,
  measureCliStartup,
  measureFindTrace,
  measureFindTraceCli,
  measureReplay,
  measureReplayCli,
  startDiscardSink,
  type FindTraceResult,
} from './readback-measure.js';
import { measureS3ClickHouse, type S3ClickHouseFindTrace } from './readback-s3-clickhouse.js';

const RESULTS = fileURLToPath(new URL('../../results/', import.meta.url));
const MIB = 2 ** 20;

interface Options {
  gib: number;
  objectMib: number;
  lookups: number;
  dataDir: string | undefined;
  keep: boolean;
  concurrency: number[];
  indexGrowth: boolean;
  replay: boolean;
  cliRuns: number;
  s3ClickHouse: boolean;
}

function parse(argv: string[]): Options {
  const options: Options = { gib: 1.25, objectMib: 64, lookups: 100, dataDir: undefined, keep: false, concurrency: [1, 4, 8, 16], indexGrowth: false, replay: true, cliRuns: 10, s3ClickHouse: true };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => argv[++i] ?? '';
    if (flag === '--gib') options.gib = Number(value());
    else if (flag === '--object-mib') options.objectMib = Number(value());
    else if (flag === '--lookups') options.lookups = Number(value());
    else if (flag === '--data-dir') options.dataDir = value();
    else if (flag === '--keep') options.keep = true;
    else if (flag === '--index-growth') options.indexGrowth = true;
    else if (flag === '--no-replay') options.replay = false;
    else if (flag === '--cli-runs') options.cliRuns = Number(value());
    else if (flag === '--no-s3-clickhouse') options.s3ClickHouse = false;
    else if (flag === '--concurrency') options.concurrency = value().split(',').map(Number);
    else throw new Error(`unknown option ${flag} (see the header of bench/readback.ts)`);
  }
  return options;
}

const ms = (s: Stats): string => `p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, mean ${s.mean.toFixed(1)} ms, max ${s.max.toFixed(1)} ms`;

/** `count` distinct ids picked with a seeded generator, so runs over the same archive look up the same traces. */
function sample(ids: readonly string[], count: number): string[] {
  let state = 12345;
  const picked = new Set<string>();
  while (picked.size < Math.min(count, ids.length)) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    picked.add(ids[state % ids.length]!);
  }
  return [...picked];
}

function logFindTrace(cold: FindTraceResult | null, warm: FindTraceResult, log: (line: string) => void): void {
  log(`  in-process, read-only index opened once as the CLI does; cold page cache: ${cold ? ms(cold.latencyMs) : '(not measured: dropping caches needs root)'}`);
  log(`  in-process, warm page cache: ${ms(warm.latencyMs)}`);
  log(`  the index lookup alone (findTraceRequests), warm: ${ms(warm.indexLookupMs)}`);
  log(
    `  per trace: ${warm.spansPerTrace.toFixed(1)} spans from ${warm.requestsPerTrace.toFixed(1)} requests, ` +
      `${(warm.bytesReadPerTrace / 1024).toFixed(0)} KiB range-read`,
  );
}

/** Replays the whole archive to a discard sink at each concurrency, then with a time shift, then through the CLI. */
async function runReplays(dataDir: string, archive: BuiltArchive, concurrencies: number[], log: (line: string) => void): Promise<unknown[]> {
  const sink = await startDiscardSink();
  const replays: unknown[] = [];
  try {
    log(`\nreplay of the whole archive (${(archive.rawBytes / 2 ** 30).toFixed(2)} GiB) to a discard sink on loopback (in-process engine):`);
    for (const concurrency of concurrencies) {
      const result = await measureReplay(dataDir, sink.address, concurrency, { kind: 'none' });
      replays.push(result);
      log(`  concurrency ${String(concurrency).padStart(2)}, no time shift: ${result.mibPerSecond.toFixed(1)} MiB/s (${result.seconds.toFixed(1)} s, delivered ${result.delivered})`);
    }
    const best = Math.max(...concurrencies);
    const shifted = await measureReplay(dataDir, sink.address, best, { kind: 'now' });
    replays.push(shifted);
    log(`  concurrency ${String(best).padStart(2)}, --time-shift now: ${shifted.mibPerSecond.toFixed(1)} MiB/s (${shifted.seconds.toFixed(1)} s)`);
    const viaCli = measureReplayCli(dataDir, sink.address, 8, archive.rawBytes);
    log(`  otlp-capture replay --concurrency 8 (process start-up included): ${viaCli.mibPerSecond.toFixed(1)} MiB/s; "${viaCli.summary}"`);
    replays.push({ cli: viaCli });
  } finally {
    await sink.stop();
  }
  return replays;
}

async function main(): Promise<void> {
  const options = parse(process.argv.slice(2));
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  const machine = describeMachine(os.tmpdir());
  log(`machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}; disk: ${machine.disk}`);
  const temp = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-readback-'));
  mkdirSync(dataDir, { recursive: true });
  const saved = path.join(dataDir, 'readback-archive.json');
  try {
    let archive: BuiltArchive;
    if (existsSync(saved)) {
      archive = JSON.parse(readFileSync(saved, 'utf8')) as BuiltArchive;
      log(`reusing the archive in ${dataDir}`);
    } else {
      log(`building a ${options.gib} GiB trace archive in ${dataDir} (ObjectBuilder + SQLite, ${options.objectMib} MiB objects)...`);
      let lastShown = 0;
      archive = await buildArchive({
        dataDir,
        targetBytes: options.gib * 2 ** 30,
        objectBytes: options.objectMib * MIB,
        onProgress: (done, total) => {
          if (done - lastShown >= total / 10 || done === total) {
            lastShown = done;
            log(`  ${done}/${total} requests`);
          }
        },
      });
      writeFileSync(saved, JSON.stringify(archive));
    }
    log(
      `archive: ${archive.requests} requests, ${(archive.spans / 1e6).toFixed(2)} M spans, ${(archive.rawBytes / 2 ** 30).toFixed(2)} GiB raw, ` +
        `${(archive.storedBytes / 2 ** 30).toFixed(2)} GiB stored in ${archive.objects} objects, ${archive.traceIds.length} traces ` +
        `(each in ${SPREAD} requests of ${SPREAD} objects); built in ${archive.buildSeconds.toFixed(0)} s`,
    );
    log(
      `index: ${(archive.indexBytes / MIB).toFixed(1)} MiB with the trace table, ${(archive.indexWithoutTracesBytes / MIB).toFixed(1)} MiB without ` +
        `(${((archive.indexBytes - archive.indexWithoutTracesBytes) / (archive.commit.traceRowsPerObject * archive.commit.objects)).toFixed(0)} bytes per trace row)`,
    );
    log(`\ncommit cost per ${options.objectMib} MiB object (${archive.commit.traceRowsPerObject} trace rows), SQLite synchronous=FULL:`);
    log(`  commitObject with trace rows:    ${ms(archive.commit.withTracesMs)}`);
    log(`  commitObject without trace rows: ${ms(archive.commit.withoutTracesMs)}`);
    log(`  spanTraceIds over the object:    ${ms(archive.commit.traceIdScanMs)}`);
    log(`  longest event-loop stall in a commit with trace rows: ${ms(archive.commit.longestStallMs)}`);
    const worst = await worstCaseCommit(dataDir, 8, Math.round(options.objectMib));
    log(`  worst case, every span its own trace (${worst.rowsPerObject} rows): ${ms(worst.ms)}`);

    let growth: GrowthPoint[] = [];
    if (options.indexGrowth) {
      log(`\ntrace index growth: commits of ${archive.commit.traceRowsPerObject} random trace rows, generations vs one trace-id key:`);
      growth = await measureIndexGrowth(dataDir, 200, archive.commit.traceRowsPerObject, 25);
      for (const point of growth) {
        log(
          `  ${point.rowsMillions.toFixed(2)} M rows: generations p50 ${point.generations.commitMs.p50.toFixed(0)} ms ` +
            `(max ${point.generations.commitMs.max.toFixed(0)}, WAL ${point.generations.walMiB.toFixed(0)} MiB); ` +
            `single key p50 ${point.singleKey.commitMs.p50.toFixed(0)} ms (max ${point.singleKey.commitMs.max.toFixed(0)}, WAL ${point.singleKey.walMiB.toFixed(0)} MiB)`,
        );
      }
    }

    const ids = sample(archive.traceIds, options.lookups);
    const cold = dropPageCache();
    const findCold = cold ? await measureFindTrace(dataDir, ids) : null;
    const findWarm = await measureFindTrace(dataDir, ids);
    log(`\nfind-trace over ${ids.length} random trace ids, embedded default (filesystem + SQLite):`);
    logFindTrace(findCold, findWarm, log);
    const startup = measureCliStartup(options.cliRuns);
    const cli = measureFindTraceCli(dataDir, ids.slice(0, options.cliRuns));
    log(`  otlp-capture find-trace (new process each, Node start-up included), ${options.cliRuns} ids: ${ms(cli)}`);
    log(`  otlp-capture --help (start-up alone), ${options.cliRuns} runs: ${ms(startup)}`);

    let s3ClickHouse: S3ClickHouseFindTrace | null = null;
    if (options.s3ClickHouse) {
      log(`\nfind-trace over the same ids, s3rver + ClickHouse 18.16 (bench/backends.ts; the objects copied, the index rebuilt by reindex):`);
      s3ClickHouse = await measureS3ClickHouse(dataDir, ids, options.cliRuns, log);
      logFindTrace(s3ClickHouse.findCold, s3ClickHouse.findWarm, log);
      log(`  otlp-capture find-trace (new process each, Node start-up included), ${options.cliRuns} ids: ${ms(s3ClickHouse.cli)}`);
    }

    const bloom = await measureBloom(dataDir, ids);
    log(`\nalternative: per-request Bloom filters (1 % false positives) on the same archive:`);
    log(
      `  ${(bloom.bytesTotal / 1024).toFixed(0)} KiB for ${bloom.requests} requests (${bloom.bytesPerTraceRow.toFixed(2)} bytes per trace row); ` +
        `lookup (read + test every filter): ${ms(bloom.lookupMs)}; ${bloom.falsePositivesPerLookup.toFixed(1)} false-positive requests per lookup`,
    );
    log(`  find with Bloom filters (filters, then every candidate read and filtered, warm cache): ${ms(bloom.findMs)}`);

    const replays = options.replay ? await runReplays(dataDir, archive, options.concurrency, log) : [];

    mkdirSync(RESULTS, { recursive: true });
    const file = path.join(RESULTS, `readback-${new Date().toISOString().replace(/:/g, '-')}.json`);
    const { traceIds: _ids, ...archiveSummary } = archive;
    writeFileSync(file, JSON.stringify({ machine, options, archive: archiveSummary, worst, growth, findCold, findWarm, cli, startup, s3ClickHouse, bloom, replays }, null, 2));
    log(`\nresults: ${file}`);
  } finally {
    if (temp && !options.keep) rmSync(dataDir, { recursive: true, force: true });
    else log(`archive kept in ${dataDir}`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
