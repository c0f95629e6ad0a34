// Which zstd binding: zstd-napi (the one otlp-capture uses) against the other registry options, when installed
// next to it for the comparison (they are not dependencies):
//   npm install --no-save @mongodb-js/zstd@1.2.2 @toondepauw/node-zstd@2.0.0
// (@mongodb-js/zstd 7.x does not install here: its prebuilt download needs GitHub and its source fallback script
// is not in the package.) Single thread, raw MiB per CPU-second, best of 3, on ~800 KiB SDK trace requests.
// Run: npm run build && npx tsc -p tsconfig.bench.json && node bench/dist/bench/zstd-bindings.js
import { createRequire } from 'node:module';
import * as zstd from 'zstd-napi';
import { codecPayloads } from './codecs.js';

const require = createRequire(import.meta.url);
const MIB = 2 ** 20;

function optional<T>(name: string): T | null {
  try {
    return require(name) as T;
  } catch {
    process.stdout.write(`(${name} is not installed: skipped)\n`);
    return null;
  }
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
}

async function rate(requests: Buffer[], work: (r: Buffer, i: number) => unknown, budgetMs = 400): Promise<number> {
  let best = 0;
  for (let repeat = 0; repeat < 3; repeat++) {
    for (let i = 0; i < requests.length; i++) await work(requests[i]!, i);
    const total = requests.reduce((sum, r) => sum + r.length, 0);
    let rounds = 0;
    const started = process.cpuUsage();
    while (cpuSeconds(started) * 1000 < budgetMs) {
      for (let i = 0; i < requests.length; i++) await work(requests[i]!, i);
      rounds += 1;
    }
    best = Math.max(best, (rounds * total) / MIB / cpuSeconds(started));
  }
  return best;
}

interface Mongo {
  compress(data: Buffer, level?: number): Promise<Buffer>;
  decompress(data: Buffer): Promise<Buffer>;
}
interface Toondepauw {
  Encoder: new (level: number) => { encode(d: Buffer): Promise<Buffer>; encodeSync(d: Buffer): Buffer };
  Decoder: new () => { decode(d: Buffer): Promise<Buffer>; decodeSync(d: Buffer): Buffer };
}

async function main(): Promise<void> {
  const requests = codecPayloads()[0]!.requests;
  const raw = requests.reduce((sum, r) => sum + r.length, 0);
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  const mongo = optional<Mongo>('@mongodb-js/zstd');
  const toon = optional<Toondepauw>('@toondepauw/node-zstd');
  log('\n| binding | API | level | stored/raw | compress MiB/CPU-s | decompress MiB/CPU-s |\n|---|---|---:|---:|---:|---:|');
  for (const level of [1, 3, 6]) {
    const compressor = new zstd.Compressor();
    compressor.setParameters({ compressionLevel: level });
    const decompressor = new zstd.Decompressor();
    const stored = requests.map((r) => compressor.compress(r));
    const ratio = (parts: Buffer[]): string => (parts.reduce((sum, p) => sum + p.length, 0) / raw).toFixed(3);
    log(`| zstd-napi 0.0.13 | sync | ${level} | ${ratio(stored)} | ${(await rate(requests, (r) => compressor.compress(r))).toFixed(0)} | ${(await rate(requests, (_r, i) => decompressor.decompress(stored[i]!))).toFixed(0)} |`);
    if (mongo) {
      const out = await Promise.all(requests.map((r) => mongo.compress(r, level)));
      log(`| @mongodb-js/zstd 1.2.2 | async | ${level} | ${ratio(out)} | ${(await rate(requests, (r) => mongo.compress(r, level))).toFixed(0)} | ${(await rate(requests, (_r, i) => mongo.decompress(out[i]!))).toFixed(0)} |`);
    }
    if (toon) {
      const encoder = new toon.Encoder(level);
      const decoder = new toon.Decoder();
      const out = requests.map((r) => encoder.encodeSync(r));
      log(`| @toondepauw/node-zstd 2.0.0 | sync | ${level} | ${ratio(out)} | ${(await rate(requests, (r) => encoder.encodeSync(r))).toFixed(0)} | ${(await rate(requests, (_r, i) => decoder.decodeSync(out[i]!))).toFixed(0)} |`);
      log(`| @toondepauw/node-zstd 2.0.0 | async | ${level} | ${ratio(out)} | ${(await rate(requests, (r) => encoder.encode(r))).toFixed(0)} | ${(await rate(requests, (_r, i) => decoder.decode(out[i]!))).toFixed(0)} |`);
    }
  }
}

await main();
