// A FIFO gate on the bytes held by reads in flight: a read of n bytes waits until n more fit under the limit — or until
// nothing else is held, so a read larger than the whole limit still runs (alone). Count-based concurrency alone lets
// 16 reads of 64 MiB requests hold 1 GiB at once.
export class ByteWindow {
  private held = 0;
  private readonly waiting: { bytes: number; resolve: () => void }[] = [];

  constructor(private readonly limit: number) {}

  async acquire(bytes: number): Promise<void> {
    if (this.waiting.length === 0 && this.fits(bytes)) {
      this.held += bytes;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push({ bytes, resolve }));
  }

  release(bytes: number): void {
    this.held -= bytes;
    while (this.waiting.length > 0 && this.fits(this.waiting[0]!.bytes)) {
      const next = this.waiting.shift()!;
      this.held += next.bytes;
      next.resolve();
    }
  }

  /** Wakes every waiter (they then run, or see that the work was called off). */
  drain(): void {
    for (const next of this.waiting.splice(0)) {
      this.held += next.bytes;
      next.resolve();
    }
  }

  private fits(bytes: number): boolean {
    return this.held === 0 || this.held + bytes <= this.limit;
  }
}
