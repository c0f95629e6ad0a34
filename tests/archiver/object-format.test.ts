import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import zlib from 'node:zlib';
import {
  BLOCK_HEADER_SIZE,
  FORMAT_VERSION,
  OBJECT_HEADER_SIZE,
  TRAILER_SIZE,
  decodeBlockHeader,
  encodeBlockHeader,
} from '../../src/archiver/object-format.js';
import { ObjectBuilder } from '../../src/archiver/object-builder.js';
import { CorruptDataError } from '../../src/errors.js';
import { payload, requestMeta, tempStore } from './fixtures.js';
import type { TempStore } from './fixtures.js';

describe('archive object format', () => {
  let temp: TempStore;
  beforeEach(async () => {
    temp = await tempStore();
  });
  afterEach(() => temp.cleanup());

  it('block headers round-trip and refuse a bad magic or codec', () => {
    const block = { codec: 'brotli' as const, rawLength: 0xfffffffe, storedLength: 12, crc32: 0xdeadbeef };
    const bytes = encodeBlockHeader(block);
    expect(bytes).toHaveLength(BLOCK_HEADER_SIZE);
    expect(decodeBlockHeader(bytes)).toEqual(block);
    const badCodec = Buffer.from(bytes);
    badCodec[4] = 9;
    expect(() => decodeBlockHeader(badCodec)).toThrow(CorruptDataError);
    expect(() => decodeBlockHeader(Buffer.alloc(BLOCK_HEADER_SIZE))).toThrow(CorruptDataError);
  });

  it('lays an object out as header, blocks, gzip manifest, fixed trailer', async () => {
    const key = 'layout/object.otlpc';
    const b = new ObjectBuilder({ key, tenant: 'acme', signal: 'logs', codec: 'gzip', writer: temp.store.createWriter(key), nowMs: 5 });
    const raw = payload(1234);
    await b.append(requestMeta(raw, { tenant: 'acme', signal: 'logs', startNs: 2n ** 60n + 7n }), raw);
    const { object } = await b.finish(6);
    const bytes = fs.readFileSync(temp.store.pathOf(key));
    expect(bytes.length).toBe(object.storedBytes);
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('OTCH');
    expect(bytes.readUInt16BE(4)).toBe(FORMAT_VERSION);
    expect(bytes.subarray(OBJECT_HEADER_SIZE, OBJECT_HEADER_SIZE + 4).toString('latin1')).toBe('OTCB');
    const trailer = bytes.subarray(bytes.length - TRAILER_SIZE);
    expect(trailer.subarray(24).toString('latin1')).toBe('OTCT');
    const manifestOffset = Number(trailer.readBigUInt64BE(0));
    const manifest = zlib.gunzipSync(bytes.subarray(manifestOffset, bytes.length - TRAILER_SIZE));
    expect(zlib.crc32(manifest)).toBe(trailer.readUInt32BE(16));
    // Readable with standard tools: plain JSON, bigints as decimal strings.
    const json = JSON.parse(manifest.toString('utf8')) as { version: number; requests: { startNs: string }[] };
    expect(json.version).toBe(FORMAT_VERSION);
    expect(json.requests[0]!.startNs).toBe((2n ** 60n + 7n).toString());
  });
});
