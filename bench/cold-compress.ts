// The storage half of issue #16 for data that has cooled: after a sustained capture case, one `retention run` with a
// compress policy re-encodes every archive object the run made (as a `compress` policy does in production, e.g.
// `{ match: { olderThan: 1h }, action: { type: compress, codec: zstd, level: 9 } }`), and reports what it costs and
// what the archive then stores per raw byte. Ingest stays at the archiver's fast level; the S3 bill is paid on the
// re-encoded bytes for as long as the data is kept.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { readArchiveStats } from './archive-stats.js';
import { REPO_ROOT } from './servers.js';

export interface ColdCompressSetting {
  codec: 'zstd' | 'gzip' | 'brotli';
  level: number;
}

export interface ColdCompressResult {
  codec: string;
  level: number;
  /** Stored / raw over the archive after the run. */
  storedPerRaw: number;
  /** CPU of the retention process (user + system, all threads), per GiB of raw bytes re-encoded. */
  cpuSecondsPerGiB: number;
  wallSeconds: number;
  /** Raw MiB re-encoded per wall second. */
  mibPerSecond: number;
  /** The run's own JSON summary (`retention run --json`). */
  summary: unknown;
}

/** `zstd-9` → { codec: zstd, level: 9 }; '' or 'none' → null (the step is off). */
export function parseColdCompress(text: string): ColdCompressSetting | null {
  if (text === '' || text === 'none') return null;
  const match = /^(zstd|gzip|brotli)-(\d+)$/.exec(text);
  if (!match) throw new Error(`--cold-compress must be CODEC-LEVEL (zstd-9, brotli-11, ...) or none, got ${text}`);
  return { codec: match[1] as ColdCompressSetting['codec'], level: Number(match[2]) };
}

/**
 * Runs `otlp-capture retention run` over a stopped capture server's data directory with one compress policy that
 * takes every object. The CPU is read from bash's `times` (the children's user and system time) after the CLI exits.
 */
export function coldCompress(dataDir: string, setting: ColdCompressSetting): ColdCompressResult {
  const before = readArchiveStats(dataDir);
  const rawBytes = before.avgObjectRawBytes * before.objects;
  const configFile = path.join(dataDir, '..', 'cold-compress.config.json');
  writeFileSync(configFile, JSON.stringify({
    retention: {
      policies: [{ name: 'cold', match: { olderThan: '1s' }, action: { type: 'compress', codec: setting.codec, level: setting.level } }],
    },
  }));
  // Ages judged a day from now: every object the run sealed counts as cold.
  const asOf = String(Date.now() + 86_400_000);
  const cli = path.join(REPO_ROOT, 'bin', 'otlp-capture.js');
  const began = performance.now();
  const run = spawnSync('bash', ['-c', `"${process.execPath}" "$@" || exit $?; times`, 'bash',
    cli, 'retention', 'run', '--data-dir', dataDir, '--config', configFile, '--as-of', asOf, '--json'], { encoding: 'utf8' });
  const wallSeconds = (performance.now() - began) / 1000;
  if (run.status !== 0) throw new Error(`retention run failed (${run.status}):\n${run.stderr.slice(-4000)}`);
  // `times` prints the shell's own user/system times, then its children's: "0m1.234s 0m0.056s".
  const lines = run.stdout.trim().split('\n');
  const seconds = (field: string): number => {
    const m = /^(\d+)m([\d.]+)s$/.exec(field);
    if (!m) throw new Error(`unexpected output of times: ${lines.join(' | ')}`);
    return Number(m[1]) * 60 + Number(m[2]);
  };
  const [childUser, childSystem] = (lines[lines.length - 1] ?? '').split(/\s+/);
  const cpuSeconds = seconds(childUser ?? '') + seconds(childSystem ?? '');
  const after = readArchiveStats(dataDir);
  return {
    codec: setting.codec,
    level: setting.level,
    storedPerRaw: after.compressionRatio,
    cpuSecondsPerGiB: rawBytes > 0 ? cpuSeconds / (rawBytes / 2 ** 30) : 0,
    wallSeconds,
    mibPerSecond: wallSeconds > 0 ? rawBytes / 2 ** 20 / wallSeconds : 0,
    summary: JSON.parse(lines.slice(0, -2).join('\n')) as unknown,
  };
}
