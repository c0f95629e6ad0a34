import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { CorruptDataError } from '../../src/errors.js';
import type { RequestMeta } from '../../src/model.js';
import {
  PREFIX_BYTES,
  continueCrc,
  crcOfPrefixAndHeader,
  decodeMeta,
  decodePrefix,
  encodeRecord,
} from '../../src/spool/record-codec.js';
import { metaFor } from './helpers.js';

function frameOf(meta: RequestMeta, payload: Buffer): Buffer {
  const record = encodeRecord(meta, payload);
  return Buffer.concat([record.head, record.payload]);
}

function decodeFrame(frame: Buffer): { meta: RequestMeta; payload: Buffer; crcOk: boolean } {
  const prefix = decodePrefix(frame);
  if (!prefix) throw new Error('no prefix');
  const headerEnd = PREFIX_BYTES + prefix.headerLength;
  const crc = continueCrc(frame.subarray(headerEnd), crcOfPrefixAndHeader(frame.subarray(0, headerEnd)));
  return {
    meta: decodeMeta(frame.subarray(PREFIX_BYTES, headerEnd)),
    payload: frame.subarray(headerEnd, prefix.length),
    crcOk: crc === prefix.crc,
  };
}

describe('record codec', () => {
  it('round-trips meta and payload, with bigints stored as decimal strings', () => {
    const meta = metaFor('01JABCDEF', { startNs: 2n ** 63n + 5n, endNs: 18_446_744_073_709_551_615n });
    const payload = Buffer.from('hello spool');
    const frame = frameOf(meta, payload);
    const decoded = decodeFrame(frame);
    expect(decoded.crcOk).toBe(true);
    expect(decoded.meta).toEqual(meta);
    expect(decoded.payload.equals(payload)).toBe(true);
    const prefix = decodePrefix(frame)!;
    const header = JSON.parse(frame.subarray(PREFIX_BYTES, PREFIX_BYTES + prefix.headerLength).toString('utf8'));
    expect(header.startNs).toBe('9223372036854775813');
    expect(header.endNs).toBe('18446744073709551615');
  });

  it("carries the payload's own CRC, computed in the same pass as the frame's (format unchanged)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), (bytes) => {
        const payload = Buffer.from(bytes);
        const record = encodeRecord(metaFor('c'), payload);
        expect(record.payloadCrc).toBe(payload.length === 0 ? 0 : crc32(payload));
        // decodeFrame checks the frame CRC the original way: header CRC continued over the payload bytes.
        expect(decodeFrame(Buffer.concat([record.head, record.payload])).crcOk).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps the CRC of an empty payload whatever buffer it comes in', () => {
    // randomBytes(0) is backed by a zero-length ArrayBuffer, on which Node 20's zlib.crc32 ignores its seed.
    for (const empty of [randomBytes(0), Buffer.alloc(0), Buffer.from('abc').subarray(3)]) {
      expect(decodeFrame(frameOf(metaFor('e'), empty)).crcOk).toBe(true);
    }
  });

  it('round-trips arbitrary metas and payloads', () => {
    fc.assert(
      fc.property(
        fc.record({
          id: fc.string(),
          tenant: fc.string(),
          signal: fc.constantFrom('traces' as const, 'metrics' as const, 'logs' as const),
          receivedAtMs: fc.integer({ min: 0 }),
          items: fc.nat(),
          services: fc.array(fc.string()),
          startNs: fc.bigInt(0n, 2n ** 64n - 1n),
          endNs: fc.bigInt(0n, 2n ** 64n - 1n),
          rawBytes: fc.nat(),
        }),
        fc.uint8Array({ maxLength: 2048 }),
        (meta, bytes) => {
          const decoded = decodeFrame(frameOf(meta, Buffer.from(bytes)));
          expect(decoded.crcOk).toBe(true);
          expect(decoded.meta).toEqual(meta);
          expect(decoded.payload.equals(Buffer.from(bytes))).toBe(true);
        },
      ),
    );
  });

  it('has a CRC that catches a change anywhere after the CRC field', () => {
    const frame = frameOf(metaFor('x'), Buffer.alloc(100, 7));
    for (const at of [8, 12, PREFIX_BYTES + 3, frame.length - 1]) {
      const damaged = Buffer.from(frame);
      damaged[at] = damaged[at]! ^ 0x01;
      const prefix = decodePrefix(damaged);
      if (!prefix) continue; // a damaged length may already make the prefix unreadable: also caught
      const headerEnd = PREFIX_BYTES + prefix.headerLength;
      const body = damaged.subarray(headerEnd, Math.min(prefix.length, damaged.length));
      const crc = continueCrc(body, crcOfPrefixAndHeader(damaged.subarray(0, headerEnd)));
      expect(crc === prefix.crc && prefix.length === frame.length).toBe(false);
    }
  });

  it('refuses a prefix with a bad magic or an absurd header length', () => {
    const frame = frameOf(metaFor('x'), Buffer.alloc(4));
    expect(decodePrefix(frame)).not.toBeNull();
    const badMagic = Buffer.from(frame);
    badMagic[0] = 0;
    expect(decodePrefix(badMagic)).toBeNull();
    const hugeHeader = Buffer.from(frame);
    hugeHeader.writeUInt32BE(0x7fffffff, 8);
    expect(decodePrefix(hugeHeader)).toBeNull();
    expect(decodePrefix(Buffer.alloc(PREFIX_BYTES))).toBeNull();
  });

  it('rejects a header that is not a request meta', () => {
    expect(() => decodeMeta(Buffer.from('{not json'))).toThrow(CorruptDataError);
    expect(() => decodeMeta(Buffer.from(JSON.stringify({ id: 'x' })))).toThrow(CorruptDataError);
    const good = JSON.parse(Buffer.from(JSON.stringify({ ...metaFor('x'), startNs: '1', endNs: '2' })).toString());
    expect(decodeMeta(Buffer.from(JSON.stringify(good))).startNs).toBe(1n);
    expect(() => decodeMeta(Buffer.from(JSON.stringify({ ...good, startNs: 1.5 })))).toThrow(CorruptDataError);
    expect(() => decodeMeta(Buffer.from(JSON.stringify({ ...good, signal: 'profiles' })))).toThrow(CorruptDataError);
  });
});
