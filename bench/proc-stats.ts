// Memory and CPU of another process, read from Linux /proc: the benchmark watches the server from outside, so that
// measuring costs the server nothing.
import { readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ; 100 on every Linux architecture Node supports

export interface MemorySample {
  /** Resident set size now, bytes. */
  rssBytes: number;
  /** Peak resident set size since the process started (VmHWM), bytes. */
  peakRssBytes: number;
}

/** Null once the process is gone. */
export function readMemory(pid: number): MemorySample | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  return { rssBytes: statusKiB(status, 'VmRSS') * 1024, peakRssBytes: statusKiB(status, 'VmHWM') * 1024 };
}

/** User + system CPU seconds the process has used so far; null once it is gone. */
export function readCpuSeconds(pid: number): number | null {
  return readCpuSecondsOf(`/proc/${pid}/stat`);
}

/**
 * CPU seconds of the process' main thread (its JavaScript event loop) and of all its other threads together (libuv
 * threadpool: zlib, fs; V8 GC helpers). A main thread near 100 % is the ceiling of a Node server.
 */
export function readThreadCpuSeconds(pid: number): { main: number; others: number } | null {
  const total = readCpuSeconds(pid);
  const main = readCpuSecondsOf(`/proc/${pid}/task/${pid}/stat`);
  if (total === null || main === null) return null;
  return { main, others: Math.max(0, total - main) };
}

function readCpuSecondsOf(file: string): number | null {
  let stat: string;
  try {
    stat = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  return cpuSecondsFromStat(stat);
}

/** Fields 14 and 15 of a /proc stat line (utime, stime), counted after the command name, which may hold spaces. */
function cpuSecondsFromStat(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

function statusKiB(status: string, key: string): number {
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) : 0;
}

/**
 * Polls a process' memory until stopped. VmHWM already is the kernel's peak; polling VmRSS as well catches the
 * peak of a window that starts after the process did, and keeps the last sample taken before the process exits.
 */
export class MemoryWatch {
  private readonly timer: NodeJS.Timeout;
  private peakSampled = 0;
  private last: MemorySample | null = null;

  constructor(private readonly pid: number, intervalMs = 100) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    const now = readMemory(this.pid);
    if (now === null) return;
    this.last = now;
    this.peakSampled = Math.max(this.peakSampled, now.rssBytes);
  }

  /** Stops polling; the peak is VmHWM when the process was still there, else the highest sample. */
  stop(): { peakRssBytes: number; sampledPeakRssBytes: number } {
    this.sample();
    clearInterval(this.timer);
    return { peakRssBytes: Math.max(this.last?.peakRssBytes ?? 0, this.peakSampled), sampledPeakRssBytes: this.peakSampled };
  }
}

/** Machine-wide CPU time so far, seconds summed over all cores: busy (not idle, not iowait), iowait, and total. */
export function readSystemCpuSeconds(): { busy: number; iowait: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] =
    line.trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return {
    busy: busy / CLOCK_TICKS_PER_SECOND,
    iowait: iowait / CLOCK_TICKS_PER_SECOND,
    total: (busy + idle + iowait) / CLOCK_TICKS_PER_SECOND,
  };
}

export interface CpuSnapshot {
  atMs: number;
  server: number;
  serverMain: number;
  load: number;
  system: { busy: number; iowait: number; total: number };
}

export function cpuSnapshot(serverPid: number, loadPid: number, atMs: number): CpuSnapshot {
  const server = readThreadCpuSeconds(serverPid);
  return {
    atMs,
    server: (server?.main ?? 0) + (server?.others ?? 0),
    serverMain: server?.main ?? 0,
    load: readCpuSeconds(loadPid) ?? 0,
    system: readSystemCpuSeconds(),
  };
}

/** CPU use between two snapshots, in % of one core (this machine's ceiling is 100 × cores). */
export interface CpuUse {
  serverPercent: number;
  serverMainThreadPercent: number;
  loadGeneratorPercent: number;
  machineBusyPercent: number;
  machineIowaitPercent: number;
}

export function cpuUse(from: CpuSnapshot, to: CpuSnapshot): CpuUse {
  const seconds = (to.atMs - from.atMs) / 1000;
  const pct = (a: number, b: number): number => (seconds > 0 ? ((b - a) / seconds) * 100 : 0);
  return {
    serverPercent: pct(from.server, to.server),
    serverMainThreadPercent: pct(from.serverMain, to.serverMain),
    loadGeneratorPercent: pct(from.load, to.load),
    machineBusyPercent: pct(from.system.busy, to.system.busy),
    machineIowaitPercent: pct(from.system.iowait, to.system.iowait),
  };
}
