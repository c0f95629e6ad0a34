// One case: start the server under test, drive it from a separate load generator process for the warm-up and the
// measurement window, watch the server's memory and both processes' CPU from /proc, stop the server, collect.
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scrapeCounters, type ServerCounters } from './admin-metrics.js';
import { readArchiveStats, type ArchiveStats } from './archive-stats.js';
import type { BenchCase } from './cases.js';
import type { LoadMessage, LoadResult, LoadSpec } from './load-spec.js';
import type { BenchOptions } from './options.js';
import type { PayloadFile } from './payloads.js';
import { MemoryWatch, cpuSnapshot, cpuUse, type CpuSnapshot, type CpuUse } from './proc-stats.js';
import { startCaptureServer, startDiscardServer, type RunningServer } from './servers.js';

const MAX_RECEIVE_BYTES = 64 * 2 ** 20; // the capture server's default server.grpc.maxReceiveBytes

export interface CaseResult {
  case: BenchCase;
  load: LoadResult;
  server: {
    peakRssBytes: number;
    stopSeconds: number;
    stopKilled: boolean;
    counters: ServerCounters | null;
  };
  /** CPU during the measurement window, in % of one core. */
  cpu: CpuUse;
  archive: ArchiveStats | null;
  /** In-flight budget + 200 MiB, for the overload case. */
  rssLimitBytes: number | null;
}

export async function runCase(bench: BenchCase, options: BenchOptions, payloads: PayloadFile[]): Promise<CaseResult> {
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-bench-'));
  const dataDir = path.join(workDir, 'data');
  let server: RunningServer | null = null;
  try {
    server = await startServer(bench, options, dataDir);
    const memory = new MemoryWatch(server.pid);
    const spec: LoadSpec = {
      address: server.grpcAddress,
      payloads,
      clients: bench.clients,
      gzip: bench.gzip,
      precompressed: !options.perCallGzip,
      warmupMs: options.warmupSeconds * 1000,
      durationMs: options.durationSeconds * 1000,
      deadlineMs: 60_000,
    };
    const driven = await drive(spec, server);
    const stopped = await server.stop(options.stopTimeoutSeconds * 1000);
    server = null;
    const { peakRssBytes } = memory.stop();
    return {
      case: bench,
      load: driven.result,
      server: {
        peakRssBytes,
        stopSeconds: stopped.seconds,
        stopKilled: stopped.killed,
        counters: driven.counters,
      },
      cpu: driven.cpu,
      archive: bench.server === 'capture' ? readArchiveStats(dataDir) : null,
      rssLimitBytes: bench.overload ? (bench.maxInFlightBytes ?? 0) + 200 * 2 ** 20 : null,
    };
  } finally {
    await server?.stop(5000);
    rmSync(workDir, { recursive: true, force: true });
  }
}

function startServer(bench: BenchCase, options: BenchOptions, dataDir: string): Promise<RunningServer> {
  if (bench.server === 'discard') return startDiscardServer(MAX_RECEIVE_BYTES);
  mkdirSync(dataDir, { recursive: true });
  const config: Record<string, unknown> = {
    // Long enough for the archiver to empty the spool at stop, so the index shows every object the run made.
    shutdown: { gracePeriod: `${options.stopTimeoutSeconds}s` },
  };
  if (bench.archiverLevel !== undefined) config.archiver = { level: bench.archiverLevel };
  if (bench.maxInFlightBytes !== undefined) config.admission = { maxInFlightBytes: bench.maxInFlightBytes };
  const nodeFlags: string[] = [];
  if (options.cpuProfileDir !== '') {
    const dir = path.resolve(options.cpuProfileDir);
    mkdirSync(dir, { recursive: true });
    nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${bench.name.replaceAll(' ', '-')}.cpuprofile`);
  }
  return startCaptureServer({ dataDir, config, nodeFlags });
}

interface Driven {
  result: LoadResult;
  cpu: CpuUse;
  counters: ServerCounters | null;
}

function drive(spec: LoadSpec, server: RunningServer): Promise<Driven> {
  const script = fileURLToPath(new URL('./load-generator.js', import.meta.url));
  const child = fork(script, [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pid = child.pid!;
  let windowStart: CpuSnapshot | null = null;
  let cpu: CpuUse | null = null;
  let counters: Promise<ServerCounters | null> = Promise.resolve(null);
  const snapshot = (): CpuSnapshot => cpuSnapshot(server.pid, pid, performance.now());
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
    child.once('exit', (code) => reject(new Error(`load generator exited with ${code} before reporting`)));
    child.send(spec);
  });
}
