// One case: start the server under test, drive it from a separate load generator process for the warm-up and the
// measurement window, watch the server's memory and both processes' CPU from /proc, stop the server, collect. A case on
// S3 + ClickHouse first starts those two servers (watched the same way) and reads its archive from them.
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { scrapeCounters, type ServerCounters } from './admin-metrics.js';
import { coldCompress, type ColdCompressResult } from './cold-compress.js';
import { readArchiveStats, readBackendArchiveStats, type ArchiveStats, type BucketStats } from './archive-stats.js';
import { startBackends, type BackendProcess, type Backends } from './backends.js';
import type { BenchCase } from './cases.js';
import type { LoadMessage, LoadResult, LoadSpec } from './load-spec.js';
import type { BenchOptions } from './options.js';
import type { PayloadFile } from './payloads.js';
import { ProcessWatch, cpuSnapshot, cpuUse, readCpuSeconds, type CpuSnapshot, type CpuUse } from './proc-stats.js';
import { REPO_ROOT, startCaptureServer, startDiscardServer, type RunningServer } from './servers.js';

const MAX_RECEIVE_BYTES = 64 * 2 ** 20; // the capture server's default server.grpc.maxReceiveBytes

export interface CaseResult {
  case: BenchCase;
  load: LoadResult;
  server: {
    peakRssBytes: number;
    /** CPU seconds the server used from the end of its start-up to its exit, including archiving what was left. */
    totalCpuSeconds: number;
    /** totalCpuSeconds per request acknowledged over the run (warm-up included), ms: the whole cost of a request. */
    cpuMsPerRequest: number;
    /** totalCpuSeconds per GiB acknowledged over the run (uncompressed request bytes). */
    cpuSecondsPerGiB: number;
    stopSeconds: number;
    stopKilled: boolean;
    counters: ServerCounters | null;
  };
  /** Capture cases: the spool as /metrics showed it every second, from the start of the load to the server's stop. */
  backlog: BacklogSample[];
  /** CPU during the measurement window, in % of one core. */
  cpu: CpuUse;
  archive: ArchiveStats | null;
  /** In-flight budget + 200 MiB, for the overload case. */
  rssLimitBytes: number | null;
  /** S3 + ClickHouse cases: the backend servers and what the bucket holds; null on the embedded default. */
  backends: BackendsResult | null;
  /** Sustained capture cases on the embedded default: the archive re-encoded by one retention compress run. */
  coldCompress?: ColdCompressResult;
}

export interface BacklogSample {
  /** Seconds since the load started (warm-up included). */
  atSeconds: number;
  /** otlpcapture_spool_bytes: segment files on disk (includes records of open objects and not yet deleted segments). */
  spoolBytes: number;
  /** otlpcapture_spool_unread_bytes: what the archiver has not read yet. */
  unreadBytes: number;
}

const BACKLOG_SAMPLE_MS = 1000;

/** Scrapes the capture server's /metrics every second until stopped. */
class BacklogSampler {
  readonly samples: BacklogSample[] = [];
  private readonly started = performance.now();
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(adminPort: number) {
    this.done = (async () => {
      while (!this.stopped) {
        const began = performance.now();
        const counters = await scrapeCounters(adminPort);
        if (counters !== null && !this.stopped) {
          this.samples.push({ atSeconds: (began - this.started) / 1000, spoolBytes: counters.spoolBytes, unreadBytes: counters.spoolUnreadBytes });
        }
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, BACKLOG_SAMPLE_MS - (performance.now() - began))));
      }
    })();
  }

  async stop(): Promise<BacklogSample[]> {
    this.stopped = true;
    await this.done;
    return this.samples;
  }
}

export interface BackendsResult {
  /** In the order of cpu.backendPercents. */
  processes: (BackendProcess & { peakRssBytes: number })[];
  bucket: BucketStats;
}

/**
 * `settle` runs once the backends of an S3 + ClickHouse case are up and before its capture server starts (the bench
 * waits there for the machine to be quiet again: ClickHouse works for a moment after its start).
 */
