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

/**
 * Seconds the thread has spent waiting on a run queue, runnable but not running (schedstat field 2). For a main
 * thread, that is time its event loop had work and no core to run it on.
 */
export function readRunQueueWaitSeconds(pid: number, tid: number = pid): number | null {
  let schedstat: string;
  try {
    schedstat = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8');
  } catch {
    return null;
  }
  return Number(schedstat.trim().split(' ')[1]) / 1e9;
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
 * Polls a process' memory and CPU time until stopped. VmHWM already is the kernel's peak; the polled VmRSS catches the
 * peak if the process is gone before the last poll, and the last CPU reading is the process' total to within a poll.
 */
export class ProcessWatch {
  private readonly timer: NodeJS.Timeout;
  private peakSampled = 0;
  private last: MemorySample | null = null;
  private cpuSeconds = 0;

  constructor(private readonly pid: number, intervalMs = 100) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    const now = readMemory(this.pid);
    const cpu = readCpuSeconds(this.pid);
    if (now === null || cpu === null) return;
    this.last = now;
    this.cpuSeconds = cpu;
    this.peakSampled = Math.max(this.peakSampled, now.rssBytes);
  }

  /** Stops polling; the peak is VmHWM when the process was still there, else the highest sample. */
  stop(): { peakRssBytes: number; cpuSeconds: number } {
    this.sample();
    clearInterval(this.timer);
    return { peakRssBytes: Math.max(this.last?.peakRssBytes ?? 0, this.peakSampled), cpuSeconds: this.cpuSeconds };
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
  serverMainWaiting: number;
  load: number;
  loadMainWaiting: number;
  /** CPU seconds of each backend process the server depends on (S3 and ClickHouse servers), in the order given. */
  backends: number[];
  system: { busy: number; iowait: number; total: number };
}

export function cpuSnapshot(serverPid: number, loadPid: number, atMs: number, backendPids: readonly number[] = []): CpuSnapshot {
  const server = readThreadCpuSeconds(serverPid);
  return {
    atMs,
    server: (server?.main ?? 0) + (server?.others ?? 0),
    serverMain: server?.main ?? 0,
    serverMainWaiting: readRunQueueWaitSeconds(serverPid) ?? 0,
    load: readCpuSeconds(loadPid) ?? 0,
    loadMainWaiting: readRunQueueWaitSeconds(loadPid) ?? 0,
    backends: backendPids.map((pid) => readCpuSeconds(pid) ?? 0),
    system: readSystemCpuSeconds(),
  };
}

/** CPU use between two snapshots, in % of one core (this machine's ceiling is 100 × cores). */
export interface CpuUse {
  serverPercent: number;
  serverMainThreadPercent: number;
  /** Share of the window the server's main thread was runnable but had no core: CPU contention on the event loop. */
  serverMainThreadWaitingPercent: number;
  loadGeneratorPercent: number;
  loadGeneratorMainThreadWaitingPercent: number;
  /** Each backend process (S3, ClickHouse) of the snapshots, in their order; empty on the embedded default. */
  backendPercents: number[];
  machineBusyPercent: number;
  machineIowaitPercent: number;
}

export function cpuUse(from: CpuSnapshot, to: CpuSnapshot): CpuUse {
  const seconds = (to.atMs - from.atMs) / 1000;
  const pct = (a: number, b: number): number => (seconds > 0 ? ((b - a) / seconds) * 100 : 0);
  return {
    serverPercent: pct(from.server, to.server),
    serverMainThreadPercent: pct(from.serverMain, to.serverMain),
    serverMainThreadWaitingPercent: pct(from.serverMainWaiting, to.serverMainWaiting),
    loadGeneratorPercent: pct(from.load, to.load),
    loadGeneratorMainThreadWaitingPercent: pct(from.loadMainWaiting, to.loadMainWaiting),
    backendPercents: to.backends.map((seconds, i) => pct(from.backends[i] ?? seconds, seconds)),
    machineBusyPercent: pct(from.system.busy, to.system.busy),
    machineIowaitPercent: pct(from.system.iowait, to.system.iowait),
  };
}
