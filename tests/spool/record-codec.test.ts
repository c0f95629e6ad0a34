import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { CorruptDataError, PayloadTooLargeError } from '../../src/errors.js';
import type { RequestMeta } from '../../src/model.js';
import {
  MAX_HEADER_BYTES,
  PREFIX_BYTES,
  decodeMeta,
  decodePrefix,
  decodePrefixV1,
  encodeRecord,
  headerCrc,
} from '../../src/spool/record-codec.js';
import { frameAt, frameV1 } from './frames.js';
import { metaFor } from './helpers.js';

const SEQ = 7;
const OFFSET = 16;

function frameOf(meta: RequestMeta, payload: Buffer): Buffer {
  return frameAt(meta, payload, SEQ, OFFSET);
}

/** Decodes a format-2 frame placed at (SEQ, OFFSET), checking both CRCs the way the layout describes them. */
function decodeFrame(frame: Buffer, seq = SEQ, offset = OFFSET): { meta: RequestMeta; payload: Buffer; crcOk: boolean } {
  const prefix = decodePrefix(frame);
  if (!prefix) throw new Error('no prefix');
  const headerEnd = PREFIX_BYTES + prefix.headerLength;
  const payload = frame.subarray(headerEnd, prefix.length);
  const headerOk = headerCrc(frame.subarray(0, headerEnd), seq, offset) === prefix.crc;
  const payloadOk = (payload.length === 0 ? 0 : crc32(payload)) === prefix.payloadCrc;
  let meta: RequestMeta;
  try {
    meta = decodeMeta(frame.subarray(PREFIX_BYTES, headerEnd));
  } catch {
    return { meta: metaFor('unreadable'), payload, crcOk: false };
  }
  return { meta, payload, crcOk: headerOk && payloadOk };
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
    expect(encodeRecord(meta, payload).length).toBe(frame.length);
    const header = JSON.parse(frame.subarray(PREFIX_BYTES, PREFIX_BYTES + prefix.headerLength).toString('utf8'));
    expect(header.startNs).toBe('9223372036854775813');
    expect(header.endNs).toBe('18446744073709551615');
  });

  it("carries the payload's own CRC, computed once, in the frame", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), (bytes) => {
        const payload = Buffer.from(bytes);
        const record = encodeRecord(metaFor('c'), payload);
        expect(record.payloadCrc).toBe(payload.length === 0 ? 0 : crc32(payload));
        expect(decodeFrame(frameOf(metaFor('c'), payload)).crcOk).toBe(true);
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
          fingerprint: fc.option(fc.stringMatching(/^[0-9a-f]{16}$/), { nil: undefined }),
        }),
        fc.uint8Array({ maxLength: 2048 }),
        (generated, bytes) => {
          const { fingerprint, ...rest } = generated;
          const meta: RequestMeta = fingerprint === undefined ? rest : { ...rest, fingerprint };
          const decoded = decodeFrame(frameOf(meta, Buffer.from(bytes)));
          expect(decoded.crcOk).toBe(true);
          expect(decoded.meta).toEqual(meta);
          expect(decoded.payload.equals(Buffer.from(bytes))).toBe(true);
        },
      ),
    );
  });

  it('has a header CRC over lengths, payload CRC and meta, and a payload CRC over the payload', () => {
    const frame = frameOf(metaFor('x'), Buffer.alloc(100, 7));
    for (const at of [8, 12, 16, PREFIX_BYTES + 3, frame.length - 1]) {
      const damaged = Buffer.from(frame);
      damaged[at] = damaged[at]! ^ 0x01;
      const prefix = decodePrefix(damaged);
      if (!prefix) continue; // a damaged length may already make the prefix unreadable: also caught
      if (prefix.length > damaged.length) continue; // a longer length: caught as a torn frame
      expect(decodeFrame(damaged).crcOk).toBe(false);
    }
  });

  it("binds the header CRC to the frame's place: the same bytes elsewhere do not check out", () => {
    const frame = frameOf(metaFor('x'), Buffer.from('payload'));
    expect(decodeFrame(frame).crcOk).toBe(true);
    expect(decodeFrame(frame, SEQ, OFFSET + 1).crcOk).toBe(false);
    expect(decodeFrame(frame, SEQ + 1, OFFSET).crcOk).toBe(false);
  });

  it('reads format-1 prefixes (segments written before format 2) and tells the formats apart', () => {
    const v1 = frameV1(metaFor('old'), Buffer.from('payload'));
    const prefix = decodePrefixV1(v1)!;
    expect(prefix).toMatchObject({ prefixLength: 16, payloadLength: 7 });
    expect(prefix.length).toBe(v1.length);
    expect(decodePrefix(v1)).toBeNull();
    expect(decodePrefixV1(frameOf(metaFor('new'), Buffer.from('x')))).toBeNull();
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

  it('never writes a header longer than a reader accepts: such a request is refused as too large instead', () => {
    // 60,000 distinct service names of ~20 bytes: a 1.3 MB header, which the reader would take for garbage and
    // quarantine after the request had been acknowledged.
    const services = Array.from({ length: 60_000 }, (_, i) => `checkout-service-${i}`);
    const meta = { ...metaFor('many-services'), services };
    expect(() => encodeRecord(meta, Buffer.from('payload'))).toThrow(PayloadTooLargeError);
    expect(() => encodeRecord(meta, Buffer.from('payload'))).toThrow(/60000 distinct service\.name values, \d+ bytes\) is larger than a spool record's header holds/);
    const fits = { ...metaFor('fits'), services: services.slice(0, 1000) };
    const record = encodeRecord(fits, Buffer.from('payload'));
    expect(record.head.length - PREFIX_BYTES).toBeLessThanOrEqual(MAX_HEADER_BYTES);
    expect(decodeFrame(frameOf(fits, Buffer.from('payload'))).meta.services).toEqual(fits.services);
  });

  it('rejects a header that is not a request meta', () => {
    expect(() => decodeMeta(Buffer.from('{not json'))).toThrow(CorruptDataError);
    expect(() => decodeMeta(Buffer.from(JSON.stringify({ id: 'x' })))).toThrow(CorruptDataError);
    const good = JSON.parse(Buffer.from(JSON.stringify({ ...metaFor('x'), startNs: '1', endNs: '2' })).toString());
    expect(decodeMeta(Buffer.from(JSON.stringify(good))).startNs).toBe(1n);
    expect(() => decodeMeta(Buffer.from(JSON.stringify({ ...good, startNs: 1.5 })))).toThrow(CorruptDataError);
    expect(() => decodeMeta(Buffer.from(JSON.stringify({ ...good, signal: 'profiles' })))).toThrow(CorruptDataError);
    expect(() => decodeMeta(Buffer.from(JSON.stringify({ ...good, fingerprint: 'ABC' })))).toThrow(CorruptDataError);
    const fingerprint = '0123456789abcdef0123456789abcdef';
    expect(decodeMeta(Buffer.from(JSON.stringify({ ...good, fingerprint }))).fingerprint).toBe(fingerprint);
  });
});