export async function runCase(
  bench: BenchCase,
  options: BenchOptions,
  payloads: PayloadFile[],
  settle: () => Promise<void> = async () => undefined,
): Promise<CaseResult> {
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-bench-'));
  const dataDir = path.join(workDir, 'data');
  let server: RunningServer | null = null;
  let watch: ProcessWatch | null = null;
  let backends: Backends | null = null;
  let backendWatches: ProcessWatch[] = [];
  let sampler: BacklogSampler | null = null;
  let stalledTail: { stop(): void } | null = null;
  try {
    if (bench.backend === 's3-clickhouse') {
      backends = await startBackends(workDir);
      await settle();
    }
    server = await startServer(bench, options, dataDir, backends?.env ?? {});
    backendWatches = (backends?.processes ?? []).map((backend) => new ProcessWatch(backend.pid));
    watch = new ProcessWatch(server.pid);
    const startupCpuSeconds = readCpuSeconds(server.pid) ?? 0;
    if (server.adminPort !== null) sampler = new BacklogSampler(server.adminPort);
    if (bench.stalledTail) stalledTail = await attachStalledTail(server);
    const spec: LoadSpec = {
      address: server.grpcAddress,
      payloads,
      clients: bench.clients,
      sharedConnection: bench.sharedConnection ?? false,
      retry: bench.retry ?? 'retry-info',
      gzip: bench.gzip,
      precompressed: !options.perCallGzip,
      warmupMs: (bench.warmupSeconds ?? options.warmupSeconds) * 1000,
      durationMs: (bench.sustained ? options.sustainedSeconds : options.durationSeconds) * 1000,
      deadlineMs: 60_000,
    };
    const driven = await drive(spec, server, (backends?.processes ?? []).map((backend) => backend.pid));
    if (server.hasExited()) {
      throw new Error(`${bench.name}: the ${server.kind} server exited during the run:\n${server.output().slice(-4000)}`);
    }
    if (stalledTail && server.adminPort !== null) {
      const text = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
      const missed = /^otlpcapture_tail_missed_requests_total (\S+)/m.exec(text)?.[1] ?? '?';
      process.stderr.write(`${bench.name}: the stalled tail subscriber missed ${missed} requests\n`);
    }
    stalledTail?.stop();
    stalledTail = null;
    // The server gives itself the grace period (set in its config) to archive the spool; kill it only well after.
    const stopped = await server.stop(options.stopTimeoutSeconds * 1000 + 10_000);
    server = null;
    const backlog = (await sampler?.stop()) ?? [];
    sampler = null;
    const { peakRssBytes, cpuSeconds } = watch.stop();
    const backendUsage = backendWatches.map((backendWatch) => backendWatch.stop());
    let archive: ArchiveStats | null = null;
    let backendsResult: BackendsResult | null = null;
    if (backends) {
      const read = await readBackendArchiveStats(dataDir, backends);
      archive = read.archive;
      backendsResult = {
        processes: backends.processes.map((backend, i) => ({ ...backend, peakRssBytes: backendUsage[i]?.peakRssBytes ?? 0 })),
        bucket: read.bucket,
      };
    } else if (bench.server === 'capture') {
      archive = readArchiveStats(dataDir);
    }
    const cold = bench.sustained === true && bench.server === 'capture' && !backends && options.coldCompress !== null
      ? coldCompress(dataDir, options.coldCompress)
      : undefined;
    return {
      case: bench,
      load: driven.result,
      server: {
        peakRssBytes,
        totalCpuSeconds: cpuSeconds - startupCpuSeconds,
        cpuMsPerRequest: driven.result.acceptedTotal > 0 ? ((cpuSeconds - startupCpuSeconds) * 1000) / driven.result.acceptedTotal : 0,
        cpuSecondsPerGiB: driven.result.rawBytesTotal > 0 ? (cpuSeconds - startupCpuSeconds) / (driven.result.rawBytesTotal / 2 ** 30) : 0,
        stopSeconds: stopped.seconds,
        stopKilled: stopped.killed,
        counters: driven.counters,
      },
      cpu: driven.cpu,
      backlog,
      archive,
      rssLimitBytes: bench.overload ? (bench.maxInFlightBytes ?? 0) + 200 * 2 ** 20 : null,
      backends: backendsResult,
      ...(cold === undefined ? {} : { coldCompress: cold }),
    };
  } finally {
    await sampler?.stop();
    stalledTail?.stop();
    watch?.stop();
    for (const backendWatch of backendWatches) backendWatch.stop();
    await server?.stop(5000);
    await backends?.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

function startServer(bench: BenchCase, options: BenchOptions, dataDir: string, backendEnv: Record<string, string>): Promise<RunningServer> {
  if (bench.server === 'discard') return startDiscardServer(MAX_RECEIVE_BYTES, bench.serverEnv ?? {});
  if (bench.server === 'floor') return startDiscardServer(MAX_RECEIVE_BYTES, bench.serverEnv ?? {}, bench.floorStages ?? []);
  mkdirSync(dataDir, { recursive: true });
  const config: Record<string, unknown> = {
    // Long enough for the archiver to empty the spool at stop, so the index shows every object the run made.
    shutdown: { gracePeriod: `${options.stopTimeoutSeconds}s` },
  };
  if (bench.archiver !== undefined) config.archiver = { ...bench.archiver };
  if (bench.maxInFlightBytes !== undefined) config.admission = { maxInFlightBytes: bench.maxInFlightBytes };
  for (const [section, settings] of Object.entries(bench.extraConfig ?? {})) {
    config[section] = { ...(config[section] as Record<string, unknown> | undefined), ...settings };
  }
  const nodeFlags: string[] = [...options.serverNodeFlags];
  if (options.cpuProfileDir !== '') {
    const dir = path.resolve(options.cpuProfileDir);
    mkdirSync(dir, { recursive: true });
    nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${bench.name.replaceAll(' ', '-')}.cpuprofile`);
  }
  return startCaptureServer({
    dataDir,
    config,
    nodeFlags,
    env: { ...bench.serverEnv, ...backendEnv },
    ...(options.serverRoot === '' ? {} : { root: path.resolve(options.serverRoot) }),
  });
}

interface Driven {
  result: LoadResult;
  cpu: CpuUse;
  counters: ServerCounters | null;
}

function drive(spec: LoadSpec, server: RunningServer, backendPids: readonly number[]): Promise<Driven> {
  const script = fileURLToPath(new URL('./load-generator.js', import.meta.url));
  const child = fork(script, [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pid = child.pid!;
  let windowStart: CpuSnapshot | null = null;
  let cpu: CpuUse | null = null;
  let counters: Promise<ServerCounters | null> = Promise.resolve(null);
  let reported = false;
  const snapshot = (): CpuSnapshot => cpuSnapshot(server.pid, pid, performance.now(), backendPids);
  return new Promise<Driven>((resolve, reject) => {
    child.on('message', (message: LoadMessage) => {
      switch (message.type) {
        case 'window-start':
          windowStart = snapshot();
          break;
        case 'window-end':
          if (windowStart) cpu = cpuUse(windowStart, snapshot());
          if (server.adminPort !== null) counters = scrapeCounters(server.adminPort);
          break;
        case 'result': {
          reported = true;
          const used = cpu ?? cpuUse(snapshot(), snapshot());
          void counters.then((c) => resolve({ result: message.result, cpu: used, counters: c }));
          break;
        }
        case 'failed':
          reject(new Error(`load generator failed: ${message.message}`));
          break;
        case 'ready':
          break;
      }
    });
    // The result resolves only once the server's counters are scraped; the child may exit before that.
    child.once('exit', (code) => {
      if (!reported) reject(new Error(`load generator exited with ${code} before reporting`));
    });
    child.send(spec);
  });
}

/** A Tail call asking for payloads whose stream is never read: the server's buffer for it fills, then it drops. */
async function attachStalledTail(server: RunningServer): Promise<{ stop(): void }> {
  if (server.apiAddress === null) throw new Error('a stalled tail needs the capture server (its API listener)');
  // From the built dist/ (its proto files resolve from there), like the server under test.
  const built = pathToFileURL(path.join(REPO_ROOT, 'dist', 'api', 'capture-client.js')).href;
  const { CaptureClient } = (await import(built)) as typeof import('../src/api/capture-client.js');
  const client = new CaptureClient({ address: server.apiAddress });
  const call = client.stream('Tail', { withPayload: true });
  call.on('error', () => undefined);
  call.pause();
  return {
    stop: () => {
      call.cancel();
      client.close();
    },
  };
}
