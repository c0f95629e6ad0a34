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

export class Admission {
  private readonly budget: ByteBudget;

  constructor(private readonly options: AdmissionOptions) {
    this.budget = new ByteBudget(options.maxInFlightBytes);
  }

  admit(bytes: number): BudgetLease {
    if (!this.options.spoolHasRoomFor(bytes)) {
      throw new OverloadedError(
        'spool is full: archiving is behind (is the blob store or index reachable?); retry later',
        this.options.retryAfterMs,
        'spool_full',
      );
    }
    const lease = this.budget.tryAcquire(bytes);
    if (lease === null) {
      throw new OverloadedError(
        `too many bytes in flight (budget ${this.options.maxInFlightBytes} bytes); retry later`,
        this.options.retryAfterMs,
        'over_budget',
      );
    }
    return lease;
  }

  get inFlightBytes(): number {
    return this.budget.inUse;
  }
}
