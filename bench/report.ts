// The human-readable table and the derived ratios.
import type { CaseResult } from './run-case.js';
import type { MicroResult } from './micro.js';

const MIB = 2 ** 20;

export interface Ratio {
  wire: 'plain' | 'gzip';
  capture: string;
  discard: string;
  /** capture MiB/s ÷ discard MiB/s. */
  ratio: number;
}

export function mibPerSecond(result: CaseResult): number {
  return result.load.rawBytes / MIB / result.load.windowSeconds;
}

/** Server CPU seconds (after start-up, through the stop that archives what was left) per GiB acknowledged. */
export function cpuSecondsPerGiB(result: CaseResult): number {
  const gib = result.load.rawBytesTotal / 2 ** 30;
  return gib > 0 ? result.server.totalCpuSeconds / gib : 0;
}

/** b/a for every capture case that has a discard case with the same wire encoding and client count. */
export function ratios(results: readonly CaseResult[]): Ratio[] {
  const out: Ratio[] = [];
  for (const capture of results) {
    if (capture.case.server !== 'capture' || capture.case.overload) continue;
    const discard = results.find((r) => r.case.server === 'discard' && r.case.gzip === capture.case.gzip && r.case.clients === capture.case.clients && r.case.sustained === capture.case.sustained);
    if (!discard || mibPerSecond(discard) === 0) continue;
    out.push({
      wire: capture.case.gzip ? 'gzip' : 'plain',
      capture: capture.case.name,
      discard: discard.case.name,
      ratio: mibPerSecond(capture) / mibPerSecond(discard),
    });
  }
  return out;
}

/** CPU that neither the server, its backends nor the load generator used: other work on the machine skews a case. */
export function otherCpuPercent(r: CaseResult): number {
  return Math.max(0, r.cpu.machineBusyPercent - r.cpu.serverPercent - r.cpu.loadGeneratorPercent - backendCpuPercent(r));
}

