// The one segment file being appended to. Always a new file: an old one is never reopened for writing, so a torn
// tail left by a crash can never end up in the middle of a segment. It starts with the segment header (format 2).
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { removeFile, segmentPath, syncDirectory } from './segment-files.js';
import { SEGMENT_FORMAT, SEGMENT_HEADER_BYTES, encodeSegmentHeader } from './segment-format.js';
import { SegmentLedger } from './segment-ledger.js';

export class ActiveSegment {
  private constructor(readonly ledger: SegmentLedger, readonly path: string, private readonly file: FileHandle) {}

  /** With `durable`, the directory is synced too, so the new file's name survives a power loss. */
  static async create(dir: string, seq: number, durable: boolean): Promise<ActiveSegment> {
    const path = segmentPath(dir, seq);
    const file = await open(path, 'wx');
    const segment = new ActiveSegment(new SegmentLedger(seq, false, SEGMENT_FORMAT, SEGMENT_HEADER_BYTES), path, file);
    try {
      // Made durable with the first batch of records (fdatasync covers it); a crash before that leaves a file
      // shorter than a header, which recovery treats as empty.
      await segment.write([encodeSegmentHeader()], 0);
      if (durable) await syncDirectory(dir);
    } catch (err) {
      // Disk full, I/O error: leave no half-made segment behind.
      await file.close().catch(() => undefined);
      await removeFile(path).catch(() => undefined);
      throw err;
    }
    return segment;
  }

  /** Writes every byte of `buffers` at `position`, however many calls that takes. */
  async write(buffers: Buffer[], position: number): Promise<void> {
    let pending = buffers.filter((b) => b.length > 0);
    while (pending.length > 0) {
      const { bytesWritten } = await this.file.writev(pending, position);
      if (bytesWritten === 0) throw new Error(`writing ${this.path} made no progress`);
      position += bytesWritten;
      pending = dropFront(pending, bytesWritten);
    }
  }

  /** fdatasync: data and the file size, which is all a reader needs. */
  async sync(): Promise<void> {
    await this.file.datasync();
  }

  async truncate(size: number): Promise<void> {
    await this.file.truncate(size);
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}

function dropFront(buffers: Buffer[], bytes: number): Buffer[] {
  let i = 0;
  while (i < buffers.length && bytes >= buffers[i]!.length) {
    bytes -= buffers[i]!.length;
    i += 1;
  }
  const rest = buffers.slice(i);
  if (bytes > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(bytes);
  return rest;
}
