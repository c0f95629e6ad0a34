// Decoding a request body by its content coding, with a hard limit on the decoded size (bomb protection): every
// decoder stops as soon as its output passes `maxBytes`, without allocating the whole output first.
//
// Two shapes: `createBodyDecoder` for a body that arrives in pieces (OTLP/HTTP reads the socket chunk by chunk) and
// `decodeBody` for a body already in memory (a gRPC message). gzip, deflate and brotli run on the libuv threadpool
// (node:zlib); zstd bodies of 64 KiB and more on the zstd worker threads, smaller ones and snappy on the calling
// thread (docs/BENCHMARKS.md has what each costs per GiB).
//
// Errors: DecodedTooLargeError over the limit, MalformedEncodingError for data that is not valid in its coding.
// An empty body is an empty request under every coding.
import type { Transform } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { DecodedTooLargeError, MalformedEncodingError } from '../errors.js';
import { SnappyBodyDecoder } from './snappy-codec.js';
import type { WireEncoding } from './wire-encoding.js';
import { decodeZstd, sizedFrames, zstdWindowLogFor } from './zstd-decoder.js';
import { zstdDecodeOnWorker, ZstdWorkerError } from './zstd-workers.js';

export interface BodyDecoder {
  /** Decodes the next piece of the body. Rejects with DecodedTooLargeError or MalformedEncodingError. */
  write(chunk: Buffer): Promise<void>;
  /** The whole decoded body, once every piece was written. */
  end(): Promise<Buffer>;
  /** Stops decoding and releases what the decoder holds (after a failure or when the client went away). */
  destroy(): void;
}

function tooLarge(maxBytes: number): DecodedTooLargeError {
  return new DecodedTooLargeError(`request body is larger than the limit of ${maxBytes} bytes after decompression`, maxBytes);
}

function malformed(encoding: string, error: unknown): MalformedEncodingError {
  if (error instanceof MalformedEncodingError) return error;
  return new MalformedEncodingError(`request body is not valid ${encoding} data: ${(error as Error).message}`, { cause: error });
}

/**
 * zlib's output piece size. Node's default (16 KiB) costs a threadpool round trip per 16 KiB: 256 KiB inflates the
 * same body with about half the CPU (bench, ~800 KiB gzip-1 trace requests: 214 → 421 MiB per CPU-second), and a
 * bomb is still stopped within one piece of the limit.
 */
export const ZLIB_CHUNK_BYTES = 256 * 1024;

/** RFC 1950: compression method 8 with a window of at most 32 KiB, and a header check that is a multiple of 31. */
export function looksLikeZlib(first: number, second: number): boolean {
  return (first & 0x0f) === 8 && first >> 4 <= 7 && ((first << 8) | second) % 31 === 0;
}

/** Identity, zstd and snappy: synchronous decoders fed piece by piece. */
class SyncBodyDecoder implements BodyDecoder {
  private failed: Error | null = null;

  constructor(
    private readonly decoder: { write(chunk: Buffer): void; finish(): Buffer; release?(): void },
    private readonly encoding: string,
  ) {}

  write(chunk: Buffer): Promise<void> {
    try {
      if (this.failed) throw this.failed;
      this.decoder.write(chunk);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(this.fail(error));
    }
  }

  end(): Promise<Buffer> {
    try {
      if (this.failed) throw this.failed;
      return Promise.resolve(this.decoder.finish());
    } catch (error) {
      return Promise.reject(this.fail(error));
    }
  }

  destroy(): void {
    this.failed ??= new MalformedEncodingError('decoder was destroyed');
    this.decoder.release?.();
  }

  private fail(error: unknown): Error {
    this.failed = error instanceof DecodedTooLargeError ? error : malformed(this.encoding, error);
    return this.failed;
  }
}

class IdentityDecoder {
  private readonly chunks: Buffer[] = [];
  private total = 0;

  constructor(private readonly maxBytes: number) {}

  write(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.total > this.maxBytes) throw new DecodedTooLargeError(`request body is larger than the limit of ${this.maxBytes} bytes`, this.maxBytes);
    this.chunks.push(chunk);
  }

  finish(): Buffer {
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.total);
  }
}