/** CPU of the S3 and ClickHouse servers during the window (0 on the embedded default). */
export function backendCpuPercent(r: CaseResult): number {
  return (r.cpu.backendPercents ?? []).reduce((sum, percent) => sum + percent, 0);
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

const f = (value: number, digits = 1): string => value.toFixed(digits);
const mib = (bytes: number, digits = 1): string => (bytes / MIB).toFixed(digits);

export function resultsTable(results: readonly CaseResult[]): string {
  return table(
    ['case', 'in flight', 'MiB/s', 'wire MiB/s', 'spans/s', 'p50 ms', 'p99 ms', 'server peak RSS MiB', 'UNAVAILABLE'],
    results.map((r) => [
      r.case.name,
      String(r.case.clients),
      f(mibPerSecond(r)),
      f(r.load.wireBytes / MIB / r.load.windowSeconds),
      f(r.load.spans / r.load.windowSeconds, 0),
      f(r.load.latency.p50Ms),
      f(r.load.latency.p99Ms),
      mib(r.server.peakRssBytes, 0),
      String(r.load.unavailable),
    ]),
  );
}

/** Where the CPU went during the window (in % of one core; the machine has 100 × cores) and per request overall. */
export function cpuTable(results: readonly CaseResult[]): string {
  return table(
    ['case', 'server CPU %', 'server main thread %', 'main thread waiting for a core %', 'loadgen CPU %', 'loadgen waiting %', 'other processes %', 'server CPU ms/request', 'server CPU-s/GiB'],
    results.map((r) => [
      r.case.name,
      f(r.cpu.serverPercent, 0),
      f(r.cpu.serverMainThreadPercent, 0),
      f(r.cpu.serverMainThreadWaitingPercent, 0),
      f(r.cpu.loadGeneratorPercent, 0),
      f(r.cpu.loadGeneratorMainThreadWaitingPercent, 0),
      f(otherCpuPercent(r), 0),
      f(r.server.cpuMsPerRequest, 1),
      f(cpuSecondsPerGiB(r), 2),
    ]),
  );
}

/** CPU-s per GiB of each capture case against the discard sink's with the same wire encoding (issue #16: <= 2.5x). */
export function cpuPerGiBLines(results: readonly CaseResult[], target: number): string {
  return ratios(results).map((r) => {
    const capture = results.find((c) => c.case.name === r.capture)!;
    const discard = results.find((c) => c.case.name === r.discard)!;
    const ratio = cpuSecondsPerGiB(discard) > 0 ? cpuSecondsPerGiB(capture) / cpuSecondsPerGiB(discard) : 0;
    return `  ${r.capture.padEnd(18)} ${f(cpuSecondsPerGiB(capture), 2)} CPU-s/GiB vs ${r.discard} ${f(cpuSecondsPerGiB(discard), 2)} = ${f(ratio, 2)}x  ${ratio <= target ? 'meets' : 'misses'} target ${target}x`;
  }).join('\n');
}

/** Storm cases: goodput against their well-behaved baseline of the same run (issue #13: >= 70 %), memory. */
export function stormLines(results: readonly CaseResult[], target: number): string {
  return results.filter((r) => r.case.stormBaseline !== undefined).map((r) => {
    const baseline = results.find((b) => b.case.name === r.case.stormBaseline);
    const share = baseline && mibPerSecond(baseline) > 0 ? mibPerSecond(r) / mibPerSecond(baseline) : 0;
    const limit = r.rssLimitBytes ?? 0;
    return [
      `  ${r.case.name}: ${f(mibPerSecond(r))} MiB/s vs ${r.case.stormBaseline} ${baseline ? f(mibPerSecond(baseline)) : '-'} MiB/s = ${f(100 * share, 0)} % ` +
        `(${share >= target ? 'meets' : 'misses'} target ${f(100 * target, 0)} %); per second: ${r.load.acceptedPerSecond.join(' ')}`,
      `    peak RSS ${mib(r.server.peakRssBytes, 0)} MiB vs limit ${mib(limit, 0)} MiB (budget + 200 MiB): ${r.server.peakRssBytes <= limit ? 'within' : 'OVER'}; ` +
        `UNAVAILABLE in window ${r.load.unavailable}; other errors ${JSON.stringify(r.load.otherErrors)}${r.load.firstError ? ` first: ${r.load.firstError}` : ''}`,
    ].join('\n');
  }).join('\n');
}

export function archiveTable(results: readonly CaseResult[]): string {
  const rows = results.filter((r) => r.archive !== null).map((r) => {
    const a = r.archive!;
    return [
      r.case.name,
      String(a.objects),
      f(a.avgRequestsPerObject, 0),
      mib(a.avgObjectRawBytes),
      mib(a.avgObjectStoredBytes),
      mib(a.maxObjectStoredBytes),
      f(a.compressionRatio, 3),
      mib(r.server.counters?.spoolBytes ?? 0, 0),
      f(r.server.stopSeconds),
      mib(a.spoolBytesLeft, 0),
      a.brotliObjects === undefined ? '-' : String(a.brotliObjects),
    ];
  });
  return table(
    ['case', 'objects', 'requests/object', 'avg raw MiB', 'avg stored MiB', 'max stored MiB', 'stored/raw', 'spool backlog at window end MiB', 'stop (drain) s', 'spool left after stop MiB', 'brotli objects (retention)'],
    rows,
  );
}

/** The S3 + ClickHouse cases: what their backend servers cost, and the archive objects as the bucket lists them. */
export function backendsTable(results: readonly CaseResult[]): string {
  const rows = results.filter((r) => r.backends !== null).map((r) => {
    const b = r.backends!;
    const cpu = (name: string): string => f(r.cpu.backendPercents[b.processes.findIndex((p) => p.name === name)] ?? 0, 0);
    const rss = (name: string): string => mib(b.processes.find((p) => p.name === name)?.peakRssBytes ?? 0, 0);
    return [
      r.case.name,
      cpu('s3rver'),
      cpu('clickhouse'),
      rss('s3rver'),
      rss('clickhouse'),
      String(b.bucket.objects),
      mib(b.bucket.avgStoredBytes),
      mib(b.bucket.minStoredBytes),
      mib(b.bucket.medianStoredBytes),
      mib(b.bucket.maxStoredBytes),
      String(b.bucket.smallObjects),
      `${r.archive?.requests ?? 0}/${r.load.acceptedTotal}`,
    ];
  });
  return table(
    ['case', 's3rver CPU %', 'ClickHouse CPU %', 's3rver peak RSS MiB', 'ClickHouse peak RSS MiB', 'objects in bucket',
      'avg object MiB', 'min MiB', 'median MiB', 'max MiB', 'objects < 8 MiB', 'indexed/acknowledged requests'],
    rows,
  );
}

export function microTable(micro: readonly MicroResult[]): string {
  return table(['single-thread, one ~1 MiB request', 'MiB/s', 'ms per request'], micro.map((m) => [m.name, f(m.mibPerSecond), f(m.msPerRequest, 2)]));
}

export function ratioLines(list: readonly Ratio[], target: number): string {
  return list.map((r) => `  ${r.capture.padEnd(18)} / ${r.discard.padEnd(14)} = ${f(r.ratio, 2)}  ${r.ratio >= target ? 'meets' : 'misses'} target ${target}`).join('\n');
}

export function overloadLines(results: readonly CaseResult[]): string {
  return results.filter((r) => r.case.overload && r.case.stormBaseline === undefined).map((r) => {
    const limit = r.rssLimitBytes ?? 0;
    const rejected = r.server.counters?.rejections ?? {};
    return [
      `  ${r.case.name}: ${r.case.clients} clients x ~1 MiB in flight, admission.maxInFlightBytes ${mib(r.case.maxInFlightBytes ?? 0, 0)} MiB`,
      `    peak RSS ${mib(r.server.peakRssBytes, 0)} MiB vs limit ${mib(limit, 0)} MiB (budget + 200 MiB): ${r.server.peakRssBytes <= limit ? 'within' : 'OVER'}`,
      `    UNAVAILABLE in window: ${r.load.unavailable} (${r.load.unavailableWithRetryInfo} with RetryInfo, delays ${r.load.retryDelaysMs.join('/') || '-'} ms honoured); ` +
        `accepted ${r.load.accepted}; server refusals since start: ${JSON.stringify(rejected)}`,
      `    other errors: ${JSON.stringify(r.load.otherErrors)}${r.load.firstError ? ` first: ${r.load.firstError}` : ''}`,
    ].join('\n');
  }).join('\n');
}

/** Issue #16's bounds for a sustained case. */
export const SUSTAINED_TARGETS = {
  /** Spool backlog (unread by the archiver) at the window's end. */
  backlogBytes: 64 * MIB,
  /** Server CPU-s per GiB ÷ the discard server's, same wire encoding, same run. */
  cpuRatio: 2.5,
  /** Peak RSS above admission.maxInFlightBytes (default 256 MiB). */
  rssOverBudgetBytes: 200 * MIB,
  defaultInFlightBytes: 256 * MIB,
  /** Stored bytes per raw byte, at most this share of gzip-1's on the same payloads. */
  storedVsGzip1: 0.7,
} as const;

export interface SustainedSummary {
  name: string;
  /** A capture case (the bounds apply); otherwise the discard sink or a floor case. */
  capture: boolean;
  ackedMiBps: number;
  /** Unread backlog at the window's end / its maximum over the whole run / its slope over the window (MiB/s). */
  endBacklogBytes: number;
  maxBacklogBytes: number;
  backlogGrowthMiBps: number;
  /** Spool files on disk at the window's end and at most. */
  endSpoolBytes: number;
  maxSpoolBytes: number;
  drainSeconds: number;
  cpuSecondsPerGiB: number;
  /** cpuSecondsPerGiB ÷ the sustained discard case's of the same wire encoding. */
  cpuRatio: number | null;
  peakRssBytes: number;
  rssLimitBytes: number;
  storedPerRaw: number | null;
  /** After one retention compress run over the case's archive (`--cold-compress`). */
  cold: { setting: string; storedPerRaw: number; cpuSecondsPerGiB: number; mibPerSecond: number } | null;
}

/** The backlog samples around the measurement window (sample times are from the load's start, warm-up included). */
function windowSamples(r: CaseResult, warmupSeconds: number): { atStart: number; atEnd: number } {
  const start = warmupSeconds;
  const end = warmupSeconds + r.load.windowSeconds;
  const nearest = (t: number): number => {
    let best = r.backlog[0];
    for (const s of r.backlog) if (Math.abs(s.atSeconds - t) < Math.abs((best?.atSeconds ?? Infinity) - t)) best = s;
    return best?.unreadBytes ?? 0;
  };
  return { atStart: nearest(start), atEnd: nearest(end) };
}

export function sustainedSummaries(results: readonly CaseResult[], warmupSeconds: number): SustainedSummary[] {
  const sustained = results.filter((r) => r.case.sustained === true);
  return sustained.map((r) => {
    const discard = sustained.find((d) => d.case.server === 'discard' && d.case.gzip === r.case.gzip);
    const endAt = warmupSeconds + r.load.windowSeconds;
    const inRun = r.backlog.filter((s) => s.atSeconds <= endAt + 0.5);
    const atEnd = inRun[inRun.length - 1];
    const { atStart, atEnd: windowEnd } = windowSamples(r, warmupSeconds);
    return {
      name: r.case.name,
      ackedMiBps: mibPerSecond(r),
      endBacklogBytes: atEnd?.unreadBytes ?? 0,
      maxBacklogBytes: Math.max(0, ...r.backlog.map((s) => s.unreadBytes)),
      backlogGrowthMiBps: (windowEnd - atStart) / MIB / r.load.windowSeconds,
      endSpoolBytes: atEnd?.spoolBytes ?? 0,
      maxSpoolBytes: Math.max(0, ...r.backlog.map((s) => s.spoolBytes)),
      drainSeconds: r.server.stopSeconds,
      cpuSecondsPerGiB: r.server.cpuSecondsPerGiB,
      capture: r.case.server === 'capture',
      cpuRatio: r.case.server !== 'discard' && discard && discard.server.cpuSecondsPerGiB > 0 ? r.server.cpuSecondsPerGiB / discard.server.cpuSecondsPerGiB : null,
      peakRssBytes: r.server.peakRssBytes,
      rssLimitBytes: (r.case.maxInFlightBytes ?? SUSTAINED_TARGETS.defaultInFlightBytes) + SUSTAINED_TARGETS.rssOverBudgetBytes,
      storedPerRaw: r.archive?.compressionRatio ?? null,
      cold: r.coldCompress
        ? { setting: `${r.coldCompress.codec}-${r.coldCompress.level}`, storedPerRaw: r.coldCompress.storedPerRaw,
          cpuSecondsPerGiB: r.coldCompress.cpuSecondsPerGiB, mibPerSecond: r.coldCompress.mibPerSecond }
        : null,
    };
  });
}

export function sustainedTable(summaries: readonly SustainedSummary[]): string {
  return table(
    ['case', 'acked MiB/s', 'backlog at end MiB', 'backlog max MiB', 'backlog growth MiB/s', 'spool on disk at end / max MiB',
      'stop (drain) s', 'CPU-s/GiB', 'x discard', 'peak RSS MiB', 'stored/raw', 'cold: stored/raw, CPU-s/GiB, MiB/s'],
    summaries.map((s) => [
      s.name,
      f(s.ackedMiBps),
      mib(s.endBacklogBytes, 0),
      mib(s.maxBacklogBytes, 0),
      f(s.backlogGrowthMiBps, 1),
      `${mib(s.endSpoolBytes, 0)} / ${mib(s.maxSpoolBytes, 0)}`,
      f(s.drainSeconds),
      f(s.cpuSecondsPerGiB, 2),
      s.cpuRatio === null ? '-' : f(s.cpuRatio, 2),
      mib(s.peakRssBytes, 0),
      s.storedPerRaw === null ? '-' : f(s.storedPerRaw, 3),
      s.cold === null ? '-' : `${s.cold.setting}: ${f(s.cold.storedPerRaw, 3)}, ${f(s.cold.cpuSecondsPerGiB, 2)}, ${f(s.cold.mibPerSecond, 0)}`,
    ]),
  );
}

/** One line per sustained capture case: each of issue #16's bounds, met or missed. */
export function sustainedVerdicts(summaries: readonly SustainedSummary[], gzip1StoredPerRaw: number): string {
  const t = SUSTAINED_TARGETS;
  const mark = (ok: boolean): string => (ok ? 'ok' : 'MISSED');
  return summaries.filter((s) => s.capture).map((s) => {
    const stored = s.storedPerRaw ?? 0;
    return [
      `  ${s.name}:`,
      `backlog at end ${mib(s.endBacklogBytes, 0)} MiB <= ${mib(t.backlogBytes, 0)} ${mark(s.endBacklogBytes <= t.backlogBytes)};`,
      `CPU ${s.cpuRatio === null ? '-' : f(s.cpuRatio, 2)}x discard <= ${t.cpuRatio} ${mark(s.cpuRatio !== null && s.cpuRatio <= t.cpuRatio)};`,
      `stored/raw ${f(stored, 3)} vs gzip-1 ${f(gzip1StoredPerRaw, 3)} (${f((1 - stored / gzip1StoredPerRaw) * 100, 0)} % less, >= 30 %) ${mark(stored <= gzip1StoredPerRaw * t.storedVsGzip1)};`,
      `peak RSS ${mib(s.peakRssBytes, 0)} <= ${mib(s.rssLimitBytes, 0)} MiB ${mark(s.peakRssBytes <= s.rssLimitBytes)}`,
      ...(s.cold === null ? [] : [`| once cold (retention compress ${s.cold.setting}): stored/raw ${f(s.cold.storedPerRaw, 3)} ` +
        `(${f((1 - s.cold.storedPerRaw / gzip1StoredPerRaw) * 100, 0)} % less than gzip-1) ${mark(s.cold.storedPerRaw <= gzip1StoredPerRaw * t.storedVsGzip1)}`]),
    ].join(' ');
  }).join('\n');
}
