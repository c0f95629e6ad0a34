// Bounded zstd decoding: output is produced into buffers no larger than what is left under the limit, so a frame
// that expands past it (a decompression bomb) is stopped after at most `maxBytes + 1` bytes of output, never
// allocated in full. A frame that declares its content size is refused before any decoding when that size is over
// the limit, and otherwise decoded straight into one buffer of exactly that size (no copies).
//
// zstd's own memory is bounded too: the decoder's window (history buffer) is capped at the smallest power of two
// that holds the limit, but never below 8 MiB (klauspost/compress's default window, what Go clients send).
// binding.js is CommonJS that assigns the native addon to module.exports: Node's ESM loader sees only a default.
import binding from 'zstd-napi/binding.js';
import { DecodedTooLargeError, MalformedEncodingError } from '../errors.js';

const MIN_WINDOW_LOG = 23;
const MAX_WINDOW_LOG = 31;
const FIRST_CHUNK_BYTES = 64 * 1024;
const MAX_CHUNK_BYTES = 4 * 2 ** 20;

export function zstdWindowLogFor(maxBytes: number): number {
  const needed = Math.ceil(Math.log2(Math.max(1, maxBytes)));
  return Math.min(MAX_WINDOW_LOG, Math.max(MIN_WINDOW_LOG, needed));
}

function tooLarge(maxBytes: number): DecodedTooLargeError {
  return new DecodedTooLargeError(`request body is larger than the limit of ${maxBytes} bytes after decompression`, maxBytes);
}

/** The content size a frame starting at `src` declares, or null when it declares none or the header is incomplete. */
function declaredContentSize(src: Buffer): number | null {
  try {
    return binding.getFrameContentSize(src);
  } catch {
    return null;
  }
}

export class ZstdBoundedDecoder {
  private readonly dctx = new binding.DCtx();
  private readonly chunks: Buffer[] = [];
  private current: Buffer = Buffer.alloc(0);
  private used = 0;
  private total = 0;
  /** Inside a frame: more input is needed before the body may end. */
  private inFrame = false;

  constructor(private readonly maxBytes: number) {
    this.dctx.setParameter(binding.DParameter.windowLogMax, zstdWindowLogFor(maxBytes));
  }

  /** Decodes `chunk` (any slice of the body). Throws DecodedTooLargeError or MalformedEncodingError. */
  write(chunk: Buffer): void {
    let src = chunk;
    while (src.length > 0 || this.inFrame) {
      if (!this.inFrame) this.checkFrameStart(src);
      if (this.used === this.current.length) this.nextOutputBuffer();
      const space = this.current.length - this.used;
      let result: [number, number, number];
      try {
        result = this.dctx.decompressStream(this.current.subarray(this.used), src);
      } catch (error) {
        throw this.decodeError(error);
      }
      const [remaining, produced, consumed] = result;
      if (produced === 0 && consumed === 0 && space > 0 && src.length > 0) {
        throw new MalformedEncodingError('request body is not valid zstd data: the decoder made no progress');
      }
      this.used += produced;
      this.total += produced;
      src = src.subarray(consumed);
      if (this.total > this.maxBytes) throw tooLarge(this.maxBytes);
      this.inFrame = remaining !== 0;
      // Output space left over means zstd flushed all it could from the input it had: wait for more input.
      if (produced < space && src.length === 0) break;
    }
  }

  /** The whole decoded body. Throws MalformedEncodingError when the body ends inside a frame. */
  finish(): Buffer {
    if (this.inFrame) throw new MalformedEncodingError('request body is not valid zstd data: it ends inside a frame');
    if (this.used > 0) this.chunks.push(this.current.subarray(0, this.used));
    this.current = Buffer.alloc(0);
    this.used = 0;
    if (this.chunks.length === 1) return this.chunks[0]!;
    return Buffer.concat(this.chunks, this.total);
  }

  private checkFrameStart(src: Buffer): void {
    const declared = declaredContentSize(src);
    if (declared === null || declared === 0) return;
    if (this.total + declared > this.maxBytes) throw tooLarge(this.maxBytes);
    // The whole frame's output in one buffer, sized exactly, when the current one cannot take it.
    if (this.current.length - this.used < declared) {
      this.retireCurrent();
      this.current = Buffer.allocUnsafe(declared);
    }
  }

  private nextOutputBuffer(): void {
    this.retireCurrent();
    const left = this.maxBytes - this.total + 1;
    const size = Math.min(left, Math.min(MAX_CHUNK_BYTES, Math.max(FIRST_CHUNK_BYTES, this.total)));
    this.current = Buffer.allocUnsafe(size);
  }

  private retireCurrent(): void {
    if (this.used > 0) this.chunks.push(this.current.subarray(0, this.used));
    this.used = 0;
  }

  private decodeError(error: unknown): Error {
    const message = error instanceof Error ? error.message : String(error);
    // zstd says this when a frame's window is larger than the cap: it would need more memory than the limit allows.
    if (/too much memory/i.test(message)) {
      return new DecodedTooLargeError(
        `request body is a zstd frame whose window is larger than the limit of ${this.maxBytes} bytes allows`,
        this.maxBytes,
      );
    }
    return new MalformedEncodingError(`request body is not valid zstd data: ${message}`, { cause: error });
  }
}

/** Decodes a whole zstd body (one or more frames) with the output limit. */
export function decodeZstd(body: Buffer, maxBytes: number): Buffer {
  const decoder = new ZstdBoundedDecoder(maxBytes);
  decoder.write(body);
  return decoder.finish();
}
