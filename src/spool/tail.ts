// The single reader of the spool: yields every durable, unreleased record in append order, and waits at the end of
// the active segment for more. A record whose payload the handover still holds (just appended, archiver keeping up)
// is yielded from memory; any other is read back from its segment file. A record that cannot be read back intact is
// moved to quarantine and skipped: the tail never stops for one bad record.
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { QuarantineRequest } from './quarantine.js';
import { RecordReader } from './record-reader.js';
import type { ReadOutcome } from './record-reader.js';
import { segmentPath } from './segment-files.js';
import type { Handover } from './handover.js';
import type { SegmentLedger } from './segment-ledger.js';
import type { SegmentSet } from './segment-set.js';
import type { SpoolRef } from './spool-ref.js';
import type { Wakeup } from './wakeup.js';
import type { IngestNotes } from '../model.js';

/**
 * Reads of one record before it is given up on: a read that fails (I/O error) may be passing (a busy or flaky
 * disk), so it is tried again after a pause; bytes that fail their checks are read once more, at once.
 */
const READ_ATTEMPTS = 3;
const READ_RETRY_MS = 200;
const CHECK_ATTEMPTS = 2;
/** When even quarantining fails (the disk is gone), wait this long and try the record again: nothing is dropped. */
const QUARANTINE_RETRY_MS = 2000;

export interface TailedRecord {
  ref: SpoolRef;
  payload: Buffer;
  /** CRC-32 of the payload alone (checked with the record's, or computed from the very buffer that was spooled). */
  payloadCrc: number;
  /** The record was found on disk at open: a previous run accepted it but did not see it archived. */
  recovered: boolean;
  /** From ingest, when the payload came from the handover (not read back from disk). */
  notes?: IngestNotes;
}

export interface TailSource {
  dir: string;
  segments: SegmentSet;
  changes: Wakeup;
  isClosed: () => boolean;
  /** True once the tail should end when caught up instead of waiting for more (graceful shutdown). */
  endWhenCaughtUp: () => boolean;
  /** Segments below this sequence number were recovered at open. */
  firstNewSeq: number;
  handover: Handover;
  /** Copies a record that cannot be read back to quarantine, durably; rejects when it cannot. */
  quarantine: (request: QuarantineRequest) => Promise<unknown>;
  logger: Logger;
}

interface OpenSegment {
  seq: number;
  file: FileHandle;
  records: RecordReader;
}

type Read = { ok: true; record: Extract<ReadOutcome, { kind: 'record' }> } | { ok: false; reason: string; requestId?: string };

