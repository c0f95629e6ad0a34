// How OTLP JSON lines files are compressed: a streaming transform per file, and the file name extension that says
// which. gzip is what the Collector's file log readers decompress (fileconsumer `compression: gzip`); zstd is the
// codec the fileexporter offers (zstd-napi's streaming compressor, the binding the archive codec uses).
import type { Transform } from 'node:stream';
import zlib from 'node:zlib';
import { CompressStream } from 'zstd-napi';

export interface OutputCodec {
  readonly name: string;
  /** Appended to `.jsonl`: `.gz`, `.zst`, or ''. */
  readonly extension: string;
  /** A new compressor for one file; null for none. */
  createStream(): Transform | null;
}

/** zstd level for exported files: written once, read many times, so a little more CPU than the archive's level 1. */
const EXPORT_ZSTD_LEVEL = 3;

export const OUTPUT_CODECS: Record<string, OutputCodec | (() => OutputCodec | string)> = {
  none: { name: 'none', extension: '', createStream: () => null },
  gzip: { name: 'gzip', extension: '.gz', createStream: () => zlib.createGzip({ level: 6 }) },
  zstd: { name: 'zstd', extension: '.zst', createStream: () => new CompressStream({ compressionLevel: EXPORT_ZSTD_LEVEL }) },
};

/** The codec called `name`, or a message saying why there is none. */
export function outputCodec(name: string): OutputCodec | string {
  const entry = OUTPUT_CODECS[name];
  if (entry === undefined) return `unknown compression ${JSON.stringify(name)}; use ${Object.keys(OUTPUT_CODECS).join(', ')}`;
  return typeof entry === 'function' ? entry() : entry;
}
