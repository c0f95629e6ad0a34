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
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS_PER_SECOND;
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
