import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
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
  });

  it('garbage is CorruptDataError, not a crash', async () => {
    const garbage = randomBytes(1000);
    await expect(decompress('gzip', garbage, 5000)).rejects.toBeInstanceOf(CorruptDataError);
    await expect(decompress('brotli', garbage, 5000)).rejects.toBeInstanceOf(CorruptDataError);
    await expect(decompress('none', garbage, 999)).rejects.toBeInstanceOf(CorruptDataError);
  });

  it('caps output at the expected length (decompression bombs stop early)', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024));
    const error = await decompress('gzip', bomb, 1000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptDataError);
  });
});
