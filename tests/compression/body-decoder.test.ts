import zlib from 'node:zlib';
import * as zstd from 'zstd-napi';
import { createBodyDecoder, decodeBody, looksLikeZlib, ZSTD_WORKER_MIN_BYTES } from '../../src/compression/body-decoder.js';
import { encodeSnappyBlock, encodeSnappyFramed } from '../../src/compression/snappy-codec.js';
import { zstdFrameWindow } from '../../src/compression/zstd-decoder.js';
import { parseWireEncoding, type WireEncoding } from '../../src/compression/wire-encoding.js';
import { DecodedTooLargeError, MalformedEncodingError } from '../../src/errors.js';
import { traceRequestOfSize } from '../helpers/otlp-payloads.js';
import { zstdFrameHeaderWithWindow, zstdRleFrameWithSize, zstdRleFrameWithoutSize } from '../helpers/zstd-bombs.js';

const MIB = 2 ** 20;
const request = Buffer.from(traceRequestOfSize(300 * 1024, 3).proto);

const ENCODERS: ReadonlyArray<[string, WireEncoding, (raw: Buffer) => Buffer]> = [
  ['gzip', 'gzip', (raw) => zlib.gzipSync(raw)],
  ['deflate (zlib format)', 'deflate', (raw) => zlib.deflateSync(raw)],
  ['deflate (raw deflate)', 'deflate', (raw) => zlib.deflateRawSync(raw)],
  ['br', 'br', (raw) => zlib.brotliCompressSync(raw)],
  ['zstd (one frame, content size)', 'zstd', (raw) => zstd.compress(raw, { compressionLevel: 3 })],
  ['zstd (no content size)', 'zstd', (raw) => zstd.compress(raw, { contentSizeFlag: false })],
  [
    'zstd (three frames and a skippable frame)',
    'zstd',
    (raw) => {
      const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
      const third = Math.floor(raw.length / 3);
      return Buffer.concat([
        zstd.compress(raw.subarray(0, third)),
        skippable,
        zstd.compress(raw.subarray(third, 2 * third), { contentSizeFlag: false }),
        zstd.compress(raw.subarray(2 * third), { compressionLevel: 19 }),
      ]);
    },
  ],
  [
    'zstd (two sized frames around a skippable frame: the one-shot path)',
    'zstd',
    (raw) => {
      const skippable = Buffer.from([0x5f, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 7, 7]);
      const half = Math.floor(raw.length / 2);
      return Buffer.concat([zstd.compress(raw.subarray(0, half)), skippable, zstd.compress(raw.subarray(half), { compressionLevel: 9 })]);
    },
  ],
  ['snappy (raw block)', 'snappy', encodeSnappyBlock],
  ['snappy (framed stream)', 'snappy', encodeSnappyFramed],
  ['identity', 'identity', (raw) => raw],
];

async function decodeInPieces(encoding: WireEncoding, body: Buffer, maxBytes: number, piece: number): Promise<Buffer> {
  const decoder = createBodyDecoder(encoding, maxBytes);
  for (let at = 0; at < body.length; at += piece) await decoder.write(body.subarray(at, at + piece));
  return decoder.end();
}

describe.each(ENCODERS)('%s', (_name, encoding, encode) => {
  const body = encode(request);

  test('round trip: whole body, and streamed in pieces of 1 B, 7 B, 1000 B and 64 KiB', async () => {
    expect((await decodeBody(encoding, body, MIB)).equals(request)).toBe(true);
    for (const piece of [7, 1000, 64 * 1024]) {
      expect((await decodeInPieces(encoding, body, MIB, piece)).equals(request)).toBe(true);
    }
    const small = encode(request.subarray(0, 3000));
    expect((await decodeInPieces(encoding, small, MIB, 1)).equals(request.subarray(0, 3000))).toBe(true);
  });

  test('a limit of exactly the decoded size passes; one byte less is refused as too large', async () => {
    expect((await decodeBody(encoding, body, request.length)).length).toBe(request.length);
    await expect(decodeBody(encoding, body, request.length - 1)).rejects.toThrow(DecodedTooLargeError);
    await expect(decodeInPieces(encoding, body, request.length - 1, 4096)).rejects.toThrow(DecodedTooLargeError);
  });

  test('an empty body is an empty request', async () => {
    expect((await decodeBody(encoding, Buffer.alloc(0), MIB)).length).toBe(0);
    expect((await createBodyDecoder(encoding, MIB).end()).length).toBe(0);
  });

  if (encoding !== 'identity') {
    test('truncated and corrupted bodies are malformed, never a partial result', async () => {
      const truncated = body.subarray(0, Math.floor(body.length / 2));
      await expect(decodeBody(encoding, truncated, MIB)).rejects.toThrow(MalformedEncodingError);
      await expect(decodeInPieces(encoding, truncated, MIB, 999)).rejects.toThrow(MalformedEncodingError);
      const garbage = Buffer.from('this is not compressed data at all, not in any coding; '.repeat(20));
      await expect(decodeBody(encoding, garbage, MIB)).rejects.toThrow(MalformedEncodingError);
      await expect(decodeBody(encoding, garbage, MIB)).rejects.toThrow(/is not valid/);
    });
  }
});

