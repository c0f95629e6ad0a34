// The export case of `npm run bench`: an archive of realistic traces, logs and metrics (two tenants, a day of data
// time) is exported by the real CLI as Parquet and as gzip OTLP JSON lines; measured from outside the process: wall
// time → MiB/s of raw OTLP, peak RSS (VmHWM), CPU. The baseline, measured in the same run, is reading every request
// without writing anything (bench/export-read.ts): no export can be faster.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Signal } from '../src/model.js';
import { shiftTimestamps } from '../src/otlp/time-shift.js';
import { buildArchive, type CapturedEntry } from '../tests/helpers/archive-builder.js';
import { logsPayload, metricsPayload, traceRequestOfSize } from '../tests/helpers/otlp-payloads.js';
import { readCpuSeconds, readMemory } from './proc-stats.js';
import { REPO_ROOT } from './servers.js';

const MIB = 2 ** 20;
const PAYLOAD_BASE_NS = 1_700_000_000n * 1_000_000_000n;
const DAY_START_NS = BigInt(Date.parse('2024-03-01T00:00:00Z')) * 1_000_000n;
const HOUR_NS = 3_600_000_000_000n;

export interface ExportBenchRow {
  name: string;
  seconds: number;
  mibPerSecond: number;
  /** Of the read-only baseline's MiB/s. */
  ratio: number;
  peakRssMiB: number;
  cpuSeconds: number;
  outputMiB: number;
  summary: string;
}

export interface ExportBenchResult {
  rawMiB: number;
  requests: number;
  items: Record<Signal, number>;
  rows: ExportBenchRow[];
}

