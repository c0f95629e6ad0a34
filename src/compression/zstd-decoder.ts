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
 * Streaming decoder: output goes into one buffer that grows (doubling, copied) up to `maxBytes + 1`, so the body
 * ends up in one piece and zstd gets large output windows (it decodes several times faster into 256 KiB+ than into
 * 64 KiB pieces; docs/BENCHMARKS.md).
 */
export class ZstdBoundedDecoder {
  private readonly dctx = new binding.DCtx();
  private output: Buffer = Buffer.alloc(0);
  private used = 0;
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
    if (this.inFrame) throw malformed('it ends inside a frame');
    const body = this.output.subarray(0, this.used);
    this.output = Buffer.alloc(0);
    // Hand back a buffer of about the body's size: the caller may hold it for a while.
    return body.length * 1.25 >= body.buffer.byteLength ? body : Buffer.from(body);
  }

  private checkFrameStart(src: Buffer): void {
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
function sizedFrames(body: Buffer, maxBytes: number): { frames: Buffer[]; total: number } | null {
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
