// Compression choice for archive blocks and wire bodies: codec × level on realistic OTLP requests, single thread —
// compress and decompress MiB of raw bytes per CPU-second, and stored/raw ratio — plus what the zstd worker threads
// cost the event loop. Each figure is the best of --repeats runs. Rates are per CPU-second of this process (not wall time), so that other processes on a busy
// machine skew them less; on an idle core the two are the same. Run: npm run build && npx tsc -p tsconfig.bench.json && node bench/dist/bench/codecs.js [--ms=N --repeats=N --level=N]
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import snappy from 'snappy';
import * as zstd from 'zstd-napi';
import { decodeBody } from '../src/compression/body-decoder.js';
import { decodeZstd } from '../src/compression/zstd-decoder.js';
import { closeZstdWorkers, zstdCompress, zstdDecompressExact } from '../src/compression/zstd-workers.js';
import { logsPayload, metricsPayload, traceRequestOfSize } from '../tests/helpers/otlp-payloads.js';

const MIB = 2 ** 20;

export interface PayloadSetSpec {
  name: string;
  requests: Buffer[];
}

/** The request shapes the table is measured on: big and small trace batches, a logs batch, small metrics. */
export function codecPayloads(): PayloadSetSpec[] {
  const bytes = (p: { proto: Uint8Array }): Buffer => Buffer.from(p.proto);
  return [
    { name: 'traces ~800 KiB', requests: [1, 2, 3, 4].map((seed) => bytes(traceRequestOfSize(800 * 1024, seed))) },
    { name: 'traces ~64 KiB', requests: Array.from({ length: 16 }, (_, i) => bytes(traceRequestOfSize(64 * 1024, 100 + i))) },
    { name: 'logs ~400 KiB', requests: [1, 2].map((seed) => bytes(logsPayload(seed, 2000))) },
    { name: 'metrics ~8 KiB', requests: Array.from({ length: 32 }, (_, i) => bytes(metricsPayload(200 + i))) },
  ];
}

interface Codec {
  name: string;
  compress(raw: Buffer): Buffer;
  decompress(stored: Buffer, rawLength: number): Buffer;
}

const zstdCodec = (level: number): Codec => {
  const compressor = new zstd.Compressor();
  compressor.setParameters({ compressionLevel: level });
  const decompressor = new zstd.Decompressor();
  return { name: `zstd-${level}`, compress: (raw) => compressor.compress(raw), decompress: (stored) => decompressor.decompress(stored) };
};

export const CODECS: Codec[] = [
  ...[1, 6, 9].map((level) => ({
    name: `gzip-${level}`,
    compress: (raw: Buffer) => zlib.gzipSync(raw, { level }),
    decompress: (stored: Buffer) => zlib.gunzipSync(stored),
  })),
  ...[5, 9].map((level) => ({
    name: `brotli-${level}`,
    compress: (raw: Buffer) => zlib.brotliCompressSync(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: level, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length } }),
    decompress: (stored: Buffer) => zlib.brotliDecompressSync(stored),
  })),
  ...[-1, 1, 2, 3, 4, 6, 9, 12, 19].map(zstdCodec),
  { name: 'snappy (block)', compress: (raw) => snappy.compressSync(raw), decompress: (stored) => snappy.uncompressSync(stored, { asBuffer: true }) as Buffer },
];

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

/** Runs `work` over every request for about `budgetMs` of CPU after one warm-up pass; raw MiB per CPU-second. */
function rate(requests: Buffer[], budgetMs: number, work: (request: Buffer, index: number) => void): number {
  requests.forEach(work);
  const total = requests.reduce((sum, r) => sum + r.length, 0);
  let rounds = 0;
  const started = process.cpuUsage();
  while (cpuSeconds(started) * 1000 < budgetMs) {
    requests.forEach(work);
    rounds += 1;
  }
  return (rounds * total) / MIB / cpuSeconds(started);
}

export interface CodecRow {
  payload: string;
  codec: string;
  ratio: number;
  compressMiBs: number;
  decompressMiBs: number;
}

/** Best of `repeats` runs: on a shared machine the slow runs are the ones other processes disturbed. */
function bestRate(repeats: number, measure: () => number): number {
  let best = 0;
  for (let i = 0; i < repeats; i++) best = Math.max(best, measure());
  return best;
}

export function measureCodecs(sets: PayloadSetSpec[], budgetMs: number, codecs: Codec[] = CODECS, repeats = 3): CodecRow[] {
  const rows: CodecRow[] = [];
  for (const set of sets) {
    const raw = set.requests.reduce((sum, r) => sum + r.length, 0);
    for (const codec of codecs) {
      const stored = set.requests.map((r) => codec.compress(r));
      for (let i = 0; i < stored.length; i++) {
        if (!codec.decompress(stored[i]!, set.requests[i]!.length).equals(set.requests[i]!)) throw new Error(`${codec.name} does not round-trip`);
      }
      rows.push({
        payload: set.name,
        codec: codec.name,
        ratio: stored.reduce((sum, s) => sum + s.length, 0) / raw,
        compressMiBs: bestRate(repeats, () => rate(set.requests, budgetMs, (r) => codec.compress(r))),
        decompressMiBs: bestRate(repeats, () => rate(set.requests, budgetMs, (r, i) => codec.decompress(stored[i]!, r.length))),
      });
    }
  }
  return rows;
}

