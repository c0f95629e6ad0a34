// Single-thread throughput of the per-request work on the ingest and archive paths, on one ~1 MiB request: the wire
// scan (ingest), gunzip (what a gzip Export costs before the scan), the archive codecs (zstd 1, the default; gzip 1,
// the default before issue #16) and crc32. Explains where the capture server's CPU goes next to the end-to-end numbers.
import { performance } from 'node:perf_hooks';
import zlib from 'node:zlib';
import * as zstd from 'zstd-napi';
import { scanRequest } from '../src/otlp/scanner.js';

export interface MicroResult {
  name: string;
  mibPerSecond: number;
  /** Milliseconds per 1 MiB request. */
  msPerRequest: number;
  iterations: number;
}

const MIB = 2 ** 20;

/** Runs `work` repeatedly for about `budgetMs` after a short warm-up; rate is in bytes of `input`. */
function measure(name: string, inputBytes: number, budgetMs: number, work: () => void): MicroResult {
  for (let i = 0; i < 5; i++) work();
  let iterations = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < budgetMs) {
    work();
    iterations += 1;
    elapsed = performance.now() - started;
  }
  const seconds = elapsed / 1000;
  return { name, mibPerSecond: (inputBytes * iterations) / MIB / seconds, msPerRequest: elapsed / iterations, iterations };
}

export function runMicroBenchmarks(request: Buffer, budgetMs: number): MicroResult[] {
  const gzipped = zlib.gzipSync(request);
  const zstdLevel1 = new zstd.Compressor();
  zstdLevel1.setParameters({ compressionLevel: 1 });
  return [
    measure('scanRequest (wire scan, ingest path)', request.length, budgetMs, () => scanRequest('traces', request)),
    measure('gunzip (gzip Exports)', request.length, budgetMs, () => zlib.gunzipSync(gzipped)),
    measure('zstd level 1 (archiver default)', request.length, budgetMs, () => zstdLevel1.compress(request)),
    measure('gzip level 1 (archiver before #16)', request.length, budgetMs, () => zlib.gzipSync(request, { level: 1 })),
    measure('crc32 (spool + archive)', request.length, budgetMs, () => zlib.crc32(request)),
  ];
}