describe('bombs: refused at the limit with bounded memory', () => {
  const ZEROS = 32 * MIB;

  test.each([
    ['gzip', 'gzip', () => zlib.gzipSync(Buffer.alloc(ZEROS))],
    ['deflate', 'deflate', () => zlib.deflateSync(Buffer.alloc(ZEROS))],
    ['raw deflate', 'deflate', () => zlib.deflateRawSync(Buffer.alloc(ZEROS))],
    ['br', 'br', () => zlib.brotliCompressSync(Buffer.alloc(ZEROS))],
    ['snappy framed', 'snappy', () => encodeSnappyFramed(Buffer.alloc(20 * MIB))],
  ] as const)('%s expanding past the limit', async (_name, encoding, make) => {
    const bomb = make();
    await expect(decodeBody(encoding, bomb, MIB)).rejects.toThrow(DecodedTooLargeError);
    await expect(decodeInPieces(encoding, bomb, MIB, 16 * 1024)).rejects.toThrow(/larger than the limit of 1048576 bytes after decompression/);
  });

  test('a snappy block declaring 4 GiB is refused before anything is decoded', async () => {
    const lie = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x61]);
    await expect(decodeBody('snappy', lie, MIB)).rejects.toThrow(DecodedTooLargeError);
    // A declared length within the limit that the data does not deliver is malformed.
    await expect(decodeBody('snappy', Buffer.from([0x64, 0x00, 0x61]), MIB)).rejects.toThrow(MalformedEncodingError);
  });

  test.each([
    ['without a content size', zstdRleFrameWithoutSize],
    ['declaring its content size', zstdRleFrameWithSize],
  ])('a zstd frame expanding to 1 GiB, %s, is refused with bounded memory', async (_name, make) => {
    const bomb = make(2 ** 30 - 1);
    expect(bomb.length).toBeLessThan(64 * 1024);
    // The frame is valid: it does decode, to ~1 GiB, under a big enough limit (checked on a smaller one here).
    expect((await decodeBody('zstd', make(3 * MIB), 4 * MIB)).length).toBe(3 * MIB);
    const before = process.memoryUsage().rss;
    const started = performance.now();
    await expect(decodeBody('zstd', bomb, 4 * MIB)).rejects.toThrow(DecodedTooLargeError);
    await expect(decodeInPieces('zstd', bomb, 4 * MIB, 4096)).rejects.toThrow(/larger than the limit of 4194304 bytes after decompression/);
    const grown = process.memoryUsage().rss - before;
    expect(grown).toBeLessThan(128 * MIB);
    // Stopped at the limit, not after inflating the gibibyte (which takes seconds).
    expect(performance.now() - started).toBeLessThan(5000);
  });

  test('a zstd frame asking for a window beyond what the limit allows is refused as too large', async () => {
    await expect(decodeBody('zstd', Buffer.concat([zstdFrameHeaderWithWindow(30), Buffer.alloc(8)]), 4 * MIB)).rejects.toThrow(
      /window is larger than the limit/,
    );
  });
});

describe('zstd bodies large enough to be decoded on the worker threads', () => {
  // Random-ish bytes so that the compressed body stays over the worker threshold.
  const big = Buffer.concat([request, Buffer.from(Array.from({ length: 400_000 }, (_, i) => (i * 2654435761) >>> 23 & 0xff))]);

  test.each([
    ['declaring its size', zstd.compress(big, { compressionLevel: 3 })],
    ['without its size, with a checksum', zstd.compress(big, { contentSizeFlag: false, checksumFlag: true })],
  ])('round trip, %s; the exact limit passes, one byte less is too large', async (_name, body) => {
    expect(body.length).toBeGreaterThanOrEqual(ZSTD_WORKER_MIN_BYTES);
    expect((await decodeBody('zstd', body, 4 * MIB)).equals(big)).toBe(true);
    expect((await decodeBody('zstd', body, big.length)).length).toBe(big.length);
    await expect(decodeBody('zstd', body, big.length - 1)).rejects.toThrow(DecodedTooLargeError);
  });

  test('truncated, corrupted and garbage bodies are malformed', async () => {
    const body = zstd.compress(big, { contentSizeFlag: false });
    await expect(decodeBody('zstd', body.subarray(0, body.length - 100), 4 * MIB)).rejects.toThrow(/not valid zstd data/);
    const corrupted = Buffer.from(body);
    for (let i = 1000; i < corrupted.length; i += 997) corrupted[i] = corrupted[i]! ^ 0x5a;
    await expect(decodeBody('zstd', corrupted, 4 * MIB)).rejects.toThrow(MalformedEncodingError);
    await expect(decodeBody('zstd', Buffer.alloc(100_000, 7), 4 * MIB)).rejects.toThrow(MalformedEncodingError);
  });

  test('a frame expanding to 2 GiB is refused at the limit with bounded memory; a 1 GiB window is refused', async () => {
    const bomb = zstdRleFrameWithoutSize(2 ** 31 - 1);
    expect(bomb.length).toBeGreaterThanOrEqual(ZSTD_WORKER_MIN_BYTES);
    const before = process.memoryUsage().rss;
    await expect(decodeBody('zstd', bomb, 4 * MIB)).rejects.toThrow(/larger than the limit of 4194304 bytes after decompression/);
    expect(process.memoryUsage().rss - before).toBeLessThan(128 * MIB);
    const window = Buffer.concat([zstdFrameHeaderWithWindow(30), Buffer.alloc(ZSTD_WORKER_MIN_BYTES)]);
    await expect(decodeBody('zstd', window, 4 * MIB)).rejects.toThrow(/window is larger than the limit/);
    // Still decoding afterwards.
    expect((await decodeBody('zstd', zstd.compress(big), 4 * MIB)).equals(big)).toBe(true);
  });
});

