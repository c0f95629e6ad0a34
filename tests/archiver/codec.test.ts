import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import zlib from 'node:zlib';
import binding from 'zstd-napi/binding.js';
import * as zstd from 'zstd-napi';
import { compress, decompress } from '../../src/archiver/codec.js';
import { CODECS } from '../../src/model.js';
import { CorruptDataError, InvalidArgumentError } from '../../src/errors.js';

/** Half random, half repetitive: compressible like real OTLP, but not trivially. */
function payload(size: number): Buffer {
  const out = Buffer.alloc(size);
  randomBytes(Math.floor(size / 2)).copy(out);
  for (let i = Math.floor(size / 2); i < size; i++) out[i] = 'service.name=checkout '.charCodeAt(i % 22);
  return out;
}

describe('codec', () => {
  for (const codec of CODECS) {
    it(`${codec}: round-trips 0 bytes, 1 byte and several MiB`, async () => {
      for (const size of [0, 1, 4096, 3 * 1024 * 1024 + 17]) {
        const raw = payload(size);
        const stored = await compress(codec, raw);
        const back = await decompress(codec, stored, raw.length);
        expect(back.equals(raw)).toBe(true);
      }
    });

    it(`${codec}: round-trips arbitrary bytes (property)`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 5000 }), async (bytes) => {
          const raw = Buffer.from(bytes);
          expect((await decompress(codec, await compress(codec, raw), raw.length)).equals(raw)).toBe(true);
        }),
        { numRuns: 60 },
      );
    });

    it(`${codec}: a wrong raw length is CorruptDataError`, async () => {
      const raw = payload(10_000);
      const stored = await compress(codec, raw);
      await expect(decompress(codec, stored, raw.length - 1)).rejects.toBeInstanceOf(CorruptDataError);
      await expect(decompress(codec, stored, raw.length + 1)).rejects.toBeInstanceOf(CorruptDataError);
    });
  }

  it('gzip blocks are standalone gzip members (gunzip alone reads them)', async () => {
    const raw = payload(200_000);
    expect(zlib.gunzipSync(await compress('gzip', raw, 9)).equals(raw)).toBe(true);
    expect(zlib.brotliDecompressSync(await compress('brotli', raw, 1)).equals(raw)).toBe(true);
    expect(await compress('none', raw)).toBe(raw);
  });

  it('zstd blocks are one standalone frame declaring its content size (zstd -d alone reads them)', async () => {
    const raw = payload(300_000);
    const stored = await compress('zstd', raw, 3);
    expect(binding.getFrameContentSize(stored)).toBe(raw.length);
    expect(binding.findFrameCompressedSize(stored)).toBe(stored.length);
    expect(zstd.decompress(stored).equals(raw)).toBe(true);
    // The default level is 1; level 19 stores less.
    expect((await compress('zstd', raw, 19)).length).toBeLessThan((await compress('zstd', raw)).length);
  });

  it('zstd compresses and decompresses off the event loop: timers keep firing meanwhile', async () => {
    const raw = payload(4 * 2 ** 20);
    let ticks = 0;
    const timer = setInterval(() => (ticks += 1), 1);
    try {
      const stored = await compress('zstd', raw, 12);
      const compressTicks = ticks;
      expect(compressTicks).toBeGreaterThanOrEqual(3);
      expect((await decompress('zstd', stored, raw.length)).equals(raw)).toBe(true);
    } finally {
      clearInterval(timer);
    }
  });

  it('higher levels compress compressible data at least as well', async () => {
    const raw = Buffer.from('abcabcabd'.repeat(50_000));
    expect((await compress('gzip', raw, 9)).length).toBeLessThanOrEqual((await compress('gzip', raw, 1)).length);
    expect((await compress('brotli', raw, 9)).length).toBeLessThan(raw.length / 100);
  });

  it('rejects levels a codec does not have', async () => {
    await expect(compress('gzip', Buffer.from('x'), 10)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(compress('brotli', Buffer.from('x'), 12)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(compress('gzip', Buffer.from('x'), 1.5)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(compress('none', Buffer.from('x'), 3)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(compress('zstd', Buffer.from('x'), 23)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(compress('zstd', Buffer.from('x'), 0)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('garbage is CorruptDataError, not a crash', async () => {
    const garbage = randomBytes(1000);
    await expect(decompress('gzip', garbage, 5000)).rejects.toBeInstanceOf(CorruptDataError);
    await expect(decompress('brotli', garbage, 5000)).rejects.toBeInstanceOf(CorruptDataError);
    await expect(decompress('zstd', garbage, 5000)).rejects.toBeInstanceOf(CorruptDataError);
    await expect(decompress('none', garbage, 999)).rejects.toBeInstanceOf(CorruptDataError);
  });

  it('caps output at the expected length (decompression bombs stop early)', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024));
    const error = await decompress('gzip', bomb, 1000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptDataError);
    const zstdBomb = zstd.compress(Buffer.alloc(64 * 1024 * 1024));
    await expect(decompress('zstd', zstdBomb, 1000)).rejects.toBeInstanceOf(CorruptDataError);
  });

  it('background work (retention re-encoding) waits while normal work (the archiver, reads) is queued', async () => {
    // All queued in one tick: the first few background jobs take the free slots at once; every job queued after
    // them waits, and the normal ones queued last still run before the waiting background ones.
    const slots = Math.max(1, os.availableParallelism() - 1);
    const raw = payload(256 * 1024);
    const order: string[] = [];
    const track = (name: string, work: Promise<Buffer>) => work.then((out) => (order.push(name), out));
    const background = Array.from({ length: slots + 6 }, (_, i) => track(`background ${i}`, compress('brotli', raw, 9, 'background')));
    const normal = Array.from({ length: 3 }, (_, i) => track(`normal ${i}`, compress('gzip', raw, 1)));
    const reads = track('normal read', decompress('gzip', zlib.gzipSync(raw), raw.length));
    await Promise.all([...background, ...normal, reads]);
    // Only the background jobs that had already started may finish before the last normal job.
    const lastNormal = Math.max(...order.map((name, i) => (name.startsWith('normal') ? i : -1)));
    expect(order.slice(0, lastNormal + 1).filter((name) => name.startsWith('background')).length).toBeLessThanOrEqual(slots);
    expect(order).toHaveLength(slots + 10);
  });
});
