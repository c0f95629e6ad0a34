// The single reader of the spool: yields every durable, unreleased record in append order, and waits at the end of
// the active segment for more. A record whose payload the handover still holds (just appended, archiver keeping up)
// is yielded from memory; any other is read back from its segment file.
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { CorruptDataError } from '../errors.js';
import { RecordReader } from './record-reader.js';
import { segmentPath } from './segment-files.js';
import type { Handover } from './handover.js';
import type { SegmentSet } from './segment-set.js';
import type { SpoolRef } from './spool-ref.js';
import type { Wakeup } from './wakeup.js';

export interface TailedRecord {
  ref: SpoolRef;
  payload: Buffer;
  /** CRC-32 of the payload alone (checked with the record's, or computed from the very buffer that was spooled). */
  payloadCrc: number;
  /** The record was found on disk at open: a previous run accepted it but did not see it archived. */
  recovered: boolean;
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
}

interface OpenSegment {
  seq: number;
  file: FileHandle;
  records: RecordReader;
}

export async function* tailRecords(source: TailSource): AsyncGenerator<TailedRecord, void, undefined> {
  const { segments, handover } = source;
  let current: OpenSegment | null = null;
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
          };
          continue;
        }
        if (current === null || current.seq !== ledger.seq) {
          const previous: OpenSegment | null = current;
          current = null;
          await previous?.file.close();
          const file = await open(segmentPath(source.dir, ledger.seq), 'r');
          current = { seq: ledger.seq, file, records: new RecordReader(file) };
        }
        const outcome = await current.records.readAt(position.offset, ledger.size, length);
        if (outcome.kind !== 'record') {
          const reason = 'reason' in outcome ? outcome.reason : 'no record';
          throw new CorruptDataError(
            `spool segment ${segmentPath(source.dir, ledger.seq)} at offset ${position.offset}: ${reason}`,
          );
        }
        // Advance before yielding: once the consumer has the last record of a sealed segment, releasing it may
        // delete the file.
        segments.moveTail({ segment: ledger.seq, offset: position.offset + outcome.length });
        yield {
          ref: { segment: ledger.seq, offset: position.offset, length: outcome.length, meta: outcome.meta },
          payload: outcome.payload,
          payloadCrc: outcome.payloadCrc,
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
    const last: OpenSegment | null = current;
    await last?.file.close();
  }
}
