// Snappy in both forms clients send: a raw block (a varint of the decoded length, then the compressed data) and the
// framed stream (a stream identifier chunk, then chunks of at most 64 KiB decoded, each with a masked CRC-32C of its
// decoded bytes). Blocks are decoded by the `snappy` package (napi-rs, Rust); the framing is parsed here.
//
// Limits: a block's declared length is checked against the limit before anything is allocated; a framed stream is
// decoded chunk by chunk (64 KiB at most each), so it stops within one chunk of the limit.
import { crc32c } from '@node-rs/crc32';
import snappy from 'snappy';
import { DecodedTooLargeError, MalformedEncodingError } from '../errors.js';

/** The framed format's stream identifier chunk: type 0xff, length 6, "sNaPpY". Always the first 10 bytes. */
export const SNAPPY_STREAM_IDENTIFIER = Buffer.from([0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59]);
const CHUNK_COMPRESSED = 0x00;
const CHUNK_UNCOMPRESSED = 0x01;
const CHUNK_STREAM_IDENTIFIER = 0xff;
const MAX_DECODED_CHUNK = 65_536;
/** Largest compressed form of a 64 KiB chunk (32 + n + n/6), plus its 4-byte checksum. */
const MAX_COMPRESSED_CHUNK = 4 + 32 + MAX_DECODED_CHUNK + Math.floor(MAX_DECODED_CHUNK / 6);
const CHUNK_HEADER = 4;

function malformed(detail: string, cause?: unknown): MalformedEncodingError {
  return new MalformedEncodingError(`request body is not valid snappy data: ${detail}`, cause === undefined ? undefined : { cause });
}

function tooLarge(maxBytes: number): DecodedTooLargeError {
  return new DecodedTooLargeError(`request body is larger than the limit of ${maxBytes} bytes after decompression`, maxBytes);
}

/** The decoded length a raw block declares in its varint preamble. */
export function snappyBlockLength(block: Buffer): number {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= block.length) throw malformed('the block ends inside its length preamble');
    const byte = block[i]!;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) {
      if (value > 0xffffffff) throw malformed('the block declares a length over 4 GiB');
      return value;
    }
  }
  throw malformed('the block length preamble is longer than 5 bytes');
}

export function decodeSnappyBlock(block: Buffer, maxBytes: number): Buffer {
  const declared = snappyBlockLength(block);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  let decoded: Buffer;
  try {
    decoded = snappy.uncompressSync(block, { asBuffer: true }) as Buffer;
  } catch (error) {
    throw malformed(`the block does not decode (${(error as Error).message})`, error);
  }
  if (decoded.length !== declared) throw malformed(`the block decoded to ${decoded.length} bytes, not the ${declared} it declares`);
  return decoded;
}

function maskedCrc(data: Buffer): number {
  const crc = crc32c(data);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** Incremental decoder of the framed format: feed any slices of the stream, then finish(). */
export class SnappyFramedDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private readonly chunks: Buffer[] = [];
  private total = 0;
  private sawIdentifier = false;

  constructor(private readonly maxBytes: number) {}

  write(data: Buffer): void {
    let buffer = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    let at = 0;
    while (buffer.length - at >= CHUNK_HEADER) {
      const type = buffer[at]!;
      const length = buffer.readUIntLE(at + 1, 3);
      this.checkChunkHeader(type, length);
      if (buffer.length - at - CHUNK_HEADER < length) break;
      this.chunk(type, buffer.subarray(at + CHUNK_HEADER, at + CHUNK_HEADER + length));
      at += CHUNK_HEADER + length;
    }
    // Keep only the incomplete tail (at most one chunk) for the next write.
    buffer = buffer.subarray(at);
    this.pending = buffer.length === 0 ? Buffer.alloc(0) : Buffer.from(buffer);
  }

  finish(): Buffer {
    if (this.pending.length > 0) throw malformed('the stream ends inside a chunk');
    if (!this.sawIdentifier && this.total === 0) return Buffer.alloc(0);
    return Buffer.concat(this.chunks, this.total);
  }

  private checkChunkHeader(type: number, length: number): void {
    if (!this.sawIdentifier && type !== CHUNK_STREAM_IDENTIFIER) throw malformed('the framed stream does not start with its stream identifier');
    if (type === CHUNK_COMPRESSED && length > MAX_COMPRESSED_CHUNK) throw malformed(`a compressed chunk of ${length} bytes is larger than the format allows`);
    if (type === CHUNK_UNCOMPRESSED && length > 4 + MAX_DECODED_CHUNK) throw malformed(`an uncompressed chunk of ${length} bytes is larger than the format allows`);
    if (type >= 0x02 && type <= 0x7f) throw malformed(`reserved unskippable chunk type 0x${type.toString(16)}`);
  }

  private chunk(type: number, body: Buffer): void {
    if (type === CHUNK_STREAM_IDENTIFIER) {
      if (!body.equals(SNAPPY_STREAM_IDENTIFIER.subarray(CHUNK_HEADER))) throw malformed('bad stream identifier');
      this.sawIdentifier = true;
      return;
    }
    if (type !== CHUNK_COMPRESSED && type !== CHUNK_UNCOMPRESSED) return; // padding and reserved skippable chunks
    if (body.length < 4) throw malformed('a data chunk is shorter than its checksum');
    const expectedCrc = body.readUInt32LE(0);
    const payload = body.subarray(4);
    let decoded: Buffer;
    if (type === CHUNK_COMPRESSED) {
      if (snappyBlockLength(payload) > MAX_DECODED_CHUNK) throw malformed('a chunk decodes to more than 64 KiB');
      decoded = decodeSnappyBlock(payload, MAX_DECODED_CHUNK);
    } else {
      decoded = Buffer.from(payload);
    }
    if (maskedCrc(decoded) !== expectedCrc) throw malformed('a chunk fails its CRC-32C check');
    this.total += decoded.length;
    if (this.total > this.maxBytes) throw tooLarge(this.maxBytes);
    this.chunks.push(decoded);
  }
}