export async function* tailRecords(source: TailSource): AsyncGenerator<TailedRecord, void, undefined> {
  const { segments, handover } = source;
  let current: OpenSegment | null = null;

  /** The record at `offset`, or why it cannot be read (after READ_ATTEMPTS / CHECK_ATTEMPTS). */
  const readRecord = async (ledger: SegmentLedger, offset: number, length: number): Promise<Read> => {
    let failure: Extract<Read, { ok: false }> = { ok: false, reason: 'not read' };
    let ioErrors = 0;
    for (let attempt = 1; attempt <= READ_ATTEMPTS; attempt += 1) {
      if (ioErrors > 0) await pause(READ_RETRY_MS * ioErrors);
      else if (attempt > CHECK_ATTEMPTS) break;
      try {
        if (current === null || current.seq !== ledger.seq || attempt > 1) {
          const previous: OpenSegment | null = current;
          current = null;
          await previous?.file.close().catch(() => undefined);
          const file = await open(segmentPath(source.dir, ledger.seq), 'r');
          current = { seq: ledger.seq, file, records: new RecordReader(file, ledger) };
        }
        const outcome = await current.records.readAt(offset, ledger.size, length);
        if (outcome.kind === 'record' && outcome.length === length) return { ok: true, record: outcome };
        const reason =
          outcome.kind === 'record' ? `a record of ${outcome.length} bytes where one of ${length} was written`
          : 'reason' in outcome ? outcome.reason
          : 'no record where one was written';
        const requestId = (outcome.kind === 'record' || outcome.kind === 'corrupt') ? outcome.meta?.id : undefined;
        failure = { ok: false, reason, ...(requestId === undefined ? {} : { requestId }) };
      } catch (error) {
        ioErrors += 1;
        failure = { ok: false, reason: `read failed: ${(error as Error).message}` };
      }
    }
    return failure;
  };

  try {
    while (!source.isClosed()) {
      const position = segments.tailPosition;
      const ledger = segments.firstAtOrAfter(position.segment);
      if (!ledger) {
        if (source.endWhenCaughtUp()) return;
        await source.changes.wait();
        continue;
      }
      if (ledger.seq !== position.segment) {
        segments.moveTail({ segment: ledger.seq, offset: 0 });
        continue;
      }
      // Past the segment header and any range recovery moved to quarantine.
      const at = ledger.nextRecordAtOrAfter(position.offset);
      if (at !== position.offset) {
        segments.moveTail({ segment: ledger.seq, offset: at });
        continue;
      }
      if (position.offset < ledger.size && ledger.isReleased(position.offset)) {
        // Released before it was read (recorded in the release log, or released from its append ref): done with.
        handover.drop(ledger.seq, position.offset);
        segments.moveTail({ segment: ledger.seq, offset: ledger.recordEnd(position.offset) });
        continue;
      }
      if (position.offset < ledger.size) {
        const length = ledger.recordEnd(position.offset) - position.offset;
        const kept = handover.take(ledger.seq, position.offset);
        if (kept !== undefined && kept.length === length) {
          segments.moveTail({ segment: ledger.seq, offset: position.offset + length });
          yield {
            ref: { segment: ledger.seq, offset: position.offset, length, meta: kept.meta },
            payload: kept.payload,
            payloadCrc: kept.payloadCrc,
            recovered: false,
            ...(kept.notes === undefined ? {} : { notes: kept.notes }),
          };
          continue;
        }
        const read = await readRecord(ledger, position.offset, length);
        if (!read.ok) {
          // Damaged since it was written (or unreadable): it costs this record only. Its bytes go to quarantine,
          // and the tail goes on with the next one.
          try {
            await source.quarantine({
              segment: ledger.seq,
              offset: position.offset,
              length,
              reason: read.reason,
              source: 'tail',
              ...(read.requestId === undefined ? {} : { requestId: read.requestId }),
            });
          } catch (error) {
            source.logger.error(
              { err: error, segment: ledger.seq, offset: position.offset },
              'a spool record cannot be read back nor quarantined; trying it again',
            );
            await pause(QUARANTINE_RETRY_MS);
            continue;
          }
          segments.moveTail({ segment: ledger.seq, offset: position.offset + length });
          await segments.release([{ segment: ledger.seq, offset: position.offset }]).catch((error: unknown) => {
            source.logger.warn({ err: error, segment: ledger.seq }, 'could not release a quarantined spool record');
          });
          continue;
        }
        // Advance before yielding: once the consumer has the last record of a sealed segment, releasing it may
        // delete the file.
        const { record } = read;
        segments.moveTail({ segment: ledger.seq, offset: position.offset + record.length });
        yield {
          ref: { segment: ledger.seq, offset: position.offset, length: record.length, meta: record.meta },
          payload: record.payload,
          payloadCrc: record.payloadCrc,
          recovered: ledger.seq < source.firstNewSeq,
        };
        continue;
      }
      if (ledger.sealed) {
        const next = segments.firstAtOrAfter(ledger.seq + 1);
        if (next) {
          segments.moveTail({ segment: next.seq, offset: 0 });
          await segments.deleteIfDone(ledger).catch(() => undefined); // logged there; retried on next start
          continue;
        }
      }
      if (source.endWhenCaughtUp()) return;
      await source.changes.wait();
    }
  } finally {
    // Assigned inside readRecord, which the compiler's narrowing does not follow.
    const last = current as OpenSegment | null;
    await last?.file.close();
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