export async function runExportBench(targetMiB: number, log: (line: string) => void): Promise<ExportBenchResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-bench-export-'));
  try {
    const dataDir = path.join(dir, 'data');
    const built = await buildBenchArchive(dataDir, targetMiB);
    log(`export: archive of ${built.requests} requests, ${(built.rawBytes / MIB).toFixed(0)} MiB raw OTLP ` +
      `(${built.items.traces} spans, ${built.items.logs} log records, ${built.items.metrics} data points; 2 tenants, 24 hours)`);
    const rows: ExportBenchRow[] = [];
    const baseline = await measure(process.execPath, [path.join(REPO_ROOT, 'bench', 'dist', 'bench', 'export-read.js'), dataDir]);
    const baselineRate = built.rawBytes / MIB / baseline.seconds;
    rows.push({ name: 'read only (baseline)', ...baseline, mibPerSecond: baselineRate, ratio: 1, outputMiB: 0 });
    const cli = path.join(REPO_ROOT, 'bin', 'otlp-capture.js');
    for (const [name, args] of [
      ['export --format parquet', ['--format', 'parquet']],
      ['export --format otlp-json (gzip)', ['--format', 'otlp-json', '--compression', 'gzip']],
    ] as const) {
      const out = path.join(dir, name.replace(/\W+/g, '-'));
      const run = await measure(process.execPath, [cli, 'export', '--data-dir', dataDir, '--to', out, ...args]);
      const rate = built.rawBytes / MIB / run.seconds;
      rows.push({ name, ...run, mibPerSecond: rate, ratio: rate / baselineRate, outputMiB: directoryBytes(out) / MIB });
      log(`  ${name}: ${rate.toFixed(1)} MiB/s, peak RSS ${run.peakRssMiB.toFixed(0)} MiB — ${run.summary}`);
      rmSync(out, { recursive: true, force: true });
    }
    return { rawMiB: built.rawBytes / MIB, requests: built.requests, items: built.items, rows };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function exportTable(result: ExportBenchResult): string {
  // MiB per CPU second: what one core does; unlike wall-clock MiB/s it holds on a machine shared with other work.
  const lines = ['case                                  MiB/s   × baseline   MiB/CPU-s   peak RSS   CPU s   output'];
  for (const row of result.rows) {
    lines.push(
      `${row.name.padEnd(36)} ${row.mibPerSecond.toFixed(1).padStart(6)}   ${row.ratio.toFixed(2).padStart(10)}   ` +
        `${(result.rawMiB / row.cpuSeconds).toFixed(1).padStart(9)}   ` +
        `${row.peakRssMiB.toFixed(0).padStart(5)} MiB   ${row.cpuSeconds.toFixed(1).padStart(5)}   ${row.outputMiB.toFixed(1)} MiB`,
    );
  }
  return lines.join('\n');
}

/** Runs a process to its end, sampling its peak RSS and CPU from /proc. */
async function measure(command: string, args: string[]): Promise<{ seconds: number; peakRssMiB: number; cpuSeconds: number; summary: string }> {
  const started = performance.now();
  const child = spawn(command, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let peak = 0;
  let cpu = 0;
  const sample = (): void => {
    const memory = readMemory(child.pid!);
    if (memory !== null) peak = Math.max(peak, memory.peakRssBytes);
    cpu = readCpuSeconds(child.pid!) ?? cpu;
  };
  const timer = setInterval(sample, 50);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
  clearInterval(timer);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`${args.slice(0, 3).join(' ')} exited with ${code}: ${stderr.slice(-2000)}`);
  return { seconds, peakRssMiB: peak / MIB, cpuSeconds: cpu, summary: stdout.trim().split('\n').pop() ?? '' };
}

/**
 * About `targetMiB` of raw OTLP by bytes: 70 % traces (~1 MiB requests of spans with ~25 attributes), 20 % logs
 * (~400 KiB requests), 10 % metrics (~8 KiB requests), spread over 24 hours of data time and two tenants.
 */
async function buildBenchArchive(dataDir: string, targetMiB: number): Promise<{ requests: number; rawBytes: number; items: Record<Signal, number> }> {
  const templates: Record<Signal, { proto: Uint8Array; items: number; share: number }[]> = {
    traces: [1, 2, 3].map((seed) => ({ ...pick(traceRequestOfSize(MIB, seed)), share: 0.7 })),
    logs: [1, 2].map((seed) => ({ ...pick(logsPayload(seed, 2000)), share: 0.2 })),
    metrics: [1, 2, 3, 4].map((seed) => ({ ...pick(metricsPayload(seed)), share: 0.1 })),
  };
  const entries: CapturedEntry[] = [];
  const items: Record<Signal, number> = { traces: 0, logs: 0, metrics: 0 };
  const target = targetMiB * MIB;
  let rawBytes = 0;
  const sent: Record<Signal, number> = { traces: 0, logs: 0, metrics: 0 };
  let receivedAtMs = Date.parse('2024-03-02T00:00:00Z');
  while (rawBytes < target) {
    // The signal furthest behind its share goes next.
    const signal = (['traces', 'logs', 'metrics'] as const).reduce((a, b) =>
      sent[a] / templates[a][0]!.share <= sent[b] / templates[b][0]!.share ? a : b);
    const template = templates[signal][entries.length % templates[signal].length]!;
    // Time moves forward through the day as the archive fills: data time ≈ receive order, as in a real capture.
    const hour = BigInt(Math.floor((rawBytes / target) * 24));
    const offsetNs = DAY_START_NS + hour * HOUR_NS + BigInt(entries.length % 3000) * 1_000_000_000n - PAYLOAD_BASE_NS;
    const bytes = shiftTimestamps(signal, template.proto, offsetNs).bytes;
    entries.push({ signal, tenant: entries.length % 2 === 0 ? 'acme' : 'globex', bytes, receivedAtMs: (receivedAtMs += 10) });
    sent[signal] += bytes.length;
    items[signal] += template.items;
    rawBytes += bytes.length;
  }
  const archive = await buildArchive(dataDir, entries, 64);
  await archive.close();
  return { requests: entries.length, rawBytes, items };
}

function pick(payload: { proto: Uint8Array; expected: { items: number } }): { proto: Uint8Array; items: number } {
  return { proto: payload.proto, items: payload.expected.items };
}

function directoryBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(path.join(entry.parentPath, entry.name)).size;
  }
  return total;
}
