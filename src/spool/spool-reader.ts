// Reads a spool directory from outside the process that writes it (the CLI beside a running `serve`), and from
// inside it (the server's hot tier), without locking it or writing anything. What it sees: every intact record in
// the segment files and which of them the release logs say are archived.
//
// The writer appends to the active segment while this reads: a record whose bytes are not all there yet (the
// torn or still-growing tail) is left for the next refresh, never guessed at. Records are checked by their header
// CRC (which covers both lengths and the payload CRC); the payload itself is checked when it is read. A damaged
// record in the middle of a segment is skipped to the next frame whose header checks out (as recovery does).
//
// Refreshes are incremental: a segment is read on from where the last refresh stopped, so following a busy spool
// costs only its new records' headers.
import { open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { CorruptDataError, NotFoundError } from '../errors.js';
import { PREFIX_BYTES, decodeMeta, decodePrefix, headerCrc } from './record-codec.js';
import { RecordReader, readFully } from './record-reader.js';
import { readReleases, releaseLogPath } from './release-log.js';
import { listSegmentSeqs, segmentPath } from './segment-files.js';
import { SEGMENT_HEADER_BYTES, readSegmentStart, type SegmentFormat } from './segment-format.js';
import type { SpoolRef } from './spool-ref.js';

/** Meta headers are a few hundred bytes: one read takes the prefix and the header together. */
const FIRST_READ_BYTES = 4096;

export interface SpooledRecord {
  ref: SpoolRef;
  /** CRC-32 of the payload (format 2; 0 for format 1, whose frames carry none). */
  payloadCrc: number;
  /** A release log says it is archived and indexed. */
  released: boolean;
}

interface SegmentScan {
  seq: number;
  format: SegmentFormat | null;
  /** Bytes before this offset are read (records taken, damage skipped). */
  scannedTo: number;
  records: SpooledRecord[];
  byOffset: Map<number, SpooledRecord>;
  /** A newer segment existed when this one was last read to its end: nothing more will be appended to it. */
  complete: boolean;
  releaseLogBytes: number;
}

export interface RefreshOutcome {
  /**
   * Records may have come and gone between two refreshes without being seen: a segment vanished (archived and
   * removed) before it was read to its end. A follower must ask the index for what it missed.
   */
  missedSome: boolean;
}

export class SpoolReader {
  private readonly segments = new Map<number, SegmentScan>();
  private readonly byId = new Map<string, SpooledRecord>();
  private highestSeq = 0;
  private refreshed = false;
  private refreshing: Promise<RefreshOutcome> | null = null;

  constructor(readonly dir: string) {}

  /** Reads what was appended and released since the last refresh. Concurrent callers share one refresh. */
  refresh(): Promise<RefreshOutcome> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** Records of the segments still on disk, in append order; released ones included (see `released`). */
  *records(): Generator<SpooledRecord> {
    const seqs = [...this.segments.keys()].sort((a, b) => a - b);
    for (const seq of seqs) yield* this.segments.get(seq)!.records;
  }

  /** Records after a place in append order (segment, offset), oldest first. */
  *recordsAfter(segment: number, offset: number): Generator<SpooledRecord> {
    const seqs = [...this.segments.keys()].filter((seq) => seq >= segment).sort((a, b) => a - b);
    for (const seq of seqs) {
      const records = this.segments.get(seq)!.records;
      let from = 0;
      if (seq === segment) {
        // Records are in offset order: the first one past `offset` by binary search.
        let hi = records.length;
        while (from < hi) {
          const mid = (from + hi) >>> 1;
          if (records[mid]!.ref.offset <= offset) from = mid + 1;
          else hi = mid;
        }
      }
      for (let i = from; i < records.length; i++) yield records[i]!;
    }
  }

  /** Where the records read so far end: recordsAfter(end) yields only what is appended after this call. */
  end(): { segment: number; offset: number } {
    let last: SpooledRecord | undefined;
    for (const record of this.records()) last = record;
    return last ? { segment: last.ref.segment, offset: last.ref.offset } : { segment: 0, offset: -1 };
  }

  get(id: string): SpooledRecord | undefined {
    return this.byId.get(id);
  }

  /** The payload, checked against its CRC. NotFoundError once its segment is gone (archived, then removed). */
  async read(ref: SpoolRef): Promise<Buffer> {
    const path = segmentPath(this.dir, ref.segment);
    let file: FileHandle;
    try {
      file = await open(path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new NotFoundError(`spooled request ${ref.meta.id} left the spool (archived)`, { cause: error });
      }
      throw error;
    }
    try {
      const format = this.segments.get(ref.segment)?.format ?? 2;
      const outcome = await new RecordReader(file, { seq: ref.segment, format }).readAt(ref.offset, ref.offset + ref.length, ref.length);
      if (outcome.kind !== 'record' || outcome.meta.id !== ref.meta.id) {
        const why = 'reason' in outcome ? outcome.reason : 'another record is stored there';
        throw new CorruptDataError(`spooled request ${ref.meta.id} in ${path} at offset ${ref.offset}: ${why}`);
      }
      return outcome.payload;
    } finally {
      await file.close();
    }
  }

  private async doRefresh(): Promise<RefreshOutcome> {
    let seqs: number[];
    try {
      seqs = await listSegmentSeqs(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      seqs = []; // no spool here (yet): nothing is hot
    }
    let missedSome = false;
    const live = new Set(seqs);
    for (const [seq, scan] of this.segments) {
      if (live.has(seq)) continue;
      if (!scan.complete) missedSome = true;
      for (const record of scan.records) this.byId.delete(record.ref.meta.id);
      this.segments.delete(seq);
    }
    // Numbers are never reused: a new segment past the next number means the ones between came and went unseen.
    const firstNew = seqs.find((seq) => seq > this.highestSeq);
    if (firstNew !== undefined && firstNew > this.highestSeq + 1) missedSome = true;
    const newest = seqs.at(-1) ?? 0;
    for (const seq of seqs) {
      let scan = this.segments.get(seq);
      if (!scan) {
        // A segment that appeared and left between two refreshes would show as a gap in the numbers (checked above).
        scan = { seq, format: null, scannedTo: 0, records: [], byOffset: new Map(), complete: false, releaseLogBytes: -1 };
        this.segments.set(seq, scan);
      }
      const gone = !(await this.scanSegment(scan, seq < newest));
      if (gone) {
        if (!scan.complete) missedSome = true;
        for (const record of scan.records) this.byId.delete(record.ref.meta.id);
        this.segments.delete(seq);
        continue;
      }
      await this.applyReleases(scan);
    }
    if (newest > this.highestSeq) this.highestSeq = newest;
    const missed = this.refreshed && missedSome;
    this.refreshed = true;
    return { missedSome: missed };
  }

  /** False when the segment file is gone. */
  private async scanSegment(scan: SegmentScan, newerExists: boolean): Promise<boolean> {
    let file: FileHandle;
    try {
      file = await open(segmentPath(this.dir, scan.seq), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
    try {
      const size = (await file.stat()).size;
      if (scan.format === null) {
        const first = Buffer.alloc(Math.min(SEGMENT_HEADER_BYTES, size));
        await readFully(file, first, 0);
        const start = readSegmentStart(first, size);
        if (start.format === 'empty') return true; // header not written yet
        if (start.format === 'unsupported') {
          scan.format = 2;
          scan.scannedTo = size; // a newer build's segment: not ours to interpret
          scan.complete = newerExists;
          return true;
        }
        scan.format = start.format === 1 ? 1 : 2;
        scan.scannedTo = start.format === 1 || start.format === 2 ? start.recordsFrom : 0;
      }
      if (scan.format === 2) await this.scanV2(file, scan, size);
      else await this.scanV1(file, scan, size);
      if (newerExists && scan.scannedTo >= size) scan.complete = true;
      return true;
    } finally {
      await file.close();
    }
  }

  private async scanV2(file: FileHandle, scan: SegmentScan, size: number): Promise<void> {
    const first = Buffer.allocUnsafe(FIRST_READ_BYTES);
    let reader: RecordReader | null = null;
    while (scan.scannedTo + PREFIX_BYTES <= size) {
      const at = scan.scannedTo;
      const got = await readFully(file, first.subarray(0, Math.min(FIRST_READ_BYTES, size - at)), at);
      const prefix = decodePrefix(first.subarray(0, got));
      let head: Buffer | null = null;
      if (prefix !== null) {
        const headEnd = PREFIX_BYTES + prefix.headerLength;
        if (at + headEnd > size) return; // the header is still being written
        if (headEnd <= got) head = first.subarray(0, headEnd);
        else {
          head = Buffer.allocUnsafe(headEnd);
          if ((await readFully(file, head, at)) !== headEnd) return;
        }
        if (headerCrc(head, scan.seq, at) !== prefix.crc) head = null;
      }
      if (prefix === null || head === null) {
        // Damage, or bytes of a record still being written: go on at the next frame whose header checks out.
        reader ??= new RecordReader(file, { seq: scan.seq, format: 2 });
        const next = await reader.findNextRecord(at + 1, size);
        if (next === null) return;
        scan.scannedTo = next;
        continue;
      }
      if (at + prefix.length > size) return; // the payload is still being written
      let meta;
      try {
        meta = decodeMeta(head.subarray(PREFIX_BYTES));
      } catch {
        scan.scannedTo = at + prefix.length; // a frame of known extent whose meta is damaged: skip it
        continue;
      }
      this.add(scan, { ref: { segment: scan.seq, offset: at, length: prefix.length, meta }, payloadCrc: prefix.payloadCrc ?? 0, released: false });
      scan.scannedTo = at + prefix.length;
    }
  }

  /** Format 1 (segments from before format 2, sealed long ago): checked whole, stopping at the first bad record. */
  private async scanV1(file: FileHandle, scan: SegmentScan, size: number): Promise<void> {
    const reader = new RecordReader(file, { seq: scan.seq, format: 1 });
    for (;;) {
      const outcome = await reader.checkAt(scan.scannedTo, size);
      if (outcome.kind !== 'checked' && outcome.kind !== 'record') return;
      this.add(scan, { ref: { segment: scan.seq, offset: scan.scannedTo, length: outcome.length, meta: outcome.meta }, payloadCrc: 0, released: false });
      scan.scannedTo += outcome.length;
    }
  }

  private add(scan: SegmentScan, record: SpooledRecord): void {
    scan.records.push(record);
    scan.byOffset.set(record.ref.offset, record);
    this.byId.set(record.ref.meta.id, record);
  }

  private async applyReleases(scan: SegmentScan): Promise<void> {
    let bytes: number;
    try {
      bytes = (await stat(releaseLogPath(this.dir, scan.seq))).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      bytes = 0;
    }
    if (bytes === scan.releaseLogBytes) return;
    scan.releaseLogBytes = bytes;
    for (const offset of await readReleases(this.dir, scan.seq)) {
      const record = scan.byOffset.get(offset);
      if (record) record.released = true;
    }
  }
}
