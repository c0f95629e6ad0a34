// Reads framed records back from a segment file, one at a time, through a bounded read window: small records are
// served from one chunked read, a record larger than a chunk is read on its own. Never reads past `limit`, the
// end of what is known to be whole, so bytes still being written are never looked at. After a damaged record it can
// find the next intact one (format 2): see findNextRecord.
import type { FileHandle } from 'node:fs/promises';
import { CorruptDataError } from '../errors.js';
import type { RequestMeta } from '../model.js';
import {
  MAX_HEADER_BYTES,
  PREFIX_BYTES,
  RECORD_MAGIC,
  V1_PREFIX_BYTES,
  continueCrc,
  crcOfPayload,
  decodeMeta,
  decodePrefix,
  decodePrefixV1,
  frameCrcV1,
  headerCrc,
} from './record-codec.js';
import type { RecordPrefix } from './record-codec.js';
import type { SegmentFormat } from './segment-format.js';

export const READ_CHUNK_BYTES = 1024 * 1024;

/** Which segment a reader reads: a format-2 frame's header CRC covers its segment and offset. */
export interface SegmentIdentity {
  seq: number;
  format: SegmentFormat;
}

export type ReadOutcome =
  /** `payloadCrc` is the CRC-32 of the payload alone, checked as part of the frame's. */
  | { kind: 'record'; meta: RequestMeta; length: number; payload: Buffer; payloadCrc: number }
  | { kind: 'checked'; meta: RequestMeta; length: number }
  | { kind: 'end' }
  /**
   * The bytes end inside a record: an interrupted write. `headerIntact`: the frame's header checked out (format 2),
   * so it is certain that a record starts here and only its end is missing.
   */
  | { kind: 'torn'; reason: string; headerIntact: boolean }
  /**
   * The bytes are not a valid record. With `length` (format 2, the header checked out) the damaged frame's extent is
   * known, and `meta` too when its header decodes; otherwise where the next record starts is unknown.
   */
  | { kind: 'corrupt'; reason: string; length?: number; meta?: RequestMeta };

type PayloadMode = false | true | 'copy';

export class RecordReader {
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;
  private scratch: Buffer | null = null;
  private readonly prefixBytes: number;

  constructor(
    private readonly file: FileHandle,
    private readonly segment: SegmentIdentity,
    private readonly chunkBytes = READ_CHUNK_BYTES,
  ) {
    this.prefixBytes = segment.format === 2 ? PREFIX_BYTES : V1_PREFIX_BYTES;
  }

  /**
   * The record at `offset` with its payload (a buffer of its own: holding it pins no read window). `knownLength`,
   * the frame's length when the caller knows it (from the segment's ledger), lets a large record be read in one
   * read into its own buffer instead of first filling the read window with it and then reading or copying it again.
   */
  async readAt(offset: number, limit: number, knownLength?: number): Promise<ReadOutcome> {
    if (knownLength !== undefined && knownLength > this.chunkBytes / 4 && knownLength <= limit - offset) {
      const own = Buffer.allocUnsafe(knownLength);
      const got = await readFully(this.file, own, offset);
      // Anything unexpected (short file, another length in the prefix) takes the general path, which says why.
      const prefix = got === knownLength ? this.decode(own) : null;
      if (prefix !== null && prefix.length === knownLength) return this.verify(own, offset, prefix, true);
    }
    return this.next(offset, limit, true);
  }

  /** Verifies the record at `offset` without keeping its payload; large payloads are checked chunk by chunk. */
  async checkAt(offset: number, limit: number): Promise<ReadOutcome> {
    return this.next(offset, limit, false);
  }

  /**
   * Format 2: the offset of the first frame at or after `from` (and before `limit`) whose header checks out, or null.
   * Finding the sync marker is not enough: the header CRC, which covers the frame's place, must match too.
   */
  async findNextRecord(from: number, limit: number): Promise<number | null> {
    if (this.segment.format !== 2) return null;
    const magic = Buffer.allocUnsafe(4);
    magic.writeUInt32BE(RECORD_MAGIC, 0);
    const scan = Buffer.allocUnsafe(this.chunkBytes);
    let at = from;
    while (at + PREFIX_BYTES <= limit) {
      const want = Math.min(scan.length, limit - at);
      const got = await readFully(this.file, scan.subarray(0, want), at);
      const view = scan.subarray(0, got);
      for (let i = view.indexOf(magic); i !== -1; i = view.indexOf(magic, i + 1)) {
        if (await this.headerChecksAt(at + i, limit)) return at + i;
      }
      if (got < want || at + got >= limit) return null;
      at += got - (magic.length - 1); // a marker across the chunk boundary is found in the next chunk
    }
    return null;
  }

