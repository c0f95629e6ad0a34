// Group commit: appends that arrive while a write + fdatasync is in flight wait in a queue and then go to disk
// together, in one writev covered by one fdatasync. One batch is in flight at a time, so the active segment is only
// ever written at its end and its durable size is always exact.
import type { Logger } from 'pino';
import { BackendUnavailableError, SpoolFullError } from '../errors.js';
import type { RequestMeta } from '../model.js';
import { ActiveSegment } from './active-segment.js';
import { placeRecord } from './record-codec.js';
import type { EncodedRecord } from './record-codec.js';
import type { SegmentSet } from './segment-set.js';
import type { SpoolRef } from './spool-ref.js';

export type FsyncPolicy = 'always' | 'never';

export interface GroupCommitOptions {
  dir: string;
  segments: SegmentSet;
  segmentBytes: number;
  fsync: FsyncPolicy;
  /** Sequence number of the first segment this writer creates. */
  firstSeq: number;
  logger: Logger;
  /** Called whenever records became durable or a segment was sealed: the tail may have something new. */
  onChange: () => void;
  /** Called for each record once it is durable, before onChange (so the tail can find its payload in memory). */
  onDurable?: (ref: SpoolRef, record: EncodedRecord) => void;
}

interface PendingAppend {
  record: EncodedRecord;
  meta: RequestMeta;
  resolve: (ref: SpoolRef) => void;
  reject: (err: unknown) => void;
}

export class GroupCommitter {
  private queue: PendingAppend[] = [];
  /** Bytes accepted but not yet durable (queued or in flight). */
  private pending = 0;
  private active: ActiveSegment | null = null;
  /** After a failed write the active segment's tail is unknown: the next batch goes to a fresh segment. */
  private mustRoll = false;
  private nextSeq: number;
  private running: Promise<void> | null = null;
  private fsyncCount = 0;
  private appendCount = 0;

  private constructor(private readonly opts: GroupCommitOptions) {
    this.nextSeq = opts.firstSeq;
  }

  static async start(opts: GroupCommitOptions): Promise<GroupCommitter> {
    const committer = new GroupCommitter(opts);
    await committer.roll();
    return committer;
  }

  get pendingBytes(): number {
    return this.pending;
  }

  get fsyncs(): number {
    return this.fsyncCount;
  }

  get appends(): number {
    return this.appendCount;
  }

  submit(record: EncodedRecord, meta: RequestMeta): Promise<SpoolRef> {
    return new Promise<SpoolRef>((resolve, reject) => {
      this.queue.push({ record, meta, resolve, reject });
      this.pending += record.length;
      this.schedule();
    });
  }

  /** Resolves once everything submitted so far has been written (or has failed). */
  async drain(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Drains, then seals the active segment. */
  async close(): Promise<void> {
    await this.drain();
    const active = this.active;
    this.active = null;
    if (active) await this.retire(active);
  }

  private schedule(): void {
    if (this.running) return;
    // setImmediate rather than a microtask: appends arriving in the same I/O turn join the first batch.
    this.running = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.flushAll())
      .catch((err: unknown) => this.fail(this.queue.splice(0), err, 'spool writer failed'))
      .finally(() => {
        this.running = null;
        if (this.queue.length > 0) this.schedule();
      });
  }

  private async flushAll(): Promise<void> {
    while (this.queue.length > 0) {
      let active: ActiveSegment;
      try {
        active = await this.activeFor(this.queue[0]!.record.length);
      } catch (err) {
        this.fail(this.queue.splice(0), err, 'could not create a spool segment');
        continue;
      }
      await this.write(active, this.takeBatch(active));
    }
  }

  /** The segment the next record goes to, rolling when the current one would grow past segmentBytes. */
  private async activeFor(recordBytes: number): Promise<ActiveSegment> {
    const active = this.active;
    if (active && !this.mustRoll) {
      const ledger = active.ledger;
      if (ledger.recordCount === 0 || ledger.size + recordBytes <= this.opts.segmentBytes) return active;
    }
    return this.roll();
  }

  /** Records for one write: as many queued ones as fit the segment (the first always does). */
  private takeBatch(active: ActiveSegment): PendingAppend[] {
    let size = active.ledger.size;
    let n = 0;
    for (const next of this.queue) {
      if (n > 0 && size + next.record.length > this.opts.segmentBytes) break;
      size += next.record.length;
      n += 1;
    }
    return this.queue.splice(0, n);
  }

  private async write(active: ActiveSegment, batch: PendingAppend[]): Promise<void> {
    const ledger = active.ledger;
    const position = ledger.size;
    const buffers: Buffer[] = [];
    let bytes = 0;
    for (const p of batch) {
      // The header CRC covers where the record lands; known only now.
      placeRecord(p.record.head, ledger.seq, position + bytes);
      buffers.push(p.record.head, p.record.payload);
      bytes += p.record.length;
    }
    try {
      await active.write(buffers, position);
      if (this.opts.fsync === 'always') {
        await active.sync();
        this.fsyncCount += 1;
      }
    } catch (err) {
      this.mustRoll = true;
      // Best effort: cut off what may have reached the file, so that a restart does not bring back records whose
      // append was rejected. The scan at open would drop a torn remainder anyway.
      await active.truncate(position).catch(() => undefined);
      this.fail(batch, err, `spool write to ${active.path} failed`);
      return;
    }
    this.pending -= bytes;
    const refs: SpoolRef[] = [];
    let offset = position;
    for (const p of batch) {
      const ref: SpoolRef = { segment: ledger.seq, offset, length: p.record.length, meta: p.meta };
      refs.push(ref);
      this.opts.segments.addRecord(ledger, offset, p.record.length, p.meta.receivedAtMs);
      this.opts.onDurable?.(ref, p.record);
      offset += p.record.length;
    }
    this.appendCount += batch.length;
    this.opts.onChange();
    batch.forEach((p, i) => p.resolve(refs[i]!));
  }

  private fail(batch: PendingAppend[], err: unknown, what: string): void {
    for (const p of batch) this.pending -= p.record.length;
    this.opts.logger.error({ err, records: batch.length }, what);
    const code = (err as NodeJS.ErrnoException).code;
    const error =
      code === 'ENOSPC' || code === 'EDQUOT'
        ? new SpoolFullError(`${what}: the disk is full`, { cause: err })
        : new BackendUnavailableError(`${what}: ${(err as Error).message}`, { cause: err });
    for (const p of batch) p.reject(error);
  }

  private async roll(): Promise<ActiveSegment> {
    const seq = this.nextSeq;
    this.nextSeq += 1;
    const durable = this.opts.fsync === 'always';
    const next = await ActiveSegment.create(this.opts.dir, seq, durable);
    if (durable) this.fsyncCount += 1;
    const previous = this.active;
    this.active = next;
    this.mustRoll = false;
    this.opts.segments.add(next.ledger);
    if (previous) await this.retire(previous);
    return next;
  }

  private async retire(segment: ActiveSegment): Promise<void> {
    try {
      await segment.close();
    } catch (err) {
      this.opts.logger.warn({ err, path: segment.path }, 'closing a spool segment failed');
    }
    try {
      await this.opts.segments.seal(segment.ledger);
    } catch {
      // Already logged by the segment set; the file is retried on the next start.
    }
    this.opts.onChange();
  }
}
