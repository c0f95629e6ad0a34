// Can a request body, as the client compressed it, stand as an archive block? A block must decode on its own, with
// the tools a user has (`gunzip`, `zstd -d`) and with our block reader, to exactly the request's bytes. The body was
// already decoded once (that is how the request's bytes were had), so what is checked here is only its shape — from
// its header and trailer, without decoding it again:
//
// - gzip: one member (RFC 1952) that ends where the body ends. Its trailer holds the CRC-32 and length (mod 2^32) of
//   everything the member inflates to; when those equal the request's, no second member and no trailing bytes can be
//   there (a multi-member body's trailer covers its last member only).
// - zstd: exactly one frame (RFC 8878) spanning the body, walked block by block: no dictionary (a reader would need
//   it), a window of at most 128 MiB (what `zstd -d` and our reader allow without options), a declared content size,
//   if any, equal to the request's length, no skippable frames.
import type { Codec, WireBody } from '../model.js';

export interface ClientBlock {
  codec: Extract<Codec, 'gzip' | 'zstd'>;
  bytes: Buffer;
}

/** Largest zstd window a kept frame may ask for: the decoder default of libzstd (and so of `zstd -d`). */
export const MAX_KEPT_ZSTD_WINDOW = 2 ** 27;

const ZSTD_MAGIC = 0xfd2fb528;

/** Codings whose bodies may be kept as blocks (the archive codecs among the wire codings); others are not worth holding. */
export function isKeepableEncoding(encoding: string): boolean {
  return encoding === 'gzip' || encoding === 'zstd';
}

/** The body as an archive block of its codec, or null when it cannot stand as one. */
export function clientBlock(wire: WireBody, rawLength: number, rawCrc32: number): ClientBlock | null {
  if (wire.encoding === 'gzip') return isWholeGzipMember(wire.bytes, rawLength, rawCrc32) ? { codec: 'gzip', bytes: wire.bytes } : null;
  if (wire.encoding === 'zstd') return isSingleZstdFrame(wire.bytes, rawLength) ? { codec: 'zstd', bytes: wire.bytes } : null;
  return null;
}

export function isWholeGzipMember(body: Buffer, rawLength: number, rawCrc32: number): boolean {
  // Header (10) + at least an empty deflate stream (2) + trailer (8).
  if (body.length < 20 || body[0] !== 0x1f || body[1] !== 0x8b || body[2] !== 8) return false;
  if ((body[3]! & 0xe0) !== 0) return false;
  const end = body.length;
  return body.readUInt32LE(end - 8) === rawCrc32 >>> 0 && body.readUInt32LE(end - 4) === rawLength % 2 ** 32;
}

export function isSingleZstdFrame(body: Buffer, rawLength: number): boolean {
  if (body.length < 6 || body.readUInt32LE(0) !== ZSTD_MAGIC) return false;
  const descriptor = body[4]!;
  const contentSizeFlag = descriptor >>> 6;
  const singleSegment = (descriptor >>> 5) & 1;
  const reserved = (descriptor >>> 3) & 1;
  const hasChecksum = (descriptor >>> 2) & 1;
  const dictionaryIdFlag = descriptor & 3;
  if (reserved !== 0 || dictionaryIdFlag !== 0) return false;
  let at = 5;
  if (singleSegment === 0) {
    const windowDescriptor = body[at]!;
    const windowLog = 10 + (windowDescriptor >>> 3);
    const base = 2 ** windowLog;
    if (base + (base / 8) * (windowDescriptor & 7) > MAX_KEPT_ZSTD_WINDOW) return false;
    at += 1;
  }
  const sizeBytes = contentSizeFlag === 0 ? singleSegment : contentSizeFlag === 1 ? 2 : contentSizeFlag === 2 ? 4 : 8;
  if (at + sizeBytes > body.length) return false;
  if (sizeBytes > 0) {
    const declared = sizeBytes === 1 ? body[at]! : sizeBytes === 2 ? body.readUInt16LE(at) + 256 : sizeBytes === 4 ? body.readUInt32LE(at) : Number(body.readBigUInt64LE(at));
    if (declared !== rawLength) return false;
    at += sizeBytes;
  }
  // A single-segment frame's window is its content size (checked above against the request's length).
  if (singleSegment === 1 && rawLength > MAX_KEPT_ZSTD_WINDOW) return false;
  for (;;) {
    if (at + 3 > body.length) return false;
    const header = body[at]! | (body[at + 1]! << 8) | (body[at + 2]! << 16);
    const last = header & 1;
    const type = (header >>> 1) & 3;
    if (type === 3) return false;
    at += 3 + (type === 1 ? 1 : header >>> 3);
    if (at > body.length) return false;
    if (last === 1) break;
  }
  if (hasChecksum === 1) at += 4;
  return at === body.length;
}
