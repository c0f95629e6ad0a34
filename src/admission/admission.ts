// Admission decides, before any work, whether a request may enter the data path: budget and spool room.
// Refusals are OverloadedError (retryable, with a delay hint) so clients back off instead of dropping data.
import { OverloadedError } from '../errors.js';
import type { BudgetLease } from './budget.js';
import { ByteBudget } from './budget.js';

export interface AdmissionOptions {
  maxInFlightBytes: number;
  retryAfterMs: number;
  /** Whether the spool can take this many more bytes. */
  spoolHasRoomFor: (bytes: number) => boolean;
}

/**
 * Size assumed for a body not yet read, until the first admitted request tells the real size. Deliberately large
 * (gRPC's customary 4 MiB message limit, about a Collector batch): with a small guess, the burst of connections at
 * start-up was let in all at once (128 clients × 1 MiB against a 64 MiB budget: ~250 MiB of bodies and their
 * receive buffers), which set the process's peak memory. Too large a guess only slows that first burst.
 */
const INITIAL_EXPECTED_BYTES = 4 * 1024 * 1024;

export class Admission {
  private readonly budget: ByteBudget;
  /** Bodies being read right now (admitted at their headers, not yet admitted by size). */
  private receiving = 0;
  /** Moving average of admitted request sizes: what a body still on its way is expected to weigh. */
  private expectedBytes = INITIAL_EXPECTED_BYTES;
  private sizeSeen = false;

  constructor(private readonly options: AdmissionOptions) {
    this.budget = new ByteBudget(options.maxInFlightBytes);
  }

  /**
   * At a request's headers, before its body is read into memory: refuses when the bodies already in flight or on
   * their way would overrun the budget, so an overloaded server does not first buffer what it is about to refuse.
   * Returns the function that ends the reservation (call it when the body has arrived or the call ended).
   */
  beginReceive(): () => void {
    const expected = (this.receiving + 1) * this.expectedBytes;
    const busy = this.receiving > 0 || this.budget.inUse > 0;
    if (!this.options.spoolHasRoomFor(this.spoolExpectedBytes())) throw this.spoolFull();
    if (busy && this.budget.inUse + expected > this.options.maxInFlightBytes) throw this.overBudget();
    this.receiving += 1;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.receiving -= 1;
    };
  }

  /** True when a request of typical size would be refused for lack of spool room. */
  spoolRefusing(): boolean {
    return !this.options.spoolHasRoomFor(this.spoolExpectedBytes());
  }

  /**
   * The start-up guess is for pacing memory only: a small spool must not refuse (or report not ready) before any
   * request was seen. admit() checks the real size against the spool anyway.
   */
  private spoolExpectedBytes(): number {
    return this.sizeSeen ? this.expectedBytes : 0;
  }

  /** `heldBytes`: what this request already holds of the budget (see hold()). */
  admit(bytes: number, heldBytes = 0): BudgetLease {
    // The first real size replaces the guess outright; later ones move the average.
    this.expectedBytes = this.sizeSeen ? Math.round(0.9 * this.expectedBytes + 0.1 * bytes) : bytes;
    this.sizeSeen = true;
    if (!this.options.spoolHasRoomFor(bytes)) throw this.spoolFull();
    const lease = this.budget.tryAcquire(bytes, heldBytes);
    if (lease === null) throw this.overBudget();
    return lease;
  }

  /**
   * Takes `bytes` of the budget for work on a request before it is a request of known size (OTLP JSON to be parsed),
   * refusing when they do not fit — before the work is done. Not counted as a request: the size estimate and the
   * spool check are admit()'s, which the request then passes with `heldBytes` = these bytes.
   */
  hold(bytes: number): BudgetLease {
    const lease = this.budget.tryAcquire(bytes);
    if (lease === null) throw this.overBudget();
    return lease;
  }

  private spoolFull(): OverloadedError {
    return new OverloadedError(
      'spool is full: archiving is behind (is the blob store or index reachable?); retry later',
      this.options.retryAfterMs,
      'spool_full',
    );
  }

  private overBudget(): OverloadedError {
    return new OverloadedError(
      `too many bytes in flight (budget ${this.options.maxInFlightBytes} bytes); retry later`,
      this.options.retryAfterMs,
      'over_budget',
    );
  }

  get inFlightBytes(): number {
    return this.budget.inUse;
  }

  /** Requests admitted at their headers whose body is still being received. */
  get receivingRequests(): number {
    return this.receiving;
  }
}
