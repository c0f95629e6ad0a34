// The in-flight byte budget: bytes admitted and not yet durable in the spool. Bounds memory under overload.

export interface BudgetLease {
  /** Returns the bytes to the budget; calling it twice is harmless. */
  release(): void;
}

/** A lease whose size follows what it really holds (a body charged as it arrives, then its decoded size). */
export interface ResizableLease extends BudgetLease {
  readonly bytes: number;
  /** Charges `bytes` instead of what the lease held; ignored after release. */
  resize(bytes: number): void;
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

  /** Takes `bytes` whether or not they fit: the caller has decided (a waiter whose turn came). */
  reserve(bytes: number): ResizableLease {
    this.used += bytes;
    return new Reservation(bytes, (delta) => {
      this.used += delta;
    });
  }

  get inUse(): number {
    return this.used;
  }
}

class Reservation implements ResizableLease {
  private released = false;

  constructor(private held: number, private readonly charge: (delta: number) => void) {}

  get bytes(): number {
    return this.released ? 0 : this.held;
  }

  resize(bytes: number): void {
    if (this.released) return;
    this.charge(bytes - this.held);
    this.held = bytes;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.charge(-this.held);
  }
}
