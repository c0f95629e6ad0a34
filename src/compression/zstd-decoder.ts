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
/** First output capacity when no frame declares its size: a multiple of the compressed input seen so far. */
const MIN_CAPACITY = 256 * 1024;
const EXPANSION_GUESS = 8;

export function zstdWindowLogFor(maxBytes: number): number {
  const needed = Math.ceil(Math.log2(Math.max(1, maxBytes)));
  return Math.min(MAX_WINDOW_LOG, Math.max(MIN_WINDOW_LOG, needed));
}

function tooLarge(maxBytes: number): DecodedTooLargeError {
  return new DecodedTooLargeError(`request body is larger than the limit of ${maxBytes} bytes after decompression`, maxBytes);
}

function malformed(message: string, cause?: unknown): MalformedEncodingError {
  return new MalformedEncodingError(`request body is not valid zstd data: ${message}`, cause === undefined ? undefined : { cause });
}

/** The content size a frame starting at `src` declares, or null when it declares none or the header is incomplete. */
function declaredContentSize(src: Buffer): number | null {
  try {
    return binding.getFrameContentSize(src);
  } catch {
    return null;
  }
}

/**
 * The window (history) a frame at the start of `src` asks the decoder to keep, in bytes; null when the header is
 * not all there. RFC 8878 §3.1.1.1: single-segment frames use their content size, others a Window_Descriptor.
 */
export function zstdFrameWindow(src: Buffer): number | null {
  if (src.length < 6 || src.readUInt32LE(0) !== 0xfd2fb528) return null;
  const descriptor = src[4]!;
  if ((descriptor & 0x20) === 0) {
    const windowByte = src[5]!;
    const base = 2 ** (10 + (windowByte >> 3));
    return base + (base / 8) * (windowByte & 0x07);
  }
  return declaredContentSize(src);
}

// Decompression contexts are reused: a new one costs more than decoding a typical request (it allocates and fills
// its window buffer; bench: ~160 vs ~700 MiB per CPU-second on ~800 KiB requests). A context keeps its buffers, so
// one that decoded a frame with a window over 8 MiB (only a client that asks for it) is dropped, not kept.
const CONTEXT_POOL: binding.DCtx[] = [];
const POOL_SIZE = 8;
const POOLED_WINDOW_MAX = 8 * 2 ** 20;

function acquireContext(windowLogMax: number): binding.DCtx {
  const dctx = CONTEXT_POOL.pop() ?? new binding.DCtx();
  dctx.reset(binding.ResetDirective.sessionAndParameters);
  dctx.setParameter(binding.DParameter.windowLogMax, windowLogMax);
  return dctx;
}

function releaseContext(dctx: binding.DCtx, largestWindow: number): void {
  if (largestWindow <= POOLED_WINDOW_MAX && CONTEXT_POOL.length < POOL_SIZE) CONTEXT_POOL.push(dctx);
}

/**
 * Streaming decoder: output goes into one buffer that grows (doubling, copied) up to `maxBytes + 1`, so the body
 * ends up in one piece and zstd gets large output windows (it decodes several times faster into 256 KiB+ than into
 * 64 KiB pieces; docs/BENCHMARKS.md).
 */
export class ZstdBoundedDecoder {
  private dctx: binding.DCtx | null;
  private output: Buffer = Buffer.alloc(0);
  private used = 0;
  /** Inside a frame: more input is needed before the body may end. */
  private inFrame = false;
  /** Largest window a frame asked for (Infinity when a header could not be read whole). */
  private largestWindow = 0;

  constructor(private readonly maxBytes: number) {
    this.dctx = acquireContext(zstdWindowLogFor(maxBytes));
  }

  /** Decodes `chunk` (any slice of the body). Throws DecodedTooLargeError or MalformedEncodingError. */
  write(chunk: Buffer): void {
    try {
      this.decode(chunk);
    } catch (error) {
      this.release();
      throw error;
    }
  }

  /** Gives the decompression context back (after a failure, or when the body is abandoned). Idempotent. */
  release(): void {
    if (this.dctx === null) return;
    releaseContext(this.dctx, this.largestWindow);
    this.dctx = null;
  }

