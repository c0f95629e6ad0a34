// Reads back what a previous run left in the spool directory. Every record is checked (framing and CRC); a
// segment whose end is torn or corrupt is cut back to its last good record, so a partial record is never yielded.
import { open } from 'node:fs/promises';
import type { Logger } from 'pino';
import { RecordReader } from './record-reader.js';
import { readReleases, removeOrphanReleaseLogs, removeReleaseLog } from './release-log.js';
import { listSegmentSeqs, removeFile, segmentPath } from './segment-files.js';
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
export async function recoverSegments(dir: string, logger: Logger): Promise<RecoveredSpool> {
  const ledgers: SegmentLedger[] = [];
  const seqs = await listSegmentSeqs(dir);
  for (const seq of seqs) {
    const ledger = await recoverSegment(dir, seq, logger);
    for (const offset of await readReleases(dir, seq)) ledger.release(offset);
    if (ledger.unreleasedCount > 0) {
      ledgers.push(ledger);
    } else {
      await removeFile(segmentPath(dir, seq));
      await removeReleaseLog(dir, seq);
    }
  }
  await removeOrphanReleaseLogs(dir, new Set(ledgers.map((l) => l.seq)));
  return { ledgers, lastSeq: seqs.at(-1) ?? 0 };
}

async function recoverSegment(dir: string, seq: number, logger: Logger): Promise<SegmentLedger> {
  const path = segmentPath(dir, seq);
  const file = await open(path, 'r+');
  try {
    const fileBytes = (await file.stat()).size;
    const reader = new RecordReader(file);
    const ledger = new SegmentLedger(seq, true);
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
        'spool segment ends in a torn or corrupt record; truncating it at the last good record',
      );
      await file.truncate(offset);
      await file.sync();
      break;
    }
    return ledger;
  } finally {
    await file.close();
  }
}