/**
 * zstd over HTTP: the compressed pieces are held (the wire limit bounds them) and the whole body is decoded at the
 * end like a gRPC message, on the worker threads when it is large. Output is bounded all the same.
 */
class WholeBodyDecoder implements BodyDecoder {
  private readonly pieces: Buffer[] = [];
  private bytes = 0;
  private destroyed = false;

  constructor(
    private readonly encoding: 'zstd',
    private readonly maxBytes: number,
  ) {}

  write(chunk: Buffer): Promise<void> {
    if (this.destroyed) return Promise.reject(new MalformedEncodingError('decoder was destroyed'));
    this.pieces.push(chunk);
    this.bytes += chunk.length;
    return Promise.resolve();
  }

  end(): Promise<Buffer> {
    if (this.destroyed) return Promise.reject(new MalformedEncodingError('decoder was destroyed'));
    const body = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces, this.bytes);
    this.pieces.length = 0;
    return decodeBody(this.encoding, body, this.maxBytes);
  }

  destroy(): void {
    this.destroyed = true;
    this.pieces.length = 0;
  }
}

/** gzip, deflate and brotli through a node:zlib stream, which inflates on the threadpool. */
class ZlibBodyDecoder implements BodyDecoder {
  private stream: Transform | null = null;
  private readonly chunks: Buffer[] = [];
  private total = 0;
  private failure: Error | null = null;
  private readonly waiting = new Set<(error: Error) => void>();
  /** deflate waits for two bytes to tell the zlib format from raw deflate. */
  private held: Buffer = Buffer.alloc(0);

  constructor(
    private readonly encoding: 'gzip' | 'deflate' | 'br',
    private readonly maxBytes: number,
  ) {}

  write(chunk: Buffer): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.stream === null) {
      this.held = this.held.length === 0 ? chunk : Buffer.concat([this.held, chunk]);
      if (this.encoding === 'deflate' && this.held.length < 2) return Promise.resolve();
      chunk = this.held;
      this.held = Buffer.alloc(0);
      this.open(chunk);
    }
    return this.push(chunk);
  }

  async end(): Promise<Buffer> {
    if (this.failure) throw this.failure;
    if (this.stream === null) {
      if (this.held.length === 0) return Buffer.alloc(0);
      const rest = this.held;
      this.held = Buffer.alloc(0);
      this.open(rest);
      await this.push(rest);
    }
    const stream = this.stream!;
    await new Promise<void>((resolve, reject) => {
      this.waiting.add(reject);
      stream.once('end', () => {
        this.waiting.delete(reject);
        resolve();
      });
      stream.end();
    });
    if (this.failure) throw this.failure;
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.total);
  }

  destroy(): void {
    this.stream?.destroy();
    this.failure ??= new MalformedEncodingError('decoder was destroyed');
  }

  private open(first: Buffer): void {
    const stream = this.create(first);
    stream.on('data', (out: Buffer) => {
      if (this.failure) return;
      this.total += out.length;
      if (this.total > this.maxBytes) return this.fail(tooLarge(this.maxBytes));
      this.chunks.push(out);
    });
    stream.on('error', (error: Error) => this.fail(malformed(this.encoding, error)));
    this.stream = stream;
  }

  private create(first: Buffer): Transform {
    switch (this.encoding) {
      case 'gzip':
        return zlib.createGunzip({ chunkSize: ZLIB_CHUNK_BYTES });
      case 'br':
        return zlib.createBrotliDecompress({ chunkSize: ZLIB_CHUNK_BYTES });
      case 'deflate':
        return looksLikeZlib(first[0]!, first[1]!) ? zlib.createInflate({ chunkSize: ZLIB_CHUNK_BYTES }) : zlib.createInflateRaw({ chunkSize: ZLIB_CHUNK_BYTES });
    }
  }

  private push(chunk: Buffer): Promise<void> {
    const stream = this.stream!;
    return new Promise<void>((resolve, reject) => {
      this.waiting.add(reject);
      stream.write(chunk, (error) => {
        this.waiting.delete(reject);
        if (this.failure) reject(this.failure);
        else if (error) reject(this.fail(malformed(this.encoding, error)));
        else resolve();
      });
    });
  }

  private fail(error: Error): Error {
    if (this.failure) return this.failure;
    this.failure = error;
    this.chunks.length = 0;
    this.stream?.destroy();
    for (const reject of this.waiting) reject(error);
    this.waiting.clear();
    return error;
  }
}

