// Single-thread throughput of the per-request work on the ingest and archive paths, on one ~1 MiB request: the wire
// scan (ingest), gunzip (what grpc-js does for a gzip Export before the handler sees it), and gzip at the archiver's
// levels. Explains where the capture server's CPU goes next to the end-to-end numbers.
import { performance } from 'node:perf_hooks';
import zlib from 'node:zlib';
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
  return [
    measure('scanRequest (wire scan, ingest path)', request.length, budgetMs, () => scanRequest('traces', request)),
    measure('gunzip (grpc-js, gzip Exports)', request.length, budgetMs, () => zlib.gunzipSync(gzipped)),
    measure('gzip level 1 (archiver)', request.length, budgetMs, () => zlib.gzipSync(request, { level: 1 })),
    measure('gzip level 6 (archiver default)', request.length, budgetMs, () => zlib.gzipSync(request, { level: 6 })),
    measure('crc32 (spool + archive)', request.length, budgetMs, () => zlib.crc32(request)),
  ];
}
