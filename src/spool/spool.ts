// The spool: a local write-ahead log of accepted requests. An Export is acknowledged once its record is durable
// here; the archiver tails records in order, and releases them once archived and indexed. A segment file goes
// away when it is sealed, fully tailed and fully released; whatever is left at a restart is yielded again.
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { ConfigError, CorruptDataError, NotFoundError, ShuttingDownError, SpoolFullError } from '../errors.js';
import type { IngestNotes, RequestMeta } from '../model.js';
import { lockDirectory, type DirLock } from './dir-lock.js';
import { GroupCommitter } from './group-commit.js';
import { Handover } from './handover.js';
import type { FsyncPolicy } from './group-commit.js';
import { Quarantine } from './quarantine.js';
import type { QuarantinedRange } from './quarantine.js';
import { PREFIX_BYTES, encodeRecord } from './record-codec.js';
import { RecordReader } from './record-reader.js';
import { recoverSegments } from './recovery.js';
import { SEGMENT_FORMAT } from './segment-format.js';
import { removeFile, segmentPath } from './segment-files.js';
import { SegmentSet } from './segment-set.js';
import type { SpoolRef } from './spool-ref.js';
import { tailRecords } from './tail.js';
import type { TailedRecord } from './tail.js';
import { Wakeup } from './wakeup.js';

export type { SpoolRef } from './spool-ref.js';
export type { TailedRecord } from './tail.js';
export type { FsyncPolicy } from './group-commit.js';
export type { QuarantinedRange } from './quarantine.js';

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

export interface SpoolOptions {
  dir: string;
  /** A segment is rolled before a record would take it past this size (a single larger record gets its own). */
  segmentBytes?: number;
  /** Appends are refused (SpoolFullError) when the spool would grow past this. */
  maxBytes: number;
  /** 'always': acknowledge after fdatasync. 'never': after the write returns (a crash of the machine can lose it). */
  fsync: FsyncPolicy;
  /**
   * Payload bytes of just-durable records kept in memory for the tail (the archiver), so that while it keeps up it
   * takes the ingest buffers instead of reading them back. 0 turns this off. Default DEFAULT_HANDOVER_BYTES.
   */
  handoverBytes?: number;
  logger?: Logger;
  /**
   * Called for every damaged record or range newly moved to `<dir>/quarantine/` (at open, by the tail, or by
   * quarantine()), after it is durable there. For metrics and alerts; it is also logged as an error.
   */
  onQuarantine?: (range: QuarantinedRange) => void;
}

export const DEFAULT_HANDOVER_BYTES = 16 * 1024 * 1024;

export interface SpoolStats {
  bytesOnDisk: number;
  /** Durable record bytes the tail (the archiver) has not read yet: its backlog. */
  unreadBytes: number;
  segments: number;
  unreleasedRecords: number;
  /** Age of the first unreleased record in append order (by its receive time); 0 when everything is released. */
  oldestUnreleasedAgeMs: number;
  fsyncs: number;
  appends: number;
  /** Records the tail took from memory at their append instead of reading them back from disk. */
  handedOver: number;
}

type State = 'open' | 'closing' | 'closed';

export class Spool {
  private state: State = 'open';
  private closing: Promise<void> | null = null;
  private tailing = false;
  private tailEnding = false;
  private readonly changes = new Wakeup();

