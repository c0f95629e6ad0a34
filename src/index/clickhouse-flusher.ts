// Moves queued index rows from the outbox to ClickHouse in batches: when ≥ batchRows rows wait, or the oldest has
// waited batchInterval, whichever comes first. Whole objects only, so a reader never sees part of one. A batch is
// deleted from the outbox only after ClickHouse accepted it; failures are retried with backoff, forever, and the
// rows stay in the outbox meanwhile (also across restarts: the next start flushes them).
//
// Except a refusal that is about the rows themselves: a value ClickHouse will never take would otherwise hold up every
// object queued after it, forever. When ClickHouse answers a batch with an error (not an outage), the batch is halved,
// object by object, until the refused object is alone; it is then retried while other objects are written past it,
// and set aside in the outbox (kept, readable, reported, retried at the next start) only if ClickHouse keeps refusing
// it alone right after it took another object. So a refusal of everything (schema drift, a full disk, a read-only
// replica) sets nothing aside: batches just wait, as in an outage. A row the sink itself cannot encode (a damaged or
// foreign outbox row) needs no such proof: alone, it is set aside at once.

import { Backoff, sleep } from '../archiver/backoff.js';
import type { IndexOutbox, OutboxBatch } from './index-outbox.js';

function describeError(error: unknown): string {
  const text = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim();
  return text.length > 1000 ? `${text.slice(0, 1000)}…` : text;
}

/**
 * What a failed write says about the batch. `rows`: the sink refused rows of the batch before sending them (they can
 * never be written); `server`: the server answered with an error, which may be about the rows (or about itself);
 * `retry`: an outage, a timeout, credentials — nothing about the rows.
 */
export type FailureKind = 'rows' | 'server' | 'retry';

export interface FlushSink {
  /** Makes the remote side ready (schema); called before the first write and again after a failure. */
  prepare(): Promise<void>;
  write(batch: OutboxBatch): Promise<void>;
  classify(error: unknown): FailureKind;
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
  /** An object was set aside in the outbox because the remote side refused it alone (see the header). */
  onSetAside(objectKey: string, error: unknown): void;
}

/** Single objects refused while others are tried past them; more than this looks like a refusal of everything. */
const MAX_SUSPECTS = 8;

export class OutboxFlusher {
  private loop: Promise<void> | null = null;
  private readonly stopping = new AbortController();
  private wakeUp: (() => void) | null = null;
  private prepared = false;
  private readonly backoff: Backoff;
  private inFlight: Promise<unknown> = Promise.resolve();
  /** Most objects per batch: halved on each refused batch, doubled back on each accepted one. */
  private objectLimit = Number.POSITIVE_INFINITY;
  /** Objects refused alone, left out of batches until another object has been written past them. */
  private readonly suspects = new Set<number>();
  /** Suspects to retry alone now that the server took another object: a refusal now sets them aside. */
  private confirming: number[] = [];

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
    if (stats.objects === 0 || stats.oldestAtMs === null) {
      this.objectLimit = Number.POSITIVE_INFINITY; // drained: full batches again
      return this.options.batchIntervalMs;
    }
    // Isolating a refused object (see the header): what is left of the refused batch was due already.
    if (this.isolating()) return 0;
    if (stats.requests + stats.objects + stats.traceRows >= this.options.batchRows) return 0;
    // Rows stamped ahead of the clock were queued before it stepped back: due now, not after the step.
    if (stats.oldestAtMs > nowMs) return 0;
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
      const batch = this.nextBatch();
      if (batch === null) return false;
      try {
        await this.sink.write(batch);
      } catch (error) {
        if (this.isolate(batch, error)) return true;
        throw error;
      }
      this.outbox.remove(batch);
      this.accepted(batch);
      this.events.onAvailable();
      return true;
    } catch (error) {
      // Prepare again before the next write: the server that comes back may be a fresh one, without the schema.
      this.prepared = false;
      throw error;
    }
  }

  private isolating(): boolean {
    return this.objectLimit !== Number.POSITIVE_INFINITY || this.suspects.size > 0 || this.confirming.length > 0;
  }

  private nextBatch(): OutboxBatch | null {
    const { maxBatchRows } = this.options;
    while (this.confirming.length > 0) {
      const batch = this.outbox.takeBatch(maxBatchRows, { only: this.confirming[0]! });
      if (batch !== null) return batch;
      this.confirming.shift(); // gone meanwhile
    }
    if (this.suspects.size > 0) {
      const past = this.outbox.takeBatch(maxBatchRows, { maxObjects: this.objectLimit, skip: [...this.suspects] });
      if (past !== null) return past;
      // Nothing else queued to tell a refused object from a refusing server: retry the suspects as any object.
      this.suspects.clear();
    }
    const batch = this.outbox.takeBatch(maxBatchRows, { maxObjects: this.objectLimit });
    if (batch === null) this.objectLimit = Number.POSITIVE_INFINITY; // drained: full batches again
    return batch;
  }

  /** After a failed write: true when the failure was dealt with here (an object set aside), false to retry. */
  private isolate(batch: OutboxBatch, error: unknown): boolean {
    const kind = this.sink.classify(error);
    if (kind === 'retry') return false;
    const [seq] = batch.seqs;
    if (batch.seqs.length > 1) {
      this.objectLimit = Math.ceil(batch.seqs.length / 2);
      return false;
    }
    if (kind === 'rows' || this.confirming[0] === seq) {
      this.outbox.setAside(seq!, describeError(error), Date.now());
      if (this.confirming[0] === seq) this.confirming.shift();
      this.events.onSetAside(batch.objectKeys[0]!, error);
      return true;
    }
    this.suspects.add(seq!);
    this.objectLimit = 1;
    if (this.suspects.size > MAX_SUSPECTS) this.suspects.clear(); // everything is refused: wait, as in an outage
    return false;
  }

  private accepted(batch: OutboxBatch): void {
    this.objectLimit *= 2; // back towards whole batches (Infinity stays Infinity)
    if (this.confirming.length > 0 && this.confirming[0] === batch.seqs[0]) {
      this.confirming.shift(); // taken after all: the refusal was not about it
      return;
    }
    if (this.suspects.size > 0) {
      this.confirming = [...this.suspects].sort((a, b) => a - b);
      this.suspects.clear();
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