  private decode(chunk: Buffer): void {
    if (this.dctx === null) throw malformed('the decoder was already released');
    let src = chunk;
    while (src.length > 0 || this.inFrame) {
      if (!this.inFrame) this.checkFrameStart(src);
      if (this.used === this.output.length) this.grow(src.length);
      const space = this.output.length - this.used;
      let result: [number, number, number];
      try {
        result = this.dctx.decompressStream(this.output.subarray(this.used), src);
      } catch (error) {
        throw this.decodeError(error);
      }
      const [remaining, produced, consumed] = result;
      if (produced === 0 && consumed === 0 && space > 0 && src.length > 0) throw malformed('the decoder made no progress');
      this.used += produced;
      src = src.subarray(consumed);
      if (this.used > this.maxBytes) throw tooLarge(this.maxBytes);
      this.inFrame = remaining !== 0;
      // Output space left over means zstd flushed all it could from the input it had: wait for more input.
      if (produced < space && src.length === 0) break;
    }
  }

  /** The whole decoded body. Throws MalformedEncodingError when the body ends inside a frame. */
  finish(): Buffer {
    this.release();
    if (this.inFrame) throw malformed('it ends inside a frame');
    const body = this.output.subarray(0, this.used);
    this.output = Buffer.alloc(0);
    // The body is held only until it is spooled; a copy to trim it costs more than the spare capacity (at most as
    // much again as the body) is worth.
    return body.length * 2 >= body.buffer.byteLength ? body : Buffer.from(body);
  }

  private checkFrameStart(src: Buffer): void {
    if (src.length > 0) this.largestWindow = Math.max(this.largestWindow, zstdFrameWindow(src) ?? Infinity);
    const declared = declaredContentSize(src);
    if (declared === null || declared === 0) return;
    if (this.used + declared > this.maxBytes) throw tooLarge(this.maxBytes);
    if (this.output.length - this.used < declared) this.resize(this.used + declared);
  }

  private grow(pendingInput: number): void {
    const limit = this.maxBytes + 1;
    const wanted = this.output.length === 0 ? Math.max(MIN_CAPACITY, pendingInput * EXPANSION_GUESS) : this.output.length * 2;
    this.resize(Math.min(limit, wanted));
  }

  private resize(capacity: number): void {
    const next = Buffer.allocUnsafe(capacity);
    this.output.copy(next, 0, 0, this.used);
    this.output = next;
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
    return malformed(message, error);
  }
}

/**
 * The frames of `body` and their declared sizes when every frame declares one and the sizes fit the limit; null
 * when a frame declares none (then only streaming can tell how much it holds).
 */
export function sizedFrames(body: Buffer, maxBytes: number): { frames: Buffer[]; total: number } | null {
  const frames: Buffer[] = [];
  let total = 0;
  for (let at = 0; at < body.length; ) {
    const rest = body.subarray(at);
    const size = declaredContentSize(rest);
    if (size === null) return null;
    let length: number;
    try {
      length = binding.findFrameCompressedSize(rest);
    } catch {
      return null; // truncated or corrupt: the streaming decoder says what is wrong
    }
    total += size;
    if (total > maxBytes) throw tooLarge(maxBytes);
    frames.push(rest.subarray(0, length));
    at += length;
  }
  return { frames, total };
}

/** Reused by every one-shot decode: this runs synchronously on one thread, so one context serves all calls. */
let oneShotContext: binding.DCtx | undefined;

/**
 * Decodes a whole zstd body (one or more frames) with the output limit. When every frame declares its content size
 * (one-shot encoders do), the output is allocated once at that size and each frame decoded in one call; otherwise
 * (streaming encoders such as the Collector's) the streaming decoder runs over the body.
 */
export function decodeZstd(body: Buffer, maxBytes: number): Buffer {
  const sized = sizedFrames(body, maxBytes);
  if (sized !== null) {
    const output = Buffer.allocUnsafe(sized.total);
    const dctx = (oneShotContext ??= new binding.DCtx());
    let at = 0;
    for (const frame of sized.frames) {
      try {
        at += dctx.decompress(output.subarray(at), frame);
      } catch (error) {
        throw malformed((error as Error).message, error);
      }
    }
    if (at !== sized.total) throw malformed(`the frames decoded to ${at} bytes, not the ${sized.total} they declare`);
    return output;
  }
  const decoder = new ZstdBoundedDecoder(maxBytes);
  decoder.write(body);
  return decoder.finish();
}
