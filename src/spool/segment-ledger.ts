// What the spool knows about one segment without holding its payloads: where each record starts, when it was
// received, and whether the archiver has released it. Compact arrays because a spool can hold millions of records.
import { SEGMENT_FORMAT, type SegmentFormat } from './segment-format.js';

export class SegmentLedger {
  /** End of the whole, durable records (and skipped ranges); anything in the file past this is not ours to read. */
  size: number;
  /** No more records will be added (the segment is no longer the active one). */
  sealed: boolean;
  private readonly offsets: number[] = [];
  /** Starts of ranges that hold no record (damaged bytes moved to quarantine at recovery), ascending. Rare. */
  private readonly gapStarts: number[] = [];
  private readonly receivedAtMs: number[] = [];
  private released = new Uint8Array(64);
  private releasedCount = 0;
  /** Every record before this index is released; lets oldest-unreleased lookups skip the released prefix. */
  private firstUnreleased = 0;

  /**
   * `format` is the segment's record format; `recordsFrom`, where its first record starts (after the segment header).
   */
  constructor(readonly seq: number, sealed: boolean, readonly format: SegmentFormat = SEGMENT_FORMAT, readonly recordsFrom = 0) {
    this.sealed = sealed;
    this.size = recordsFrom;
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

  /** A range without a record (damaged bytes, already quarantined): readers go past it. Same order rule as add(). */
  skip(offset: number, length: number): void {
    if (offset !== this.size) throw new Error(`segment ${this.seq}: skipped range at ${offset}, expected ${this.size}`);
    if (length <= 0) return;
    this.gapStarts.push(offset);
    this.size = offset + length;
  }

  /** Where the first record at or after `offset` starts; `size` when there is none. */
  nextRecordAtOrAfter(offset: number): number {
    let lo = 0;
    let hi = this.offsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.offsets[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    return this.offsets[lo] ?? this.size;
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
    const next = this.offsets[index + 1] ?? this.size;
    if (this.gapStarts.length === 0) return next;
    const gap = this.gapStarts.find((start) => start > offset);
    return gap !== undefined && gap < next ? gap : next;
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
