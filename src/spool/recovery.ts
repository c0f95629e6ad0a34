// Reads back what a previous run left in the spool directory. Every record is checked (framing and CRCs); a
// partial or damaged record is never yielded.
//
// Format-2 segments: a damaged record costs that record only. Its bytes go to quarantine and reading resumes at the
// next record whose header checks out, so every intact record after the damage is archived. Only an incomplete
// record at the very end of the last segment (the write a crash interrupted, never acknowledged) is cut off.
// Format-1 segments (written before format 2, no resynchronisation possible): cut back to the last good record.
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';
import type { Quarantine } from './quarantine.js';
import { RecordReader, readFully } from './record-reader.js';
import type { ReadOutcome } from './record-reader.js';
import { readReleases, removeOrphanReleaseLogs, removeReleaseLog } from './release-log.js';
import { listSegmentSeqs, removeFile, segmentPath } from './segment-files.js';
import { SEGMENT_HEADER_BYTES, readSegmentStart } from './segment-format.js';
import { SegmentLedger } from './segment-ledger.js';

export interface RecoveredSpool {
  ledgers: SegmentLedger[];
  /** Highest sequence number found, deleted segments included: numbers are never reused. */
  lastSeq: number;
}

/**
 * Ledgers of the segments that still hold unreleased records, ascending, all sealed, with their release logs
 * applied. Segments with nothing left to archive are deleted.
 */
export async function recoverSegments(dir: string, logger: Logger, quarantine: Quarantine): Promise<RecoveredSpool> {
  const ledgers: SegmentLedger[] = [];
  const seqs = await listSegmentSeqs(dir);
  const lastSeq = seqs.at(-1) ?? 0;
  for (const seq of seqs) {
    const ledger = await recoverSegment(dir, seq, seq === lastSeq, logger, quarantine);
    for (const offset of await readReleases(dir, seq)) ledger.release(offset);
    if (ledger.unreleasedCount > 0) {
      ledgers.push(ledger);
    } else {
      await removeFile(segmentPath(dir, seq));
      await removeReleaseLog(dir, seq);
    }
  }
  await removeOrphanReleaseLogs(dir, new Set(ledgers.map((l) => l.seq)));
  return { ledgers, lastSeq };
}

async function recoverSegment(
  dir: string,
  seq: number,
  isLast: boolean,
  logger: Logger,
  quarantine: Quarantine,
): Promise<SegmentLedger> {
  const path = segmentPath(dir, seq);
  const file = await open(path, 'r+');
  try {
    const fileBytes = (await file.stat()).size;
    const first = Buffer.alloc(Math.min(SEGMENT_HEADER_BYTES, fileBytes));
    await readFully(file, first, 0);
    const start = readSegmentStart(first, fileBytes);
    switch (start.format) {
      case 'empty':
        return new SegmentLedger(seq, true);
      case 'unsupported':
        throw new ConfigError(
          `spool segment ${path} is in format ${start.version}, written by a newer otlp-capture; this build reads ` +
            'formats 1 and 2. Run the newer build until its spool is archived, or move the segment away.',
        );
      case 1:
        return await recoverV1(file, seq, fileBytes, path, logger);
      case 2:
        return await recoverV2(file, new SegmentLedger(seq, true, 2, start.recordsFrom), fileBytes, isLast, path, logger, quarantine);
      case 'damaged':
        // Scanned from its first byte: the header's bytes go to quarantine and the records after it are kept.
        logger.warn({ path, reason: start.reason }, 'spool segment header is damaged; reading its records by resynchronising');
        return await recoverV2(file, new SegmentLedger(seq, true, 2, 0), fileBytes, isLast, path, logger, quarantine, start.reason);
    }
  } finally {
    await file.close();
  }
}

async function recoverV2(
  file: FileHandle,
  ledger: SegmentLedger,
  fileBytes: number,
  isLast: boolean,
  path: string,
  logger: Logger,
  quarantine: Quarantine,
  headerProblem?: string,
): Promise<SegmentLedger> {
  const reader = new RecordReader(file, { seq: ledger.seq, format: 2 });
  const put = async (offset: number, length: number, reason: string, requestId?: string): Promise<void> => {
    await quarantine.put({
      segment: ledger.seq,
      offset,
      length,
      reason,
      source: 'recovery',
      ...(requestId === undefined ? {} : { requestId }),
    });
    ledger.skip(offset, length);
  };
  for (;;) {
    const offset = ledger.size;
    const outcome: ReadOutcome = await reader.checkAt(offset, fileBytes);
    if (outcome.kind === 'checked' || outcome.kind === 'record') {
      ledger.add(offset, outcome.length, outcome.meta.receivedAtMs);
      continue;
    }
    if (outcome.kind === 'end') break;
    const reason = offset === 0 && headerProblem !== undefined ? `${headerProblem}; ${outcome.reason}` : outcome.reason;
    if (outcome.kind === 'corrupt' && outcome.length !== undefined) {
      // The header checked out, so the damage is confined to this record: the next one starts right after it.
      await put(offset, outcome.length, reason, outcome.meta?.id);
      continue;
    }
    // Where the damage ends is unknown: at the next record whose header checks out. A torn record whose header
    // checked out runs to the end of the file, so nothing can follow it.
    const torn = outcome.kind === 'torn';
    const next = torn && outcome.headerIntact ? null : await reader.findNextRecord(offset + 1, fileBytes);
    if (next !== null) {
      await put(offset, next - offset, reason);
      continue;
    }
    if (isLast && (torn || (await reader.isZeroFilled(offset, fileBytes)))) {
      // The end of the segment being written at a crash: an append that never completed, so never acknowledged.
      logger.warn(
        { path, goodBytes: offset, droppedBytes: fileBytes - offset, problem: outcome.kind, reason },
        'spool segment ends in an incomplete record (a write interrupted by a crash); truncating it',
      );
      await file.truncate(offset);
      await file.sync();
      break;
    }
    await put(offset, fileBytes - offset, isLast ? reason : `${reason} (in a sealed segment: the rest of it is unreadable)`);
    break;
  }
  return ledger;
}

/** Format 1 keeps its rule: cut the segment at the first record that is not whole and intact. */
async function recoverV1(file: FileHandle, seq: number, fileBytes: number, path: string, logger: Logger): Promise<SegmentLedger> {
  const reader = new RecordReader(file, { seq, format: 1 });
  const ledger = new SegmentLedger(seq, true, 1, 0);
  for (;;) {
    const offset = ledger.size;
    const outcome = await reader.checkAt(offset, fileBytes);
    if (outcome.kind === 'checked' || outcome.kind === 'record') {
      ledger.add(offset, outcome.length, outcome.meta.receivedAtMs);
      continue;
    }
    if (outcome.kind === 'end') break;
    logger.warn(
      { path, goodBytes: offset, droppedBytes: fileBytes - offset, problem: outcome.kind, reason: outcome.reason },
      'spool segment (format 1) ends in a torn or corrupt record; truncating it at the last good record',
    );
    await file.truncate(offset);
    await file.sync();
    break;
  }
  return ledger;
}