export interface OffThreadRow {
  what: string;
  /** Raw MiB per second of wall time. */
  MiBs: number;
  /** CPU milliseconds per MiB, all threads of the process. */
  cpuMsPerMiB: number;
  /** Event-loop busy milliseconds per MiB: what the thread that acknowledges Exports spends. */
  mainThreadMsPerMiB: number;
}

/** Throughput and event-loop cost of work handed to the zstd workers (`inFlight` jobs at once), or run inline. */
async function offThread(what: string, requests: Buffer[], budgetMs: number, inFlight: number, job: (r: Buffer, i: number) => Promise<unknown>): Promise<OffThreadRow> {
  await Promise.all(requests.map(job));
  const total = requests.reduce((sum, r) => sum + r.length, 0);
  const elu = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const started = performance.now();
  let rounds = 0;
  while (performance.now() - started < budgetMs) {
    for (let i = 0; i < requests.length; i += inFlight) await Promise.all(requests.slice(i, i + inFlight).map((r, k) => job(r, i + k)));
    rounds += 1;
  }
  const seconds = (performance.now() - started) / 1000;
  const used = performance.eventLoopUtilization(elu);
  const mib = (rounds * total) / MIB;
  return { what, MiBs: mib / seconds, cpuMsPerMiB: (cpuSeconds(cpu) * 1000) / mib, mainThreadMsPerMiB: used.active / mib };
}

export async function measureOffThread(requests: Buffer[], level: number, budgetMs: number): Promise<OffThreadRow[]> {
  const stored = requests.map((r) => zstd.compress(r, { compressionLevel: level }));
  const compressor = new zstd.Compressor();
  compressor.setParameters({ compressionLevel: level });
  const gzipped = requests.map((r) => zlib.gzipSync(r, { level: 1 }));
  // What the Collector sends: klauspost's streaming encoder writes no content size (level 3 is its default).
  const wire = requests.map((r) => zstd.compress(r, { compressionLevel: 3, contentSizeFlag: false, checksumFlag: true }));
  const limit = 64 * MIB;
  return [
    await offThread(`zstd-${level} compress inline (main thread)`, requests, budgetMs, 1, async (r) => compressor.compress(r)),
    await offThread(`zstd-${level} compress on the worker pool, 1 in flight`, requests, budgetMs, 1, (r) => zstdCompress(r, level)),
    await offThread(`zstd-${level} compress on the worker pool, 4 in flight`, requests, budgetMs, 4, (r) => zstdCompress(r, level)),
    await offThread('zstd block decompress on the worker pool (archive reads)', requests, budgetMs, 4, (r, i) => zstdDecompressExact(stored[i]!, r.length)),
    await offThread('zstd wire decode inline (decodeZstd), no content size', requests, budgetMs, 1, async (_r, i) => decodeZstd(wire[i]!, limit)),
    await offThread('zstd wire decode via decodeBody (worker threads), no content size', requests, budgetMs, 1, (_r, i) => decodeBody('zstd', wire[i]!, limit)),
    await offThread('gzip wire decode on the threadpool (decodeBody)', requests, budgetMs, 1, (_r, i) => decodeBody('gzip', gzipped[i]!, limit)),
  ];
}

function fmt(n: number, digits = 0): string {
  return n.toFixed(digits);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ms: { type: 'string', default: '400' },
      repeats: { type: 'string', default: '3' },
      level: { type: 'string', default: '1' },
      'off-thread-only': { type: 'boolean', default: false },
    },
  });
  const budgetMs = Number(values.ms);
  const repeats = Number(values.repeats);
  const sets = codecPayloads();
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  log(`payloads: ${sets.map((s) => `${s.name} ×${s.requests.length}`).join(', ')}; best of ${repeats} runs of ${budgetMs} CPU-ms each`);
  log('\n| payload | codec | stored/raw | compress MiB/CPU-s | decompress MiB/CPU-s |\n|---|---|---:|---:|---:|');
  if (!values['off-thread-only']) {
    for (const row of measureCodecs(sets, budgetMs, CODECS, repeats)) {
      log(`| ${row.payload} | ${row.codec} | ${fmt(row.ratio, 3)} | ${fmt(row.compressMiBs)} | ${fmt(row.decompressMiBs)} |`);
    }
  }
  log('\nOff the event loop (traces ~800 KiB): wall MiB/s, CPU ms per MiB (all threads), event-loop busy ms per MiB\n');
  log('| what | MiB/s | CPU ms/MiB | event loop ms/MiB |\n|---|---:|---:|---:|');
  for (const row of await measureOffThread(sets[0]!.requests, Number(values.level), budgetMs)) {
    log(`| ${row.what} | ${fmt(row.MiBs)} | ${fmt(row.cpuMsPerMiB, 2)} | ${fmt(row.mainThreadMsPerMiB, 2)} |`);
  }
  await closeZstdWorkers();
}

if (process.argv[1]?.endsWith('codecs.js')) await main();
