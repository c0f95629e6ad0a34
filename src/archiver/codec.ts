// Block compression. node:zlib's callback functions run on the libuv threadpool and zstd runs on worker threads
// (src/compression/zstd-workers.ts), so compressing a large request does not stall the event loop that acknowledges
// Exports. Every gzip block is one complete gzip member and every zstd block one zstd frame: a user can fetch a block
// with `curl -r start-end` and pipe it straight into `gunzip` or `zstd -d`.
//
// At most one (de)compression per CPU runs at a time, process-wide. Measured on 2 cores with 400 requests of 64 KiB
// handed over at once: brotli ran 5-10x slower with all 400 in flight than with 2 (each encoder allocates its own
// window and hash tables), and gzip lost about a third.
// Brotli's window is sized to the request for the same reason: a 4 MiB window for a 64 KiB request only costs memory.

import os from 'node:os';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import PQueue from 'p-queue';
import { zstdCompress, zstdDecompressExact } from '../compression/zstd-workers.js';
import type { Codec } from '../model.js';
import { CorruptDataError, InvalidArgumentError } from '../errors.js';

const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);
const brotliCompress = promisify(zlib.brotliCompress);
const brotliDecompress = promisify(zlib.brotliDecompress);

/**
 * Defaults favour ingest throughput; retention's compress action can re-encode older objects harder. zstd 1 (the
 * archiver's default codec) compresses SDK trace requests ~4× faster than gzip 1 into ~12 % fewer bytes, and ~30 %
 * faster than zstd 3 for ~5 % more bytes (docs/BENCHMARKS.md, "Compression choice"). gzip 1 costs ~25 % less CPU
 * than gzip 6 for objects ~20 % larger.
 */
export const DEFAULT_LEVEL: Readonly<Record<Codec, number>> = { none: 0, gzip: 1, brotli: 5, zstd: 1 };
/** Levels each codec accepts (zstd's negative "fast" levels are left out: they store more than gzip 1). */
export const LEVEL_RANGE: Readonly<Record<Codec, readonly [number, number]>> = { none: [0, 0], gzip: [0, 9], brotli: [0, 11], zstd: [1, 22] };

/** Throws InvalidArgumentError for a level the codec does not have; returns the level to use. */
export function resolveLevel(codec: Codec, level?: number): number {
  if (level === undefined) return DEFAULT_LEVEL[codec];
  const [min, max] = LEVEL_RANGE[codec];
  if (!Number.isInteger(level) || level < min || level > max) {
    throw new InvalidArgumentError(`compression level for ${codec} must be an integer in [${min}, ${max}]: got ${level}`);
  }
  return level;
}

// One core is left to the event loop that receives, scans and acknowledges: with every core compressing, the
// ingest path waited for CPU 40 % of the time and took ~25 % less (bench, 2 cores: 69 → 92 MiB/s).
const zlibWork = new PQueue({ concurrency: Math.max(1, os.availableParallelism() - 1) });

/**
 * Whose work it is. `background` (retention re-encoding old objects) gets a slot only when no `normal` work (the
 * archiver behind ingest, reads) is waiting: a brotli-11 re-encode queued first would otherwise hold the archiver up
 * for seconds per block while the spool fills.
 */
export type ZlibPriority = 'normal' | 'background';
const QUEUE_PRIORITY: Readonly<Record<ZlibPriority, number>> = { normal: 0, background: -1 };

function onZlibQueue<T>(priority: ZlibPriority, work: () => Promise<T>): Promise<T> {
  return zlibWork.add(work, { priority: QUEUE_PRIORITY[priority] });
}

/** Smallest brotli window (log2 bytes) that holds the whole input, within brotli's limits [10, 24]. */
function brotliWindow(length: number): number {
  return Math.min(24, Math.max(10, Math.ceil(Math.log2(length + 1))));
}

export async function compress(codec: Codec, raw: Buffer, level?: number, priority: ZlibPriority = 'normal'): Promise<Buffer> {
  const resolved = resolveLevel(codec, level);
  switch (codec) {
    case 'none':
      return raw;
    case 'gzip':
      return onZlibQueue(priority, () => gzip(raw, { level: resolved }));
    case 'brotli':
      return onZlibQueue(priority, () =>
        brotliCompress(raw, {
          params: {
            [zlib.constants.BROTLI_PARAM_QUALITY]: resolved,
            [zlib.constants.BROTLI_PARAM_LGWIN]: brotliWindow(raw.length),
            [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
          },
        }),
      );
    case 'zstd':
      return onZlibQueue(priority, () => zstdCompress(raw, resolved));
  }
}

/**
 * Inflates one stored block and checks it has exactly `rawLength` bytes. Output is capped at `rawLength`, so a
 * corrupted or hostile block cannot inflate into more memory than the index says the request had.
 */
export async function decompress(codec: Codec, stored: Buffer, rawLength: number, priority: ZlibPriority = 'normal'): Promise<Buffer> {
  if (!Number.isInteger(rawLength) || rawLength < 0) {
    throw new InvalidArgumentError(`raw length must be a non-negative integer: got ${rawLength}`);
  }
  let raw: Buffer;
  try {
    // maxOutputLength must be at least 1; a zero-length request still inflates to zero bytes under that cap.
    // Output pieces of up to 256 KiB (at most the block): Node's 16 KiB default costs a threadpool round trip each.
    const limit = { maxOutputLength: Math.max(1, rawLength), chunkSize: Math.min(256 * 1024, Math.max(64, rawLength)) };
    switch (codec) {
      case 'none':
        raw = stored;
        break;
      case 'gzip':
        raw = await onZlibQueue(priority, () => gunzip(stored, limit));
        break;
      case 'brotli':
        raw = await onZlibQueue(priority, () => brotliDecompress(stored, limit));
        break;
      case 'zstd':
        // Allocated at rawLength and never grown: a frame that claims or produces more is corrupt.
        raw = await onZlibQueue(priority, () => zstdDecompressExact(stored, rawLength));
        break;
      default:
        throw new InvalidArgumentError(`unknown codec ${JSON.stringify(codec)}`);
    }
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error;
    throw new CorruptDataError(`${codec} block does not decompress: ${(error as Error).message}`, { cause: error });
  }
  if (raw.length !== rawLength) {
    throw new CorruptDataError(`${codec} block decompressed to ${raw.length} bytes, expected ${rawLength}`);
  }
  return raw;
}
