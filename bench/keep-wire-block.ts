// Issue #16 item 3, measured, not wired in: when a request arrives compressed with the archive's codec (a zstd frame
// on the wire with archiver.codec zstd, or gzip/gzip), what would keeping the wire bytes as the archive block save
// against today's decompress + recompress, and what would it cost?
//
// Per GiB of raw OTLP, single thread, CPU-seconds: the decode that validation needs either way (the scan reads the
// plain bytes once), the recompression that keeping would skip, the CRC-32 both need, and the check a kept block
// would need (one standalone frame, no dictionary). Plus stored bytes: the client's frame at the client's level
// against the archiver's block at its level.
// Run: npm run build && npx tsc -p tsconfig.bench.json && node bench/dist/bench/keep-wire-block.js [--ms=N]
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import binding from 'zstd-napi/binding.js';
import * as zstd from 'zstd-napi';
import { decodeBody } from '../src/compression/body-decoder.js';
import { codecPayloads } from './codecs.js';

const GIB = 2 ** 30;

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

/** CPU-seconds per GiB of raw bytes for `work` over every request, measured for about `budgetMs` of CPU. */
async function cpuPerGiB(raws: Buffer[], budgetMs: number, work: (index: number) => unknown): Promise<number> {
  for (let i = 0; i < raws.length; i++) await work(i);
  const total = raws.reduce((sum, r) => sum + r.length, 0);
  let rounds = 0;
  const started = process.cpuUsage();
  while (cpuSeconds(started) * 1000 < budgetMs) {
    for (let i = 0; i < raws.length; i++) await work(i);
    rounds += 1;
  }
  return cpuSeconds(started) / ((rounds * total) / GIB);
}

/** What a kept zstd block would have to pass: exactly one frame spanning the body, no dictionary. */
function standaloneZstdFrame(body: Buffer): boolean {
  return binding.findFrameCompressedSize(body) === body.length && binding.getDictIDFromFrame(body) === 0;
}

interface Scenario {
  name: string;
  /** What the client sends. */
  wire: (raw: Buffer) => Buffer;
  encoding: 'zstd' | 'gzip';
  /** What the archiver writes today. */
  archive: (raw: Buffer) => Buffer;
  check: (body: Buffer) => boolean;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'zstd wire (level 3, as klauspost default) → zstd-1 archive',
    wire: (raw) => zstd.compress(raw, { compressionLevel: 3, contentSizeFlag: false, checksumFlag: true }),
    encoding: 'zstd',
    archive: (raw) => zstd.compress(raw, { compressionLevel: 1 }),
    check: standaloneZstdFrame,
  },
  {
    name: 'zstd wire (level 1) → zstd-1 archive',
    wire: (raw) => zstd.compress(raw, { compressionLevel: 1, contentSizeFlag: false, checksumFlag: true }),
    encoding: 'zstd',
    archive: (raw) => zstd.compress(raw, { compressionLevel: 1 }),
    check: standaloneZstdFrame,
  },
  {
    name: 'gzip wire (level 6, Go and grpc-go default) → gzip-1 archive',
    wire: (raw) => zlib.gzipSync(raw, { level: 6 }),
    encoding: 'gzip',
    archive: (raw) => zlib.gzipSync(raw, { level: 1 }),
    // A gzip body may hold several members; a block must be one. Finding the end of the first member takes an
    // inflate pass, which the validation decode already does: counted as free here.
    check: () => true,
  },
];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { ms: { type: 'string', default: '1500' } } });
  const budgetMs = Number(values.ms);
  const raws = codecPayloads()[0]!.requests;
  const rawBytes = raws.reduce((sum, r) => sum + r.length, 0);
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  log(`payload: ${raws.length} SDK trace requests, ${(rawBytes / raws.length / 1024).toFixed(0)} KiB each; CPU-s per GiB of raw`);
  log('\n| scenario | decode (needed either way) | recompress (saved by keeping) | crc32 | kept-block check | wire stored/raw | archive stored/raw |');
  log('|---|---:|---:|---:|---:|---:|---:|');
  for (const scenario of SCENARIOS) {
    const wire = raws.map(scenario.wire);
    const archived = raws.map(scenario.archive);
    if (!wire.every(scenario.check)) throw new Error(`${scenario.name}: a wire body is not a standalone block`);
    const decode = await cpuPerGiB(raws, budgetMs, (i) => decodeBody(scenario.encoding, wire[i]!, 64 * 2 ** 20));
    const recompress = await cpuPerGiB(raws, budgetMs, (i) => scenario.archive(raws[i]!));
    const crc = await cpuPerGiB(raws, budgetMs, (i) => zlib.crc32(raws[i]!));
    const check = await cpuPerGiB(raws, budgetMs, (i) => scenario.check(wire[i]!));
    const ratio = (parts: Buffer[]): string => (parts.reduce((sum, p) => sum + p.length, 0) / rawBytes).toFixed(3);
    log(`| ${scenario.name} | ${decode.toFixed(2)} | ${recompress.toFixed(2)} | ${crc.toFixed(2)} | ${check.toFixed(3)} | ${ratio(wire)} | ${ratio(archived)} |`);
  }
}

await main();