describe('zstd frame windows (what decides whether a decompression context is kept for reuse)', () => {
  test('window descriptor, single-segment frames, and headers that are not all there', () => {
    expect(zstdFrameWindow(zstdFrameHeaderWithWindow(30))).toBe(2 ** 30);
    expect(zstdFrameWindow(zstdRleFrameWithoutSize(10))).toBe(2 ** 17);
    // One-shot frames of a small input are single-segment: the window is the content size.
    expect(zstdFrameWindow(zstd.compress(Buffer.alloc(5000, 1)))).toBe(5000);
    expect(zstdFrameWindow(Buffer.from([0x28, 0xb5, 0x2f]))).toBeNull();
    expect(zstdFrameWindow(Buffer.from('not a zstd frame'))).toBeNull();
  });

  test('decoders that fail, finish or are destroyed mid-body leave the next decode working', async () => {
    const body = zstd.compress(request, { contentSizeFlag: false });
    const abandoned = createBodyDecoder('zstd', MIB);
    await abandoned.write(body.subarray(0, 1000));
    abandoned.destroy();
    await expect(decodeBody('zstd', Buffer.concat([zstdFrameHeaderWithWindow(30), Buffer.alloc(8)]), MIB)).rejects.toThrow(DecodedTooLargeError);
    await expect(decodeInPieces('zstd', body.subarray(0, 5000), MIB, 999)).rejects.toThrow(MalformedEncodingError);
    for (let i = 0; i < 20; i++) expect((await decodeInPieces('zstd', body, MIB, 50_000)).equals(request)).toBe(true);
  });
});

describe('snappy framing details', () => {
  test('x-snappy-framed and snappy name the same decoder; padding and skippable chunks are skipped', async () => {
    expect(parseWireEncoding('x-snappy-framed')).toBe('snappy');
    const framed = encodeSnappyFramed(request);
    const padding = Buffer.from([0xfe, 3, 0, 0, 0, 0, 0]);
    const skippable = Buffer.from([0x80, 2, 0, 0, 9, 9]);
    const withExtras = Buffer.concat([framed.subarray(0, 10), padding, skippable, framed.subarray(10)]);
    expect((await decodeBody('snappy', withExtras, MIB)).equals(request)).toBe(true);
  });

  test('a chunk whose CRC-32C does not match is malformed; so is a reserved unskippable chunk', async () => {
    const framed = Buffer.from(encodeSnappyFramed(request));
    framed[15] = framed[15]! ^ 0xff; // inside the first chunk's checksum
    await expect(decodeBody('snappy', framed, MIB)).rejects.toThrow(/CRC-32C/);
    const reserved = Buffer.concat([encodeSnappyFramed(Buffer.from('x')), Buffer.from([0x05, 1, 0, 0, 0])]);
    await expect(decodeBody('snappy', reserved, MIB)).rejects.toThrow(/reserved unskippable chunk/);
  });

  test('incompressible data goes in uncompressed chunks and round-trips', async () => {
    const random = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 2654435761) >>> 24));
    const framed = encodeSnappyFramed(random);
    expect(framed.includes(Buffer.from([0x01]), 10)).toBe(true);
    expect((await decodeBody('snappy', framed, MIB)).equals(random)).toBe(true);
  });
});

describe('names', () => {
  test('aliases, case and blanks; unknown names are null', () => {
    expect(parseWireEncoding(undefined)).toBe('identity');
    expect(parseWireEncoding(' GZIP ')).toBe('gzip');
    expect(parseWireEncoding('x-gzip')).toBe('gzip');
    expect(parseWireEncoding('zlib')).toBe('deflate');
    expect(parseWireEncoding('ZSTD')).toBe('zstd');
    expect(parseWireEncoding('lz4')).toBeNull();
    expect(parseWireEncoding('toString')).toBeNull();
  });

  test('zlib header detection', () => {
    const zlibbed = zlib.deflateSync(request);
    expect(looksLikeZlib(zlibbed[0]!, zlibbed[1]!)).toBe(true);
    const raw = zlib.deflateRawSync(request);
    expect(looksLikeZlib(raw[0]!, raw[1]!)).toBe(false);
  });
});
