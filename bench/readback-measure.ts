// Read-back measurements on a built archive: find-trace latency (in-process as `find-trace` runs it, and the CLI
// end to end), and replay throughput to a raw discard sink on loopback (the bench's bare grpc-js server).
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { openReadSide, openReadSideFor, type ReadSide } from '../src/cli/common.js';
import { loadConfig } from '../src/config/load.js';
import { findTrace } from '../src/query/find-trace.js';
import { GrpcTarget } from '../src/replay/grpc-target.js';
import { replay } from '../src/replay/replay-engine.js';
import type { TimeShift } from '../src/replay/replay-options.js';
import { stats, type Stats } from './readback-archive.js';

export const CLI = fileURLToPath(new URL('../../../bin/otlp-capture.js', import.meta.url));
const DISCARD = fileURLToPath(new URL('./discard-server.js', import.meta.url));

export interface FindTraceResult {
  lookups: number;
  latencyMs: Stats;
  /** The index lookup alone (IndexStore.findTraceRequests), measured in a second pass over the same ids. */
  indexLookupMs: Stats;
  spansPerTrace: number;
  requestsPerTrace: number;
  /** Stored (compressed) bytes range-read per lookup. */
  bytesReadPerTrace: number;
}

/**
 * The read side as the CLI opens it, for `dataDir` with `env` on top of this process's environment (the S3_* /
 * CLICKHOUSE_* variables switch adapters, as for a user); without `env`, exactly the CLI's openReadSide.
 */
async function openReadSideWith(dataDir: string, env?: Record<string, string>): Promise<ReadSide> {
  if (env === undefined) return openReadSide({ dataDir });
  return openReadSideFor(loadConfig({ env: { ...process.env, ...env }, overrides: { dataDir } }));
}

export async function measureFindTrace(dataDir: string, sample: readonly string[], env?: Record<string, string>): Promise<FindTraceResult> {
  const read = await openReadSideWith(dataDir, env);
  try {
    const times: number[] = [];
    let spans = 0;
    let requests = 0;
    let bytes = 0;
    for (const id of sample) {
      const t0 = performance.now();
      const found = await findTrace(read.index, read.blobs, id);
      times.push(performance.now() - t0);
      spans += found.spans;
      requests += found.requests.length;
      bytes += found.requests.reduce((sum, r) => sum + r.length, 0);
    }
    const lookups: number[] = [];
    for (const id of sample) {
      const t0 = performance.now();
      await read.index.findTraceRequests(id);
      lookups.push(performance.now() - t0);
    }
    return {
      lookups: sample.length,
      latencyMs: stats(times),
      indexLookupMs: stats(lookups),
      spansPerTrace: spans / sample.length,
      requestsPerTrace: requests / sample.length,
      bytesReadPerTrace: bytes / sample.length,
    };
  } finally {
    await read.close();
  }
}

/**
 * `otlp-capture find-trace` as a user runs it: a new process each time (Node start-up included), with `env` on top of
 * this process's environment.
 */
export function measureFindTraceCli(dataDir: string, sample: readonly string[], env: Record<string, string> = {}): Stats {
  const times: number[] = [];
  for (const id of sample) {
    const t0 = performance.now();
    const run = spawnSync(process.execPath, [CLI, 'find-trace', id, '--data-dir', dataDir, '--output', path.join(dataDir, 'trace.pb')], {
      env: { ...process.env, ...env },
    });
    times.push(performance.now() - t0);
    if (run.status !== 0) throw new Error(`find-trace failed: ${run.stderr.toString()}`);
  }
  return stats(times);
}

/** `otlp-capture --help`: Node start-up and the CLI's own module loading, nothing opened. */
export function measureCliStartup(runs: number): Stats {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const run = spawnSync(process.execPath, [CLI, '--help']);
    times.push(performance.now() - t0);
    if (run.status !== 0) throw new Error(`--help failed: ${run.stderr.toString()}`);
  }
  return stats(times);
}

/** Drops the page cache (needs root); false when not allowed, and the caller reports warm-cache figures only. */
export function dropPageCache(): boolean {
  try {
    spawnSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch {
    return false;
  }
}

export interface DiscardSink {
  address: string;
  stop(): Promise<void>;
}

export async function startDiscardSink(): Promise<DiscardSink> {
  const proc = spawn(process.execPath, [DISCARD, '127.0.0.1:0', String(256 * 2 ** 20)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /"listening":(\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    proc.once('exit', (code) => reject(new Error(`discard server exited with ${code}`)));
  });
  return {
    address: `127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

export interface ReplayResult {
  concurrency: number;
  timeShift: string;
  requests: number;
  bytes: number;
  seconds: number;
  mibPerSecond: number;
  delivered: boolean;
}

export async function measureReplay(dataDir: string, address: string, concurrency: number, timeShift: TimeShift): Promise<ReplayResult> {
  const read = await openReadSide({ dataDir });
  const target = new GrpcTarget({ address, tls: false });
  try {
    const t0 = performance.now();
    const summary = await replay(read, target, { filter: {}, timeShift, speed: 'max', concurrency, dryRun: false });
    const seconds = (performance.now() - t0) / 1000;
    return {
      concurrency,
      timeShift: timeShift.kind === 'offset' ? `${timeShift.ns} ns` : timeShift.kind,
      requests: summary.sent.requests,
      bytes: summary.sent.bytes,
      seconds,
      mibPerSecond: summary.sent.bytes / 2 ** 20 / seconds,
      delivered: summary.delivered,
    };
  } finally {
    target.close();
    await read.close();
  }
}

/** `otlp-capture replay` end to end (process start-up and planning included), from its summary line. */
export function measureReplayCli(dataDir: string, address: string, concurrency: number, bytes: number): { seconds: number; mibPerSecond: number; summary: string } {
  const t0 = performance.now();
  const run = spawnSync(process.execPath, [CLI, 'replay', '--to', address, '--data-dir', dataDir, '--concurrency', String(concurrency)], {
    maxBuffer: 16 * 2 ** 20,
  });
  const seconds = (performance.now() - t0) / 1000;
  if (run.status !== 0) throw new Error(`replay failed (${run.status}): ${run.stderr.toString()}`);
  const summary = run.stdout.toString().trim();
  return { seconds, mibPerSecond: bytes / 2 ** 20 / seconds, summary };
}
