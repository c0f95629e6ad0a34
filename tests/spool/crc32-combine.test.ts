import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { crc32 } from 'node:zlib';
import { crc32Combine } from '../../src/spool/crc32-combine.js';

describe('crc32Combine', () => {
  it('equals the CRC-32 of the concatenation, for any two parts', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 3000 }), (a, b) => {
        const left = Buffer.from(a);
        const right = Buffer.from(b);
        const whole = crc32(Buffer.concat([left, right]));
        expect(crc32Combine(crc32(left), crc32(right), right.length)).toBe(whole);
      }),
      { numRuns: 500 },
    );
  });

  it('handles parts of a MiB and more, and an empty second part', () => {
    const head = Buffer.from('header bytes');
    const body = Buffer.alloc((1 << 20) + 12345, 0xa7);
    body.writeUInt32BE(0xdeadbeef, 777);
    expect(crc32Combine(crc32(head), crc32(body), body.length)).toBe(crc32(Buffer.concat([head, body])));
    expect(crc32Combine(crc32(head), 0, 0)).toBe(crc32(head));
    expect(crc32Combine(0, crc32(body), body.length)).toBe(crc32(body));
  });
});
