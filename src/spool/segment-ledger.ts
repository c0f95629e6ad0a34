// What the spool knows about one segment without holding its payloads: where each record starts, when it was
// received, and whether the archiver has released it. Compact arrays because a spool can hold millions of records.

export class SegmentLedger {
  /** Bytes of whole, durable records; anything in the file past this is not ours to read. */
  size = 0;
  /** No more records will be added (the segment is no longer the active one). */
  sealed: boolean;
  private readonly offsets: number[] = [];
  private readonly receivedAtMs: number[] = [];
  private released = new Uint8Array(64);
  private releasedCount = 0;
  /** Every record before this index is released; lets oldest-unreleased lookups skip the released prefix. */
  private firstUnreleased = 0;

  constructor(readonly seq: number, sealed: boolean) {
    this.sealed = sealed;
  }

  get recordCount(): number {
    return this.offsets.length;
  }

  get unreleasedCount(): number {
    return this.offsets.length - this.releasedCount;
  }

  /** Records must be added in offset order, each starting where the previous one ended. */
  add(offset: number, length: number, receivedAtMs: number): void {
    if (offset !== this.size) throw new Error(`segment ${this.seq}: record at ${offset}, expected ${this.size}`);
    if (this.offsets.length === this.released.length) {
      const grown = new Uint8Array(this.released.length * 2);
      grown.set(this.released);
      this.released = grown;
    }
    this.offsets.push(offset);
    this.receivedAtMs.push(receivedAtMs);
    this.size = offset + length;
  }

  /** Returns true when this call released the record; false for an unknown offset or a second release. */
  release(offset: number): boolean {
    const index = this.indexOf(offset);
    if (index < 0 || this.released[index] === 1) return false;
    this.released[index] = 1;
    this.releasedCount += 1;
    return true;
  }

  isReleased(offset: number): boolean {
    const index = this.indexOf(offset);
    return index >= 0 && this.released[index] === 1;
  }

  /** Where the record starting at `offset` ends (the next one starts). */
  recordEnd(offset: number): number {
    const index = this.indexOf(offset);
    if (index < 0) throw new Error(`segment ${this.seq} has no record at ${offset}`);
    return this.offsets[index + 1] ?? this.size;
  }

  get fullyReleased(): boolean {
    return this.releasedCount === this.offsets.length;
  }

  /** Receive time of the first unreleased record in append order, or undefined when all are released. */
  oldestUnreleasedReceivedAtMs(): number | undefined {
    while (this.firstUnreleased < this.offsets.length && this.released[this.firstUnreleased] === 1) {
      this.firstUnreleased += 1;
    }
    return this.receivedAtMs[this.firstUnreleased];
  }

  private indexOf(offset: number): number {
    let lo = 0;
    let hi = this.offsets.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = this.offsets[mid]!;
      if (at === offset) return mid;
      if (at < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}