  private constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
    private readonly segments: SegmentSet,
    private readonly committer: GroupCommitter,
    private readonly firstNewSeq: number,
    private readonly lock: DirLock,
    private readonly handover: Handover,
    private readonly quarantined: Quarantine,
    private readonly logger: Logger,
  ) {}

  static async open(opts: SpoolOptions): Promise<Spool> {
    const segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    if (!(segmentBytes > 0) || !(opts.maxBytes > 0)) {
      throw new ConfigError(`spool segmentBytes and maxBytes must be positive (got ${segmentBytes}, ${opts.maxBytes})`);
    }
    const logger = opts.logger ?? pino({ level: 'silent' });
    const dir = opts.dir;
    await ensureWritableDir(dir);
    const lock = lockDirectory(dir);
    try {
      return await Spool.openLocked(dir, opts, segmentBytes, logger, lock);
    } catch (error) {
      lock.release();
      throw error;
    }
  }

  private static async openLocked(
    dir: string,
    opts: SpoolOptions,
    segmentBytes: number,
    logger: Logger,
    lock: DirLock,
  ): Promise<Spool> {
    const segments = new SegmentSet(dir, logger);
    const quarantine = new Quarantine({
      spoolDir: dir,
      logger,
      ...(opts.onQuarantine === undefined ? {} : { onQuarantine: opts.onQuarantine }),
    });
    const recovered = await recoverSegments(dir, logger, quarantine);
    for (const ledger of recovered.ledgers) segments.add(ledger);
    const firstNewSeq = recovered.lastSeq + 1;
    if (recovered.ledgers.length > 0) {
      logger.info(
        { dir, segments: recovered.ledgers.length, records: segments.unreleasedRecords, bytes: segments.bytesOnDisk },
        'spool holds records from a previous run; they will be archived',
      );
    }
    let spool: Spool | undefined;
    const handover = new Handover(opts.handoverBytes ?? DEFAULT_HANDOVER_BYTES);
    const committer = await GroupCommitter.start({
      dir,
      segments,
      segmentBytes,
      fsync: opts.fsync,
      firstSeq: firstNewSeq,
      logger,
      onChange: () => spool?.changes.notify(),
      onDurable: (ref, record) =>
        handover.offer(ref.segment, ref.offset, {
          meta: ref.meta,
          payload: record.payload,
          payloadCrc: record.payloadCrc,
          length: record.length,
          ...(record.notes === undefined ? {} : { notes: record.notes }),
        }),
    });
    spool = new Spool(dir, opts.maxBytes, segments, committer, firstNewSeq, lock, handover, quarantine, logger);
    return spool;
  }

  /**
   * Resolves with the record's place once it is durable (per the fsync policy). `notes` ride along in memory to the
   * archiver when it takes the payload from the handover (otherwise it works them out from the payload again).
   */
  append(meta: RequestMeta, payload: Buffer, notes?: IngestNotes): Promise<SpoolRef> {
    if (this.state !== 'open') return Promise.reject(new ShuttingDownError('the spool is closing'));
    let record;
    try {
      record = encodeRecord(meta, payload);
      if (notes !== undefined) record.notes = notes;
    } catch (err) {
      return Promise.reject(err);
    }
    const used = this.segments.bytesOnDisk + this.committer.pendingBytes;
    if (used + record.length > this.maxBytes) {
      return Promise.reject(
        new SpoolFullError(
          `spool in ${this.dir} is full: ${used} of ${this.maxBytes} bytes used, a record of ${record.length} bytes does not fit`,
        ),
      );
    }
    return this.committer.submit(record, meta);
  }

  /** For admission: whether a payload of `bytes` could be appended now (the meta header is not counted). */
  hasRoomFor(bytes: number): boolean {
    return this.segments.bytesOnDisk + this.committer.pendingBytes + PREFIX_BYTES + bytes <= this.maxBytes;
  }

  /**
   * One consumer at a time. Recovered records first, then new ones as they become durable; ends after close().
   * Records that cannot be read back are quarantined and skipped. Once a tail has ended (or its consumer stopped),
   * a new one carries on where it left off.
   */
  tail(): AsyncIterable<TailedRecord> {
    if (this.tailing) throw new Error('the spool has a tail consumer already');
    this.tailing = true;
    const records = tailRecords({
      dir: this.dir,
      segments: this.segments,
      changes: this.changes,
      isClosed: () => this.state === 'closed',
      endWhenCaughtUp: () => this.tailEnding && this.committer.pendingBytes === 0,
      firstNewSeq: this.firstNewSeq,
      handover: this.handover,
      quarantine: (request) => this.quarantined.put(request),
      logger: this.logger,
    });
    const done = (): void => {
      this.tailing = false;
    };
    return (async function* () {
      try {
        yield* records;
      } finally {
        done();
      }
    })();
  }

  /**
   * For the archiver: a record it could not archive after its retries. Its bytes go to quarantine (with the reason),
   * then it is released like an archived one. Rejects, keeping the record, when the quarantine cannot be written.
   */
  async quarantine(ref: SpoolRef, reason: string): Promise<void> {
    await this.quarantined.put({
      segment: ref.segment,
      offset: ref.offset,
      length: ref.length,
      reason,
      source: 'archiver',
      requestId: ref.meta.id,
    });
    await this.segments.release([ref]);
  }

  /**
   * For a graceful shutdown: the tail goes on yielding what is durable, and what accepted appends still being
   * written become, then ends instead of waiting for more. The spool stays open for release() and read().
   */
  endTail(): void {
    this.tailEnding = true;
    this.changes.notify();
  }

  /** The payload again, checked against its CRC and its ref. NotFoundError once its segment was deleted. */
  async read(ref: SpoolRef): Promise<Buffer> {
    const path = segmentPath(this.dir, ref.segment);
    let file;
    try {
      file = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new NotFoundError(`spool record ${ref.meta.id} is gone: ${path} was released`, { cause: err });
      }
      throw err;
    }
    try {
      const format = this.segments.get(ref.segment)?.format ?? SEGMENT_FORMAT;
      const reader = new RecordReader(file, { seq: ref.segment, format });
      const outcome = await reader.readAt(ref.offset, ref.offset + ref.length, ref.length);
      if (outcome.kind !== 'record' || outcome.length !== ref.length || outcome.meta.id !== ref.meta.id) {
        const why = 'reason' in outcome ? outcome.reason : 'a different record is stored there';
        throw new CorruptDataError(`spool record ${ref.meta.id} in ${path} at offset ${ref.offset}: ${why}`);
      }
      return outcome.payload;
    } finally {
      await file.close();
    }
  }

  /** Marks records archived; deletes segment files that are sealed, fully tailed and fully released. Idempotent. */
  async release(refs: readonly SpoolRef[]): Promise<void> {
    await this.segments.release(refs);
  }

  stats(): SpoolStats {
    const oldest = this.segments.oldestUnreleasedReceivedAtMs();
    return {
      bytesOnDisk: this.segments.bytesOnDisk,
      unreadBytes: this.segments.unreadBytes,
      segments: this.segments.count,
      unreleasedRecords: this.segments.unreleasedRecords,
      oldestUnreleasedAgeMs: oldest === undefined ? 0 : Math.max(0, Date.now() - oldest),
      fsyncs: this.committer.fsyncs,
      appends: this.committer.appends,
      handedOver: this.handover.handedOver,
    };
  }

  /** Writes what was already accepted, seals the active segment and ends the tail. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.state = 'closing';
      await this.committer.close();
      this.handover.clear();
      this.lock.release();
      this.state = 'closed';
      this.changes.notify();
    })();
    return this.closing;
  }
}

async function ensureWritableDir(dir: string): Promise<void> {
  const probe = join(dir, `.write-probe-${process.pid}`);
  try {
    await mkdir(dir, { recursive: true });
    const file = await open(probe, 'w');
    await file.close();
    await removeFile(probe);
  } catch (err) {
    throw new ConfigError(`spool directory ${dir} is not usable: ${(err as Error).message}`, { cause: err });
  }
}
