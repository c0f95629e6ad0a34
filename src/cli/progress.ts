// Progress of a long command on stderr: a bar redrawn in place on a terminal, plain lines every few seconds
// otherwise (logs, pipes, CI). The command formats the text; this decides how and how often it is shown.
import { formatBytes } from '../util/human-units.js';

export interface ProgressView {
  /** 0..1 */
  fraction: number;
  /** e.g. "120/500 requests, 12.0 MiB/50.0 MiB, ETA 4s" */
  text: string;
}

export interface ProgressDisplay {
  update(view: ProgressView): void;
  /** Draws the final state (always shown) and ends the line. */
  finish(view: ProgressView): void;
}

const REDRAW_MS = 100;
const LINE_EVERY_MS = 2000;

/** A bar when `out` is a terminal, else plain lines prefixed with `label`. */
export function progressDisplay(out: NodeJS.WriteStream, label: string, nowMs: () => number = Date.now): ProgressDisplay {
  return out.isTTY ? new ProgressBar(out, nowMs) : new ProgressLines(out, label, nowMs);
}

class ProgressBar implements ProgressDisplay {
  private lastDrawMs = Number.NEGATIVE_INFINITY;
  constructor(private readonly out: NodeJS.WriteStream, private readonly nowMs: () => number) {}

  update(view: ProgressView): void {
    const now = this.nowMs();
    if (now - this.lastDrawMs < REDRAW_MS) return;
    this.lastDrawMs = now;
    this.out.write(`\r\x1b[2K${this.line(view)}`);
  }

  finish(view: ProgressView): void {
    this.out.write(`\r\x1b[2K${this.line(view)}\n`);
  }

  private line(view: ProgressView): string {
    const width = Math.max(10, Math.min(40, (this.out.columns ?? 80) - view.text.length - 8));
    const line = `${bar(view.fraction, width)} ${view.text}`;
    // Never wrap: a wrapped line cannot be redrawn in place.
    const columns = this.out.columns ?? 0;
    return columns > 1 && line.length >= columns ? line.slice(0, columns - 1) : line;
  }
}

class ProgressLines implements ProgressDisplay {
  private lastLineMs: number;
  constructor(private readonly out: NodeJS.WritableStream, private readonly label: string, private readonly nowMs: () => number) {
    this.lastLineMs = nowMs();
  }

  update(view: ProgressView): void {
    const now = this.nowMs();
    if (now - this.lastLineMs < LINE_EVERY_MS) return;
    this.lastLineMs = now;
    this.out.write(`${this.label}: ${view.text}\n`);
  }

  finish(view: ProgressView): void {
    this.out.write(`${this.label}: ${view.text}\n`);
  }
}

/** "[#########...........]  45%" */
export function bar(fraction: number, width: number): string {
  const clamped = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const filled = Math.round(clamped * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(clamped * 100)).padStart(3)}%`;
}

/** ", ETA 1m05s" while the work is under way and the rate is known; "" otherwise. */
export function etaText(elapsedMs: number, fraction: number): string {
  if (!(fraction > 0 && fraction < 1) || elapsedMs <= 0) return '';
  return `, ETA ${formatDuration((elapsedMs * (1 - fraction)) / fraction)}`;
}

export { formatBytes };

/** 65000 → "1m05s": a clock-like duration whose width barely changes as a progress line redraws. */
export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