  /** Whether every byte in [from, limit) is zero (preallocated or zero-filled space, not a record). */
  async isZeroFilled(from: number, limit: number): Promise<boolean> {
    const chunk = Buffer.allocUnsafe(Math.min(this.chunkBytes, Math.max(1, limit - from)));
    const zeros = Buffer.alloc(chunk.length);
    for (let at = from; at < limit; ) {
      const want = Math.min(chunk.length, limit - at);
      const got = await readFully(this.file, chunk.subarray(0, want), at);
      if (got === 0 || !chunk.subarray(0, got).equals(zeros.subarray(0, got))) return false;
      at += got;
    }
    return true;
  }

  private decode(prefix: Buffer): RecordPrefix | null {
    return this.segment.format === 2 ? decodePrefix(prefix) : decodePrefixV1(prefix);
  }

  private async headerChecksAt(offset: number, limit: number): Promise<boolean> {
    const prefixBytes = Buffer.allocUnsafe(PREFIX_BYTES);
    if ((await readFully(this.file, prefixBytes, offset)) !== PREFIX_BYTES) return false;
    const prefix = decodePrefix(prefixBytes);
    if (prefix === null || offset + PREFIX_BYTES + prefix.headerLength > limit) return false;
    const head = Buffer.allocUnsafe(PREFIX_BYTES + prefix.headerLength);
    if ((await readFully(this.file, head, offset)) !== head.length) return false;
    return headerCrc(head, this.segment.seq, offset) === prefix.crc;
  }

  private async next(offset: number, limit: number, wantPayload: boolean): Promise<ReadOutcome> {
    const left = limit - offset;
    if (left === 0) return { kind: 'end' };
    if (left < this.prefixBytes) {
      return { kind: 'torn', reason: `${left} bytes left, fewer than a record prefix`, headerIntact: false };
    }
    const prefixBytes = await this.bytes(offset, this.prefixBytes, limit);
    if (!prefixBytes) return shortFile(offset);
    const prefix = this.decode(prefixBytes);
    if (!prefix) return { kind: 'corrupt', reason: 'bad magic or header length' };
    const headerEnd = prefix.prefixLength + prefix.headerLength;
    if (this.segment.format === 2) {
      if (headerEnd > left) return this.tornOrMislabelled(offset, limit, prefix);
      const head = await this.bytes(offset, headerEnd, limit);
      if (!head) return shortFile(offset);
      if (headerCrc(head, this.segment.seq, offset) !== prefix.crc) return { kind: 'corrupt', reason: 'header CRC mismatch' };
    }
    if (prefix.length > left) {
      return {
        kind: 'torn',
        reason: `record of ${prefix.length} bytes but only ${left} bytes left`,
        headerIntact: this.segment.format === 2,
      };
    }
    if (wantPayload || prefix.length <= this.chunkBytes) {
      const whole = await this.bytes(offset, prefix.length, limit);
      if (!whole) return shortFile(offset);
      // A record read on its own already owns its buffer; one cut from the shared window is copied out.
      return this.verify(whole, offset, prefix, wantPayload && prefix.length <= this.chunkBytes ? 'copy' : wantPayload);
    }
    const head = Buffer.from((await this.bytes(offset, headerEnd, limit)) ?? Buffer.alloc(0));
    if (head.length !== headerEnd) return shortFile(offset);
    const header = head.subarray(prefix.prefixLength);
    if (this.segment.format === 2) {
      const crc = await this.crcOfRange(offset + headerEnd, prefix.payloadLength, 0);
      if (crc === null) return shortFile(offset);
      return withMeta(header, prefix, crc === prefix.payloadCrc, (meta) => ({ kind: 'checked', meta, length: prefix.length }));
    }
    const crc = await this.crcOfRange(offset + headerEnd, prefix.payloadLength, frameCrcV1(head, 0, 0));
    if (crc === null) return shortFile(offset);
    if (crc !== prefix.crc) return { kind: 'corrupt', reason: 'CRC mismatch' };
    return withMeta(header, prefix, true, (meta) => ({ kind: 'checked', meta, length: prefix.length }));
  }

