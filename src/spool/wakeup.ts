// Wakes whoever waits for "something changed". Waiters re-check their own condition, so a spurious wake is harmless
// and, since checking and waiting happen in the same tick, no wake can be lost.

export class Wakeup {
  private waiters: Array<() => void> = [];

  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