/** A decoder for a body arriving in pieces. */
export function createBodyDecoder(encoding: WireEncoding, maxBytes: number): BodyDecoder {
  switch (encoding) {
    case 'identity':
      return new SyncBodyDecoder(new IdentityDecoder(maxBytes), encoding);
    case 'zstd':
      return new WholeBodyDecoder('zstd', maxBytes);
    case 'snappy':
      return new SyncBodyDecoder(new SnappyBodyDecoder(maxBytes), encoding);
    case 'gzip':
    case 'deflate':
    case 'br':
      return new ZlibBodyDecoder(encoding, maxBytes);
  }
}

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const inflateRaw = promisify(zlib.inflateRaw);
const brotliDecompress = promisify(zlib.brotliDecompress);

async function inflateWhole(encoding: 'gzip' | 'deflate' | 'br', body: Buffer, maxBytes: number): Promise<Buffer> {
  // maxOutputLength must be at least 1; one byte over the limit tells "over" from "exactly at".
  const options = { maxOutputLength: Math.max(1, maxBytes + 1), chunkSize: ZLIB_CHUNK_BYTES };
  let decoded: Buffer;
  try {
    if (encoding === 'gzip') decoded = await gunzip(body, options);
    else if (encoding === 'br') decoded = await brotliDecompress(body, options);
    else decoded = await (body.length >= 2 && looksLikeZlib(body[0]!, body[1]!) ? inflate : inflateRaw)(body, options);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(maxBytes);
    throw malformed(encoding, error);
  }
  if (decoded.length > maxBytes) throw tooLarge(maxBytes);
  return decoded;
}

/**
 * zstd bodies from this size (compressed) up are decoded on the zstd worker threads: the event loop then spends
 * ~0.3 instead of ~3 ms per MiB (docs/BENCHMARKS.md). Smaller ones cost less inline than the hand-off.
 */
export const ZSTD_WORKER_MIN_BYTES = 64 * 1024;

async function decodeZstdOnWorker(body: Buffer, maxBytes: number): Promise<Buffer> {
  try {
    // Frames that declare their sizes: refused here at once when over the limit, else decoded into one exact buffer.
    const sized = sizedFrames(body, maxBytes);
    return await zstdDecodeOnWorker(body, maxBytes, zstdWindowLogFor(maxBytes), sized?.total);
  } catch (error) {
    if (error instanceof DecodedTooLargeError) throw error;
    if (error instanceof ZstdWorkerError && error.kind === 'too-large') throw tooLarge(maxBytes);
    if (error instanceof ZstdWorkerError && error.kind === 'window') {
      throw new DecodedTooLargeError(`request body is a zstd frame whose window is larger than the limit of ${maxBytes} bytes allows`, maxBytes);
    }
    throw malformed('zstd', error);
  }
}

/**
 * Decodes a whole body held in memory.
 * @throws DecodedTooLargeError when the decoded body would pass `maxBytes` (checked as it is produced);
 *   MalformedEncodingError when `body` is not valid data of `encoding`.
 */
export async function decodeBody(encoding: WireEncoding, body: Buffer, maxBytes: number): Promise<Buffer> {
  if (body.length === 0) return body;
  switch (encoding) {
    case 'identity':
      if (body.length > maxBytes) throw new DecodedTooLargeError(`request body is larger than the limit of ${maxBytes} bytes`, maxBytes);
      return body;
    case 'gzip':
    case 'deflate':
    case 'br':
      return inflateWhole(encoding, body, maxBytes);
    case 'zstd':
      if (body.length >= ZSTD_WORKER_MIN_BYTES) return decodeZstdOnWorker(body, maxBytes);
      try {
        return decodeZstd(body, maxBytes);
      } catch (error) {
        throw error instanceof DecodedTooLargeError ? error : malformed(encoding, error);
      }
    case 'snappy': {
      const decoder = createBodyDecoder(encoding, maxBytes);
      await decoder.write(body);
      return decoder.end();
    }
  }
}
