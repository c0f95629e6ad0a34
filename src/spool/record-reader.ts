// Reads framed records back from a segment file, one at a time, through a bounded read window: small records are
// served from one chunked read, a record larger than a chunk is read on its own. Never reads past `limit`, the
// end of what is known to be whole, so bytes still being written are never looked at.
import type { FileHandle } from 'node:fs/promises';
import { CorruptDataError } from '../errors.js';
import type { RequestMeta } from '../model.js';
import { PREFIX_BYTES, continueCrc, crcOfPrefixAndHeader, decodeMeta, decodePrefix } from './record-codec.js';

export const READ_CHUNK_BYTES = 1024 * 1024;

export type ReadOutcome =
  | { kind: 'record'; meta: RequestMeta; length: number; payload: Buffer }
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

  /** The record at `offset` with its payload (a buffer of its own: holding it pins no read window). */
  async readAt(offset: number, limit: number): Promise<ReadOutcome> {
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
    const headerEnd = PREFIX_BYTES + prefix.headerLength;
    let crc: number;
    let header: Buffer;
    let payload: Buffer | null = null;
    if (wantPayload || prefix.length <= this.chunkBytes) {
      const whole = await this.bytes(offset, prefix.length, limit);
      if (!whole) return shortFile(offset);
      crc = continueCrc(whole.subarray(headerEnd), crcOfPrefixAndHeader(whole.subarray(0, headerEnd)));
      header = whole.subarray(PREFIX_BYTES, headerEnd);
      if (wantPayload) {
        const body = whole.subarray(headerEnd);
        // A record read on its own already owns its buffer; one cut from the shared window is copied out.
        payload = prefix.length > this.chunkBytes ? body : Buffer.from(body);
      }
    } else {
      const head = await this.bytes(offset, headerEnd, limit);
      if (!head) return shortFile(offset);
      crc = crcOfPrefixAndHeader(head);
      header = Buffer.from(head.subarray(PREFIX_BYTES));
      const streamed = await this.crcOfRange(offset + headerEnd, prefix.payloadLength, crc);
      if (streamed === null) return shortFile(offset);
      crc = streamed;
    }
    if (crc !== prefix.crc) return { kind: 'corrupt', reason: 'CRC mismatch' };
    let meta: RequestMeta;
    try {
      meta = decodeMeta(header);
    } catch (err) {
      if (err instanceof CorruptDataError) return { kind: 'corrupt', reason: err.message };
      throw err;
    }
    return payload ? { kind: 'record', meta, length: prefix.length, payload } : { kind: 'checked', meta, length: prefix.length };
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
