// The live segments in sequence order, what they hold, how far the tail has read, and the one rule for deleting a
// segment file: sealed, fully tailed and fully released.
import type { Logger } from 'pino';
import type { SpoolRef } from './spool-ref.js';
import type { SegmentLedger } from './segment-ledger.js';
import { appendReleases, removeReleaseLog } from './release-log.js';
import { removeFile, segmentPath } from './segment-files.js';

export interface TailPosition {
  segment: number;
  offset: number;
}

export class SegmentSet {
  /** Keyed by sequence number; insertion order is ascending because segments are only ever added at the end. */
  private readonly ledgers = new Map<number, SegmentLedger>();
  /** The release-log append in progress per segment, so deleting a segment can wait for it. */
  private readonly logWrites = new Map<number, Promise<void>>();
  private diskBytes = 0;
  private unreleased = 0;
  /** Where the single tail consumer will read next. */
  private tail: TailPosition = { segment: 0, offset: 0 };

  constructor(private readonly dir: string, private readonly logger: Logger) {}

  get bytesOnDisk(): number {
    return this.diskBytes;
  }

  get count(): number {
    return this.ledgers.size;
  }

  get unreleasedRecords(): number {
    return this.unreleased;
  }

  get tailPosition(): TailPosition {
    return this.tail;
  }

  moveTail(position: TailPosition): void {
    this.tail = position;
  }

  add(ledger: SegmentLedger): void {
    this.ledgers.set(ledger.seq, ledger);
    this.diskBytes += ledger.size;
    this.unreleased += ledger.unreleasedCount;
  }

  /** Accounts a record that is now durable in `ledger`. */
  addRecord(ledger: SegmentLedger, offset: number, length: number, receivedAtMs: number): void {
    ledger.add(offset, length, receivedAtMs);
    this.diskBytes += length;
    this.unreleased += 1;
  }

  /** The live segment `seq`, if it is still live. */
  get(seq: number): SegmentLedger | undefined {
    return this.ledgers.get(seq);
  }

  /** The live segment with the lowest sequence number >= `seq`. */
  firstAtOrAfter(seq: number): SegmentLedger | undefined {
    const exact = this.ledgers.get(seq);
    if (exact) return exact;
    for (const ledger of this.ledgers.values()) if (ledger.seq >= seq) return ledger;
    return undefined;
  }

  oldestUnreleasedReceivedAtMs(): number | undefined {
    for (const ledger of this.ledgers.values()) {
      const at = ledger.oldestUnreleasedReceivedAtMs();
      if (at !== undefined) return at;
    }
    return undefined;
  }

  async release(refs: readonly Pick<SpoolRef, 'segment' | 'offset'>[]): Promise<void> {
    const released = new Map<SegmentLedger, number[]>();
    for (const ref of refs) {
      const ledger = this.ledgers.get(ref.segment);
      if (ledger?.release(ref.offset)) {
        this.unreleased -= 1;
        const offsets = released.get(ledger);
        if (offsets) offsets.push(ref.offset);
        else released.set(ledger, [ref.offset]);
      }
    }
    for (const [ledger, offsets] of released) {
      // Writes to one release log are chained, and deletion waits for them: an append landing after the delete
      // would leave an orphan log behind.
      const previous = this.logWrites.get(ledger.seq) ?? Promise.resolve();
      const write = previous.then(async () => {
        if (!this.ledgers.has(ledger.seq) || this.isDone(ledger)) return; // deleted or about to be: nothing to remember
        await appendReleases(this.dir, ledger.seq, offsets).catch((err: unknown) => {
          this.logger.warn({ err, segment: ledger.seq }, 'could not record releases; a restart will yield them again');
        });
      });
      this.logWrites.set(ledger.seq, write);
      await write;
      if (this.logWrites.get(ledger.seq) === write) this.logWrites.delete(ledger.seq);
    }
    await this.deleteAllDone(released.keys());
  }

  /** The segment takes no more records; an empty one is deleted straight away. */
  async seal(ledger: SegmentLedger): Promise<void> {
    ledger.sealed = true;
    await this.deleteIfDone(ledger);
  }

  async deleteIfDone(ledger: SegmentLedger): Promise<void> {
    if (!this.isDone(ledger)) return;
    // Forget it before the unlink so that concurrent callers cannot delete it twice.
    this.ledgers.delete(ledger.seq);
    this.diskBytes -= ledger.size;
    const path = segmentPath(this.dir, ledger.seq);
    try {
      // Segment first: a crash in between leaves an orphan release log, which the next open removes.
      await removeFile(path);
      await this.logWrites.get(ledger.seq);
      await removeReleaseLog(this.dir, ledger.seq);
    } catch (err) {
      // Its records are all archived: a leftover file only costs a re-read after restart, which the archiver skips.
      this.logger.error({ err, path }, 'could not delete a fully released spool segment');
      throw err;
    }
  }

  private async deleteAllDone(ledgers: Iterable<SegmentLedger>): Promise<void> {
    const failures: unknown[] = [];
    for (const ledger of ledgers) {
      try {
        await this.deleteIfDone(ledger);
      } catch (err) {
        failures.push(err);
      }
    }
    if (failures.length > 0) throw failures[0];
  }

  private isDone(ledger: SegmentLedger): boolean {
    if (!ledger.sealed || !this.ledgers.has(ledger.seq)) return false;
    if (ledger.recordCount === 0) return true;
    const tailedPast =
      this.tail.segment > ledger.seq || (this.tail.segment === ledger.seq && this.tail.offset >= ledger.size);
    return tailedPast && ledger.fullyReleased;
  }
}
