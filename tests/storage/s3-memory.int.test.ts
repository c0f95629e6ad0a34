// Memory stays bounded while a large object streams into S3: a child process (the built adapter, nothing else
// running in it) streams 200 MiB of random data through one writer in 1 MiB chunks and samples its own RSS. Growth
// over the warmed-up baseline must stay far below the object size.
//
// What the bound is made of: lib-storage keeps each part in flight as a buffer of partSize plus the tail of the
// chunk that overflowed it, and while it assembles the next part it holds the chunks, their concatenation and the
// previous concatenation (still referenced by the leftover tail): about partSize × (queueSize + 3) live. On top of
// that V8 lets dead Buffers (written chunks, sent parts) pile up to ~64 MiB of external memory before it collects;
// the child collects every 8 MiB so that slack is not what the test measures.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startS3Server, type S3Server } from '../helpers/s3-server.js';

const MiB = 2 ** 20;
const OBJECT_MIB = 200;
const PART_SIZE = 8 * MiB;
const QUEUE_SIZE = 4;
const STORE_MODULE = fileURLToPath(new URL('../../dist/storage/s3-blob-store.js', import.meta.url));

// Runs in the child: warm up with one small upload, then stream the big one while sampling RSS every 5 ms.
const CHILD = `
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
const { S3BlobStore } = await import(process.env.STORE_MODULE);
const store = new S3BlobStore(JSON.parse(process.env.SETTINGS));
await store.start();
const warm = store.createWriter('warm-up');
await warm.write(randomBytes(MiB));
await warm.complete();
global.gc?.();
const baseline = process.memoryUsage.rss();
let peak = baseline;
const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 5);
const hash = createHash('sha256');
const started = performance.now();
const writer = store.createWriter('big/object');
for (let i = 0; i < ${OBJECT_MIB}; i++) {
  const chunk = randomBytes(MiB);
  hash.update(chunk);
  await writer.write(chunk);
  // Collect now and then so RSS shows what the adapter keeps alive, not how lazily V8 frees dead Buffers.
  if (i % 8 === 7) global.gc();
}
const { size } = await writer.complete();
const seconds = (performance.now() - started) / 1000;
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage.rss());
const hwm = Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
await store.close();
console.log(JSON.stringify({ baseline, peak, hwm, size, seconds, sha256: hash.digest('hex') }));
`.replaceAll('MiB', String(MiB));

let server: S3Server;
beforeAll(async () => {
  server = await startS3Server();
}, 30_000);
afterAll(async () => {
  await server.dispose();
});

interface ChildReport {
  baseline: number;
  peak: number;
  hwm: number;
  size: number;
  seconds: number;
  sha256: string;
}

function runChild(settings: object): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD], {
      env: { ...process.env, STORE_MODULE, SETTINGS: JSON.stringify(settings) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`child exited with ${code}:\n${err}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!) as ChildReport);
    });
  });
}

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

it(`streams a ${OBJECT_MIB} MiB object with bounded RSS, and the server holds exactly those bytes`, async () => {
  const report = await runChild(server.settings({ partSize: PART_SIZE, uploadQueueSize: QUEUE_SIZE }));
  const growthMiB = (Math.max(report.peak, report.hwm) - report.baseline) / MiB;
  const limitMiB = (PART_SIZE * (QUEUE_SIZE + 3)) / MiB + 64;
  // Printed so the figures can be quoted (throughput to s3rver on loopback, RSS).
  console.log(
    `S3 upload of ${OBJECT_MIB} MiB: ${(OBJECT_MIB / report.seconds).toFixed(1)} MiB/s; RSS baseline ` +
      `${(report.baseline / MiB).toFixed(1)} MiB, peak ${(Math.max(report.peak, report.hwm) / MiB).toFixed(1)} MiB, ` +
      `growth ${growthMiB.toFixed(1)} MiB (limit ${limitMiB} MiB)`,
  );
  expect(report.size).toBe(OBJECT_MIB * MiB);
  expect(growthMiB).toBeLessThan(limitMiB);
  // s3rver keeps each object as a plain file: compare what it stored with what was sent.
  const stored = path.join(server.dir, server.bucket, 'big', 'object._S3rver_object');
  expect(await sha256OfFile(stored)).toBe(report.sha256);
}, 120_000);
