// The compress side, for whatever writes compressed output (exported JSON lines, tests, a client): each coding of
// wire-encoding.ts by name, off the event loop — zlib on the libuv threadpool, zstd on the worker threads, snappy
// (fast enough to run inline) as a raw block or the framed stream.
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { InvalidArgumentError } from '../errors.js';
import { encodeSnappyBlock, encodeSnappyFramed } from './snappy-codec.js';
import type { WireEncoding } from './wire-encoding.js';
import { zstdCompress } from './zstd-workers.js';

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);
const brotli = promisify(zlib.brotliCompress);

export interface EncodeOptions {
  /** Codec level (gzip/deflate 0-9, brotli 0-11, zstd 1-22); each codec's usual default when omitted. */
  level?: number;
  /** snappy only: the framed stream (x-snappy-framed) instead of a raw block. */
  snappyFramed?: boolean;
}

/** `raw` in `encoding` ("deflate" is the zlib format, as HTTP means it); every result is one standalone stream. */
export async function encodeBody(encoding: WireEncoding, raw: Buffer, options: EncodeOptions = {}): Promise<Buffer> {
  const { level } = options;
  switch (encoding) {
    case 'identity':
      return raw;
    case 'gzip':
      return gzip(raw, level === undefined ? {} : { level });
    case 'deflate':
      return deflate(raw, level === undefined ? {} : { level });
    case 'br':
      return brotli(raw, level === undefined ? {} : { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: level } });
    case 'zstd':
      if (level !== undefined && (!Number.isInteger(level) || level < 1 || level > 22)) {
        throw new InvalidArgumentError(`zstd level must be an integer in [1, 22]: got ${level}`);
      }
      return zstdCompress(raw, level ?? 3);
    case 'snappy':
      return options.snappyFramed ? encodeSnappyFramed(raw) : encodeSnappyBlock(raw);
  }
}
