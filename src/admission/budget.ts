// The in-flight byte budget: bytes admitted and not yet durable in the spool. Bounds memory under overload.

export interface BudgetLease {
  /** Returns the bytes to the budget; calling it twice is harmless. */
  release(): void;
}

export class ByteBudget {
  private used = 0;

  constructor(private readonly limit: number) {}

  /**
   * Takes `bytes` from the budget, or returns null when they do not fit. A request larger than the whole budget is
   * admitted when nothing else is in flight, so that no single valid request is refused forever; `ownHeldBytes` is
   * what the same request already holds (its OTLP JSON body while the protobuf is admitted), which is not "else".
   */
  tryAcquire(bytes: number, ownHeldBytes = 0): BudgetLease | null {
    if (this.used - ownHeldBytes > 0 && this.used + bytes > this.limit) return null;
    this.used += bytes;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.used -= bytes;
      },
    };
  }

  get inUse(): number {
    return this.used;
  }
}
