// Moves queued index rows from the outbox to ClickHouse in batches: when ≥ batchRows rows wait, or the oldest has
// waited batchInterval, whichever comes first. Whole objects only, so a reader never sees part of one. A batch is
// deleted from the outbox only after ClickHouse accepted it; failures are retried with backoff, forever, and the
// rows stay in the outbox meanwhile (also across restarts: the next start flushes them).

import { Backoff, sleep } from '../archiver/backoff.js';
import type { IndexOutbox, OutboxBatch } from './index-outbox.js';

export interface FlushSink {
  /** Makes the remote side ready (schema); called before the first write and again after a failure. */
  prepare(): Promise<void>;
  write(batch: OutboxBatch): Promise<void>;
}

export interface FlusherOptions {
  batchRows: number;
  batchIntervalMs: number;
  /** Upper bound of one batch's rows, trace rows included (catching up after an outage); never splits an object. */
  maxBatchRows: number;
  retryInitialBackoffMs: number;
  retryMaxBackoffMs: number;
}

export interface FlusherEvents {
  /** The remote side took a batch (or got ready) after having failed, or for the first time. */
  onAvailable(): void;
  /** An attempt failed; called on every failed attempt. */
  onFailure(error: unknown): void;
}

export class OutboxFlusher {
  private loop: Promise<void> | null = null;
  private readonly stopping = new AbortController();
  private wakeUp: (() => void) | null = null;
  private prepared = false;
  private readonly backoff: Backoff;
  private inFlight: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly outbox: IndexOutbox,
    private readonly sink: FlushSink,
    private readonly options: FlusherOptions,
    private readonly events: FlusherEvents,
  ) {
    this.backoff = new Backoff(options.retryInitialBackoffMs, options.retryMaxBackoffMs);
  }

  /** `prepared`: the caller already made the sink ready. */
  start(prepared: boolean): void {
    this.prepared = prepared;
    this.loop ??= this.run();
  }

  /** New rows were queued: re-check the thresholds now. */
  wake(): void {
    this.wakeUp?.();
  }

  /** Stops the background loop (an insert in progress finishes first). */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.wakeUp?.();
    await this.loop;
    this.loop = null;
  }

  /**
   * Flushes everything queued now, regardless of thresholds, until empty or the deadline; stops at the first
   * failure. True when the outbox is empty. Safe while the loop runs (batches are written one at a time).
   */
  async flushAll(deadlineMs: number): Promise<boolean> {
    while (Date.now() < deadlineMs) {
      try {
        if (!(await this.flushOnce())) return true;
      } catch (error) {
        this.events.onFailure(error);
        return false;
      }
    }
    return this.outbox.stats().objects === 0;
  }

  private async run(): Promise<void> {
    const { signal } = this.stopping;
    while (!signal.aborted) {
      try {
        const wait = this.waitMs(Date.now());
        if (wait > 0) {
          await this.sleepUnlessWoken(wait);
          continue;
        }
        await this.flushOnce();
        this.backoff.reset();
      } catch (error) {
        this.events.onFailure(error);
        await sleep(this.backoff.next(), signal);
      }
    }
  }

  /** How long until a batch is due; 0 when it is due now. Idle waits are bounded so another process's rows get flushed. */
  private waitMs(nowMs: number): number {
    // Not prepared (ClickHouse not reached yet, or failed since): try now; failures back off in run().
    if (!this.prepared) return 0;
    const stats = this.outbox.stats();
    if (stats.objects === 0 || stats.oldestAtMs === null) return this.options.batchIntervalMs;
    if (stats.requests + stats.objects + stats.traceRows >= this.options.batchRows) return 0;
    return Math.max(0, stats.oldestAtMs + this.options.batchIntervalMs - nowMs);
  }

  /**
   * One batch to the sink. False when there was nothing to flush. One at a time (the loop and flushAll may both
   * call it): a batch taken twice would be inserted twice, the second copy possibly after a later write (retention's)
   * that it would then win FINAL's collapse over.
   */
  private flushOnce(): Promise<boolean> {
    const run = this.inFlight.then(() => this.flushOnceNow());
    this.inFlight = run.catch(() => undefined);
    return run;
  }

  private async flushOnceNow(): Promise<boolean> {
    try {
      if (!this.prepared) {
        await this.sink.prepare();
        this.prepared = true;
        this.events.onAvailable();
      }
      const batch = this.outbox.takeBatch(this.options.maxBatchRows);
      if (batch === null) return false;
      await this.sink.write(batch);
      this.outbox.remove(batch);
      this.events.onAvailable();
      return true;
    } catch (error) {
      // Prepare again before the next write: the server that comes back may be a fresh one, without the schema.
      this.prepared = false;
      throw error;
    }
  }

  private sleepUnlessWoken(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeUp = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }
}
