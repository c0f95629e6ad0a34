// Which client bodies can stand as archive blocks: exactly one gzip member or one zstd frame that decodes, alone and
// with our block reader, to exactly the request. Everything else (more members or frames, trailing bytes, a
// dictionary, a window past what readers allow, a size that disagrees) must be refused, so the archiver compresses.
import zlib from 'node:zlib';
import * as zstd from 'zstd-napi';
import { decompress } from '../../src/archiver/codec.js';
import { MAX_KEPT_ZSTD_WINDOW, clientBlock, isSingleZstdFrame, isWholeGzipMember } from '../../src/compression/wire-block.js';
import { instrumentedTraceRequestOfSize } from '../helpers/instrumented-traces.js';

const raw = Buffer.from(instrumentedTraceRequestOfSize(600_000, 3).proto);
const crc = zlib.crc32(raw);

function zstdFrame(input: Buffer, options: { contentSize: boolean; checksum: boolean; level?: number }): Buffer {
  const compressor = new zstd.Compressor();
  compressor.setParameters({ compressionLevel: options.level ?? 3, contentSizeFlag: options.contentSize, checksumFlag: options.checksum });
  return Buffer.from(compressor.compress(input));
}

describe('gzip', () => {
  test.each([1, 6, 9])('one member at level %i is kept, and reads back as the request', async (level) => {
    const body = zlib.gzipSync(raw, { level });
    const block = clientBlock({ encoding: 'gzip', bytes: body }, raw.length, crc);
    expect(block?.codec).toBe('gzip');
    expect(block?.bytes).toBe(body);
    expect((await decompress('gzip', body, raw.length)).equals(raw)).toBe(true);
  });

  test('two members, trailing bytes, another length or CRC, or not gzip at all: refused', () => {
    const half = raw.length >> 1;
    const twoMembers = Buffer.concat([zlib.gzipSync(raw.subarray(0, half)), zlib.gzipSync(raw.subarray(half))]);
    const one = zlib.gzipSync(raw);
    expect(isWholeGzipMember(twoMembers, raw.length, crc)).toBe(false);
    expect(isWholeGzipMember(Buffer.concat([one, Buffer.from('xx')]), raw.length, crc)).toBe(false);
    expect(isWholeGzipMember(one, raw.length + 1, crc)).toBe(false);
    expect(isWholeGzipMember(one, raw.length, (crc + 1) >>> 0)).toBe(false);
    expect(isWholeGzipMember(zlib.deflateSync(raw), raw.length, crc)).toBe(false);
    const reservedFlag = Buffer.from(one);
    reservedFlag[3] = 0x20;
    expect(isWholeGzipMember(reservedFlag, raw.length, crc)).toBe(false);
    expect(isWholeGzipMember(Buffer.alloc(0), 0, 0)).toBe(false);
  });
});

describe('zstd', () => {
  test.each([
    { contentSize: true, checksum: false },
    { contentSize: false, checksum: true }, // what klauspost/compress (the Collector) writes
    { contentSize: true, checksum: true },
  ])('one frame %o, several blocks, is kept and reads back as the request', async (options) => {
    const body = zstdFrame(raw, options);
    expect(clientBlock({ encoding: 'zstd', bytes: body }, raw.length, crc)?.codec).toBe('zstd');
    expect((await decompress('zstd', body, raw.length)).equals(raw)).toBe(true);
  });

  test('a small single-segment frame is kept', () => {
    const small = raw.subarray(0, 300);
    const body = Buffer.from(zstd.compress(small));
    expect(body[4]! & 0x20).toBe(0x20);
    expect(isSingleZstdFrame(body, small.length)).toBe(true);
  });

  test('two frames, a skippable frame, trailing or missing bytes, another declared size: refused', () => {
    const half = raw.length >> 1;
    const one = zstdFrame(raw, { contentSize: true, checksum: true });
    const two = Buffer.concat([zstdFrame(raw.subarray(0, half), { contentSize: false, checksum: false }), zstdFrame(raw.subarray(half), { contentSize: false, checksum: false })]);
    const skippable = Buffer.alloc(12);
    skippable.writeUInt32LE(0x184d2a50, 0);
    skippable.writeUInt32LE(4, 4);
    expect(isSingleZstdFrame(two, raw.length)).toBe(false);
    expect(isSingleZstdFrame(Buffer.concat([skippable, one]), raw.length)).toBe(false);
    expect(isSingleZstdFrame(Buffer.concat([one, skippable]), raw.length)).toBe(false);
    expect(isSingleZstdFrame(Buffer.concat([one, Buffer.from([0])]), raw.length)).toBe(false);
    expect(isSingleZstdFrame(one.subarray(0, one.length - 1), raw.length)).toBe(false);
    expect(isSingleZstdFrame(one, raw.length - 1)).toBe(false);
    expect(isSingleZstdFrame(zlib.gzipSync(raw), raw.length)).toBe(false);
  });

  test('a dictionary id, the reserved bit or a window over 128 MiB: refused', () => {
    const one = zstdFrame(raw, { contentSize: false, checksum: false });
    const withDictionaryFlag = Buffer.from(one);
    withDictionaryFlag[4] = withDictionaryFlag[4]! | 1;
    expect(isSingleZstdFrame(withDictionaryFlag, raw.length)).toBe(false);
    const reserved = Buffer.from(one);
    reserved[4] = reserved[4]! | 0x08;
    expect(isSingleZstdFrame(reserved, raw.length)).toBe(false);
    // Window descriptor: exponent 18 → windowLog 28 (256 MiB), over the limit; 17 → 128 MiB, within it.
    expect(one[4]! & 0x20).toBe(0);
    const wide = Buffer.from(one);
    wide[5] = 18 << 3;
    expect(isSingleZstdFrame(wide, raw.length)).toBe(false);
    const limit = Buffer.from(one);
    limit[5] = 17 << 3;
    expect(2 ** 27).toBe(MAX_KEPT_ZSTD_WINDOW);
    expect(isSingleZstdFrame(limit, raw.length)).toBe(true);
  });
});

test('codings that are not archive codecs are never kept', () => {
  expect(clientBlock({ encoding: 'snappy', bytes: zlib.gzipSync(raw) }, raw.length, crc)).toBeNull();
  expect(clientBlock({ encoding: 'deflate', bytes: zlib.deflateSync(raw) }, raw.length, crc)).toBeNull();
  expect(clientBlock({ encoding: 'identity', bytes: raw }, raw.length, crc)).toBeNull();
});