/**
 * Decoder for a body labelled snappy (or x-snappy-framed): framed when it starts with the stream identifier, a raw
 * block otherwise. A block cannot be decoded before it is complete, so its bytes are kept until finish().
 */
export class SnappyBodyDecoder {
  private mode: 'unknown' | 'framed' | 'block' = 'unknown';
  private readonly held: Buffer[] = [];
  private heldBytes = 0;
  private framed: SnappyFramedDecoder | null = null;

  constructor(private readonly maxBytes: number) {}

  write(data: Buffer): void {
    if (this.mode === 'framed') return this.framed!.write(data);
    this.held.push(data);
    this.heldBytes += data.length;
    if (this.mode === 'unknown' && this.heldBytes >= SNAPPY_STREAM_IDENTIFIER.length) this.decide();
  }

  finish(): Buffer {
    if (this.mode === 'unknown') {
      if (this.heldBytes === 0) return Buffer.alloc(0);
      this.decide();
    }
    if (this.mode === 'framed') return this.framed!.finish();
    return decodeSnappyBlock(this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held, this.heldBytes), this.maxBytes);
  }

  private decide(): void {
    const start = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held, this.heldBytes);
    const framed = start.length >= SNAPPY_STREAM_IDENTIFIER.length && start.subarray(0, SNAPPY_STREAM_IDENTIFIER.length).equals(SNAPPY_STREAM_IDENTIFIER);
    if (!framed) {
      this.mode = 'block';
      return;
    }
    this.mode = 'framed';
    this.framed = new SnappyFramedDecoder(this.maxBytes);
    this.held.length = 0;
    this.heldBytes = 0;
    this.framed.write(start);
  }
}

/** The framed stream as golang/snappy's buffered writer produces it: 64 KiB chunks, stored uncompressed when
 * compression saves less than 1/8. */
export function encodeSnappyFramed(raw: Buffer): Buffer {
  const parts: Buffer[] = [SNAPPY_STREAM_IDENTIFIER];
  for (let at = 0; at < raw.length; at += MAX_DECODED_CHUNK) {
    const piece = raw.subarray(at, at + MAX_DECODED_CHUNK);
    const compressed = snappy.compressSync(piece);
    const useCompressed = compressed.length < piece.length - (piece.length >> 3);
    const data = useCompressed ? compressed : piece;
    const header = Buffer.alloc(8);
    header[0] = useCompressed ? CHUNK_COMPRESSED : CHUNK_UNCOMPRESSED;
    header.writeUIntLE(4 + data.length, 1, 3);
    header.writeUInt32LE(maskedCrc(piece), 4);
    parts.push(header, data);
  }
  return Buffer.concat(parts);
}

/** A raw snappy block of `raw` (what the Collector sends as Content-Encoding: snappy since v0.125). */
export function encodeSnappyBlock(raw: Buffer): Buffer {
  return snappy.compressSync(raw);
}