  /**
   * The bytes end before the header does, as when a crash cut the write of the last record. Unless they are a whole
   * frame whose header length field alone is damaged (larger than it was): a meta header that decodes, followed by
   * exactly the payload length given, up to the end. That is a damaged record, not a torn one.
   */
  private async tornOrMislabelled(offset: number, limit: number, prefix: RecordPrefix): Promise<ReadOutcome> {
    const left = limit - offset;
    const torn: ReadOutcome = {
      kind: 'torn',
      reason: `record header of ${prefix.prefixLength + prefix.headerLength} bytes but only ${left} bytes left`,
      headerIntact: false,
    };
    const headerLength = left - prefix.prefixLength - prefix.payloadLength;
    if (headerLength <= 0 || headerLength > MAX_HEADER_BYTES) return torn;
    const header = Buffer.allocUnsafe(headerLength);
    if ((await readFully(this.file, header, offset + prefix.prefixLength)) !== headerLength) return torn;
    try {
      const meta = decodeMeta(header);
      return { kind: 'corrupt', reason: 'header length field damaged', length: left, meta };
    } catch {
      return torn;
    }
  }

  /** Checks a whole frame in memory; the payload's own CRC comes out of the same pass. */
  private verify(whole: Buffer, offset: number, prefix: RecordPrefix, payload: PayloadMode): ReadOutcome {
    const headerEnd = prefix.prefixLength + prefix.headerLength;
    const head = whole.subarray(0, headerEnd);
    const body = whole.subarray(headerEnd, prefix.length);
    const payloadCrc = crcOfPayload(body);
    let intact: boolean;
    if (this.segment.format === 2) {
      if (headerCrc(head, this.segment.seq, offset) !== prefix.crc) return { kind: 'corrupt', reason: 'header CRC mismatch' };
      intact = payloadCrc === prefix.payloadCrc;
    } else {
      if (frameCrcV1(head, payloadCrc, body.length) !== prefix.crc) return { kind: 'corrupt', reason: 'CRC mismatch' };
      intact = true;
    }
    const header = head.subarray(prefix.prefixLength);
    if (payload === false) return withMeta(header, prefix, intact, (meta) => ({ kind: 'checked', meta, length: prefix.length }));
    const owned = payload === 'copy' ? Buffer.from(body) : body;
    return withMeta(header, prefix, intact, (meta) => ({ kind: 'record', meta, length: prefix.length, payload: owned, payloadCrc }));
  }

  /** `n` bytes at `position`, or null if the file ends first. The result is valid until the next call. */
  private async bytes(position: number, n: number, limit: number): Promise<Buffer | null> {
    const windowEnd = this.windowStart + this.window.length;
    if (position >= this.windowStart && position + n <= windowEnd) {
      return this.window.subarray(position - this.windowStart, position - this.windowStart + n);
    }
    if (n > this.chunkBytes) {
      const own = Buffer.allocUnsafe(n);
      return (await readFully(this.file, own, position)) === n ? own : null;
    }
    // A fresh buffer each time: payloads handed out earlier may still be views into the old one.
    const chunk = Buffer.allocUnsafe(Math.max(n, Math.min(this.chunkBytes, limit - position)));
    const got = await readFully(this.file, chunk, position);
    this.window = chunk.subarray(0, got);
    this.windowStart = position;
    return got >= n ? this.window.subarray(0, n) : null;
  }

  private async crcOfRange(position: number, length: number, crc: number): Promise<number | null> {
    this.scratch ??= Buffer.allocUnsafe(this.chunkBytes);
    let done = 0;
    while (done < length) {
      const part = this.scratch.subarray(0, Math.min(this.chunkBytes, length - done));
      if ((await readFully(this.file, part, position + done)) !== part.length) return null;
      crc = continueCrc(part, crc);
      done += part.length;
    }
    return crc;
  }
}

/**
 * The outcome for a frame whose header (and, when `payloadIntact`, payload) checked out. A format-2 frame that fails
 * only in its payload or meta is still a frame of known extent: the reader can go on right after it.
 */
function withMeta(
  header: Buffer,
  prefix: RecordPrefix,
  payloadIntact: boolean,
  outcome: (meta: RequestMeta) => ReadOutcome,
): ReadOutcome {
  let meta: RequestMeta;
  try {
    meta = decodeMeta(header);
  } catch (err) {
    if (!(err instanceof CorruptDataError)) throw err;
    return prefix.payloadCrc === undefined
      ? { kind: 'corrupt', reason: err.message }
      : { kind: 'corrupt', reason: err.message, length: prefix.length };
  }
  if (!payloadIntact) return { kind: 'corrupt', reason: 'payload CRC mismatch', length: prefix.length, meta };
  return outcome(meta);
}

function shortFile(offset: number): ReadOutcome {
  return { kind: 'torn', reason: `file ends inside the record at offset ${offset}`, headerIntact: false };
}

/** Reads until `target` is full or the file ends; returns the number of bytes read. */
export async function readFully(file: FileHandle, target: Buffer, position: number): Promise<number> {
  let done = 0;
  while (done < target.length) {
    const { bytesRead } = await file.read(target, done, target.length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}
