// Reads framed records back from a segment file, one at a time, through a bounded read window: small records are
// served from one chunked read, a record larger than a chunk is read on its own. Never reads past `limit`, the
// end of what is known to be whole, so bytes still being written are never looked at.
import type { FileHandle } from 'node:fs/promises';
import { CorruptDataError } from '../errors.js';
import type { RequestMeta } from '../model.js';
import {
  PREFIX_BYTES,
  continueCrc,
  crcOfPayload,
  crcOfPrefixAndHeader,
  decodeMeta,
  decodePrefix,
  frameCrc,
} from './record-codec.js';
import type { RecordPrefix } from './record-codec.js';

export const READ_CHUNK_BYTES = 1024 * 1024;

export type ReadOutcome =
  /** `payloadCrc` is the CRC-32 of the payload alone, checked as part of the frame's. */
  | { kind: 'record'; meta: RequestMeta; length: number; payload: Buffer; payloadCrc: number }
  | { kind: 'checked'; meta: RequestMeta; length: number }
  | { kind: 'end' }
  /** The bytes end inside a record: an interrupted write. */
  | { kind: 'torn'; reason: string }
  /** The bytes are not a valid record. */
  | { kind: 'corrupt'; reason: string };

export class RecordReader {
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;
  private scratch: Buffer | null = null;

  constructor(private readonly file: FileHandle, private readonly chunkBytes = READ_CHUNK_BYTES) {}

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
      const prefix = got === knownLength ? decodePrefix(own) : null;
      if (prefix !== null && prefix.length === knownLength) return this.verify(own, prefix, true);
    }
    return this.next(offset, limit, true);
  }

  /** Verifies the record at `offset` without keeping its payload; large payloads are checked chunk by chunk. */
  async checkAt(offset: number, limit: number): Promise<ReadOutcome> {
    return this.next(offset, limit, false);
  }

  private async next(offset: number, limit: number, wantPayload: boolean): Promise<ReadOutcome> {
    const left = limit - offset;
    if (left === 0) return { kind: 'end' };
    if (left < PREFIX_BYTES) return { kind: 'torn', reason: `${left} bytes left, fewer than a record prefix` };
    const prefixBytes = await this.bytes(offset, PREFIX_BYTES, limit);
    if (!prefixBytes) return shortFile(offset);
    const prefix = decodePrefix(prefixBytes);
    if (!prefix) return { kind: 'corrupt', reason: 'bad magic or header length' };
    if (prefix.length > left) {
      return { kind: 'torn', reason: `record of ${prefix.length} bytes but only ${left} bytes left` };
    }
    if (wantPayload || prefix.length <= this.chunkBytes) {
      const whole = await this.bytes(offset, prefix.length, limit);
      if (!whole) return shortFile(offset);
      // A record read on its own already owns its buffer; one cut from the shared window is copied out.
      return this.verify(whole, prefix, wantPayload && prefix.length <= this.chunkBytes ? 'copy' : wantPayload);
    }
    const headerEnd = PREFIX_BYTES + prefix.headerLength;
    const head = await this.bytes(offset, headerEnd, limit);
    if (!head) return shortFile(offset);
    const headerCrc = crcOfPrefixAndHeader(head);
    const header = Buffer.from(head.subarray(PREFIX_BYTES));
    const crc = await this.crcOfRange(offset + headerEnd, prefix.payloadLength, headerCrc);
    if (crc === null) return shortFile(offset);
    if (crc !== prefix.crc) return { kind: 'corrupt', reason: 'CRC mismatch' };
    return withMeta(header, (meta) => ({ kind: 'checked', meta, length: prefix.length }));
  }

  /** Checks a whole frame in memory; the payload's own CRC comes out of the same pass. */
  private verify(whole: Buffer, prefix: RecordPrefix, payload: boolean | 'copy'): ReadOutcome {
    const headerEnd = PREFIX_BYTES + prefix.headerLength;
    const body = whole.subarray(headerEnd, prefix.length);
    const payloadCrc = crcOfPayload(body);
    if (frameCrc(crcOfPrefixAndHeader(whole.subarray(0, headerEnd)), payloadCrc, body.length) !== prefix.crc) {
      return { kind: 'corrupt', reason: 'CRC mismatch' };
    }
    const header = whole.subarray(PREFIX_BYTES, headerEnd);
    if (payload === false) return withMeta(header, (meta) => ({ kind: 'checked', meta, length: prefix.length }));
    const owned = payload === 'copy' ? Buffer.from(body) : body;
    return withMeta(header, (meta) => ({ kind: 'record', meta, length: prefix.length, payload: owned, payloadCrc }));
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

function withMeta(header: Buffer, outcome: (meta: RequestMeta) => ReadOutcome): ReadOutcome {
  let meta: RequestMeta;
  try {
    meta = decodeMeta(header);
  } catch (err) {
    if (err instanceof CorruptDataError) return { kind: 'corrupt', reason: err.message };
    throw err;
  }
  return outcome(meta);
}

function shortFile(offset: number): ReadOutcome {
  return { kind: 'torn', reason: `file ends inside the record at offset ${offset}` };
}

/** Reads until `target` is full or the file ends; returns the number of bytes read. */
async function readFully(file: FileHandle, target: Buffer, position: number): Promise<number> {
  let done = 0;
  while (done < target.length) {
    const { bytesRead } = await file.read(target, done, target.length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}
