// Replay: sends archived requests to an OTLP endpoint — the archived bytes unchanged, or with every timestamp moved
// by one offset — as fast as `concurrency` allows or at the original pace scaled by a factor. Retries what the
// target asks to retry (retry-policy.ts), stops at the first final error, and reports progress and a summary.
//
// Pacing: request i is due at start + (receivedAt_i - receivedAt_0) / speed; reads run ahead of the schedule so
// archive latency does not shift it. Order of sending is receive order; with concurrency > 1 at max speed, requests
// overlap and may arrive in another order.
import { setMaxListeners } from 'node:events';
import type { IndexStore } from '../index/index-store.js';
import type { DedupStage } from '../query/dedup.js';
import type { ArchivedRequest } from '../model.js';
import { shiftTimestamps } from '../otlp/time-shift.js';
import { sleep } from '../archiver/backoff.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { ReplayTarget } from './grpc-target.js';
import { readAhead, type ReadItem } from './read-ahead.js';
import { timeShiftOffset, type Speed, type TimeShift } from './replay-options.js';
import { emptyCounts, type ReplayFailure, type ReplayProgress, type ReplaySummary } from './replay-progress.js';
import { DEFAULT_RETRY_POLICY, RetryState, type RetryPolicyOptions } from './retry-policy.js';
import { planSelection, selectRequests, SELECTION_PAGE, type ReplayDedup, type SelectionFilter } from './selection.js';

export interface ReplayOptions {
  filter: SelectionFilter;
  timeShift: TimeShift;
  speed: Speed;
  /** Exports in flight at once (>= 1). */
  concurrency: number;
  /** Plan only: select, count and compute the offset; read and send nothing. */
  dryRun: boolean;
  retry?: RetryPolicyOptions;
  onProgress?: (progress: ReplayProgress) => void;
  /** Stops the replay from outside: nothing new is sent, calls in flight are cancelled. */
  abort?: AbortSignal;
  /** Bytes read ahead of the sender at most. Default 64 MiB. */
  readAheadBytes?: number;
  /** Clock, for tests. */
  nowMs?: () => number;
  /** Send the duplicates too (retries of a request within the dedup window); default: each distinct request once. */
  withDuplicates?: boolean;
}

export interface ReplaySource {
  index: IndexStore;
  blobs: BlobStore;
  /** Distinct requests (a QueryService's): each retried request is sent once. None: every request is sent. */
  dedup?: DedupStage;
}

