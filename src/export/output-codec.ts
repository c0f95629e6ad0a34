// How OTLP JSON lines files are compressed: a streaming transform per file, and the file name extension that says
// which. gzip is what the Collector's file log readers decompress (fileconsumer `compression: gzip`); zstd is the
// codec the fileexporter offers. A codec plugs in by adding an entry to OUTPUT_CODECS (a zstd binding, or Node's own
// zlib zstd, which Node 22.15+ has).
import type { Transform } from 'node:stream';
import zlib from 'node:zlib';

export interface OutputCodec {
  readonly name: string;
  /** Appended to `.jsonl`: `.gz`, `.zst`, or ''. */
  readonly extension: string;
  /** A new compressor for one file; null for none. */
  createStream(): Transform | null;
}

type ZstdZlib = typeof zlib & { createZstdCompress?: () => Transform };

export const OUTPUT_CODECS: Record<string, OutputCodec | (() => OutputCodec | string)> = {
  none: { name: 'none', extension: '', createStream: () => null },
  gzip: { name: 'gzip', extension: '.gz', createStream: () => zlib.createGzip({ level: 6 }) },
  zstd: () => {
    const create = (zlib as ZstdZlib).createZstdCompress;
    if (typeof create !== 'function') return `zstd is not available in this build (Node ${process.versions.node} has no zlib zstd)`;
    return { name: 'zstd', extension: '.zst', createStream: () => create.call(zlib) };
  },
};

/** The codec called `name`, or a message saying why there is none. */
export function outputCodec(name: string): OutputCodec | string {
  const entry = OUTPUT_CODECS[name];
  if (entry === undefined) return `unknown compression ${JSON.stringify(name)}; use ${Object.keys(OUTPUT_CODECS).join(', ')}`;
  return typeof entry === 'function' ? entry() : entry;
}