const DEFAULT_READ_AHEAD_BYTES = 64 * 2 ** 20;
const CONNECT_WAIT_MS = 10_000;
const MAX_REJECTION_MESSAGES = 5;
/** The longest delay setTimeout honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export async function replay(source: ReplaySource, target: ReplayTarget | null, options: ReplayOptions): Promise<ReplaySummary> {
  if (!Number.isSafeInteger(options.concurrency) || options.concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${options.concurrency}`);
  }
  return new ReplayRun(source, target, options).run();
}

class ReplayRun {
  private readonly nowMs: () => number;
  private readonly startedAtMs: number;
  private readonly progress: ReplayProgress;
  private offsetNs = 0n;
  private failure: ReplayFailure | null = null;
  /** Requests handed to the target (first attempts). */
  private dispatched = 0;
  /** The send loop went through the whole selection. */
  private completed = false;
  private readonly rejections: string[] = [];
  /** Aborted on the first final error or an outside abort: wakes every wait, dispatches nothing more. */
  private readonly stop = new AbortController();
  /** Aborted on an outside abort only: cancels calls in flight (a final error lets them finish). */
  private readonly cancel = new AbortController();

  constructor(
    private readonly source: ReplaySource,
    private readonly target: ReplayTarget | null,
    private readonly options: ReplayOptions,
  ) {
    // Every export in flight and every retry wait listens on these: as many as the concurrency, often more than 10.
    setMaxListeners(0, this.stop.signal, this.cancel.signal);
    this.nowMs = options.nowMs ?? Date.now;
    this.startedAtMs = this.nowMs();
    this.progress = {
      total: emptyCounts(),
      sent: emptyCounts(),
      retried: 0,
      failed: 0,
      rejectedItems: 0,
      elapsedMs: 0,
      done: false,
    };
    const outside = options.abort;
    if (outside) {
      const onAbort = (): void => {
        this.stop.abort();
        this.cancel.abort();
      };
      if (outside.aborted) onAbort();
      else outside.addEventListener('abort', onAbort, { once: true });
    }
  }

  private distinct(): ReplayDedup {
    return { ...(this.source.dedup === undefined ? {} : { dedup: this.source.dedup }), withDuplicates: this.options.withDuplicates ?? false };
  }

  async run(): Promise<ReplaySummary> {
    const plan = await planSelection(this.source.index, this.options.filter, SELECTION_PAGE, this.distinct(), this.stop.signal);
    this.progress.total = plan.total;
    this.offsetNs = timeShiftOffset(this.options.timeShift, plan.earliestNs, BigInt(this.startedAtMs) * 1_000_000n);
    this.report();
    if (!this.options.dryRun && plan.total.requests > 0 && !this.stop.signal.aborted) {
      if (this.target === null) throw new RangeError('a replay that is not a dry run needs a target');
      await this.send(this.target, plan.lastId!);
    }
    this.progress.done = true;
    this.report();
    const aborted = this.options.abort?.aborted ?? false;
    return {
      ...this.progress,
      total: { ...this.progress.total },
      sent: { ...this.progress.sent },
      dryRun: this.options.dryRun,
      offsetNs: this.offsetNs,
      earliestNs: plan.earliestNs,
      latestNs: plan.latestNs,
      failure: this.failure,
      rejections: [...this.rejections],
      aborted,
      delivered:
        !this.options.dryRun &&
        !aborted &&
        this.failure === null &&
        this.progress.rejectedItems === 0 &&
        (this.completed || plan.total.requests === 0) &&
        this.progress.sent.requests === this.dispatched,
    };
  }

  private async send(target: ReplayTarget, lastId: string): Promise<void> {
    const { concurrency, speed } = this.options;
    const inFlight = new Set<Promise<void>>();
    const selection = selectRequests(this.source.index, this.options.filter, lastId, SELECTION_PAGE, this.distinct());
    const reads = readAhead(
      this.source,
      selection,
      Math.max(4, concurrency * 2),
      this.options.readAheadBytes ?? DEFAULT_READ_AHEAD_BYTES,
    );
    // Connection set-up must not count as the first request's delay: pacing starts once the target is reachable.
    await this.waitForTarget(target);
    let paceStartMs: number | undefined;
    let firstReceivedAtMs = 0;
    for await (const item of reads) {
      if (this.stop.signal.aborted) break;
      if (speed !== 'max') {
        if (paceStartMs === undefined) {
          // Likewise the first read: the clock starts when the first request can go out.
          await item.bytes.catch(() => undefined);
          paceStartMs = this.nowMs();
          firstReceivedAtMs = item.request.receivedAtMs;
        }
        const dueMs = paceStartMs + (item.request.receivedAtMs - firstReceivedAtMs) / speed;
        await this.sleepUntil(dueMs);
      }
      while (inFlight.size >= concurrency) await Promise.race(inFlight);
      if (this.stop.signal.aborted) break;
      this.dispatched += 1;
      const task: Promise<void> = this.deliver(target, item).finally(() => inFlight.delete(task));
      inFlight.add(task);
    }
    this.completed = !this.stop.signal.aborted;
    await Promise.all(inFlight);
  }

  private async deliver(target: ReplayTarget, item: ReadItem): Promise<void> {
    const { request } = item;
    let payload: Buffer;
    try {
      payload = await item.bytes;
    } catch (error) {
      this.fail(request, `cannot be read from the archive: ${(error as Error).message}`);
      return;
    }
    if (this.offsetNs !== 0n) {
      try {
        payload = shiftTimestamps(request.signal, payload, this.offsetNs).bytes;
      } catch (error) {
        this.fail(request, `cannot be time-shifted: ${(error as Error).message}`);
        return;
      }
    }
    const retry = new RetryState(this.options.retry ?? DEFAULT_RETRY_POLICY, this.nowMs());
    for (let attempts = 1; ; attempts++) {
      const outcome = await target.export(request.signal, payload, this.cancel.signal);
      if (outcome.ok) {
        this.progress.sent.requests += 1;
        // `sent` is what the target accepted: items it rejected in a partial success are not among them.
        this.progress.sent.items += Math.max(0, request.items - outcome.rejectedItems);
        this.progress.sent.bytes += payload.length;
        if (outcome.rejectedItems > 0 || outcome.rejectedMessage !== '') {
          this.progress.rejectedItems += outcome.rejectedItems;
          if (this.rejections.length < MAX_REJECTION_MESSAGES) {
            this.rejections.push(`request ${request.id}: ${outcome.rejectedItems} rejected: ${outcome.rejectedMessage}`);
          }
        }
        this.report();
        return;
      }
      if (this.cancel.signal.aborted) return;
      const decision = retry.decide(outcome, this.nowMs());
      if (!decision.retry) {
        this.fail(request, `was refused by the target: ${decision.reason}`, { code: outcome.code, attempts });
        return;
      }
      // Stopping (another request failed for good): this one is not retried, it stays unsent.
      if (this.stop.signal.aborted) return;
      this.progress.retried += 1;
      this.report();
      await sleep(decision.delayMs, this.stop.signal);
      if (this.stop.signal.aborted) return;
    }
  }

  /**
   * Waits for the target to connect (at most CONNECT_WAIT_MS), but no longer than until the replay stops: Ctrl-C
   * while an unreachable target is being waited for must end the replay at once, with its summary.
   */
  private async waitForTarget(target: ReplayTarget): Promise<void> {
    if (target.ready === undefined || this.stop.signal.aborted) return;
    let onStop = (): void => undefined;
    const stopped = new Promise<void>((resolve) => {
      onStop = resolve;
      this.stop.signal.addEventListener('abort', onStop, { once: true });
    });
    try {
      await Promise.race([target.ready(CONNECT_WAIT_MS), stopped]);
    } finally {
      this.stop.signal.removeEventListener('abort', onStop);
    }
  }

  /**
   * Sleeps until `dueMs` on the replay's clock, or until the replay stops. In steps: setTimeout fires after 1 ms for
   * a delay past 2^31-1 ms (~24.8 days), which would send a request paced that far out (a long gap in the capture at
   * a low --speed) at once.
   */
  private async sleepUntil(dueMs: number): Promise<void> {
    let waitMs = dueMs - this.nowMs();
    while (waitMs > MAX_TIMER_MS && !this.stop.signal.aborted) {
      await sleep(MAX_TIMER_MS, this.stop.signal);
      waitMs = dueMs - this.nowMs();
    }
    if (waitMs > 0) await sleep(waitMs, this.stop.signal);
  }

  private fail(request: ArchivedRequest, reason: string, target?: ReplayFailure['target']): void {
    this.progress.failed += 1;
    this.failure ??= { requestId: request.id, signal: request.signal, reason, ...(target ? { target } : {}) };
    this.stop.abort();
    this.report();
  }

  private report(): void {
    this.progress.elapsedMs = this.nowMs() - this.startedAtMs;
    this.options.onProgress?.({
      ...this.progress,
      total: { ...this.progress.total },
      sent: { ...this.progress.sent },
    });
  }
}
