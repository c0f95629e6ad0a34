import { describe, expect, it } from '@jest/globals';
import { createUlidGenerator, isUlid, newUlid, ulidTimeMs } from '../../src/util/ulid.js';
import { InvalidArgumentError } from '../../src/errors.js';

describe('ULID', () => {
  it('is 26 Crockford base32 characters encoding the millisecond time', () => {
    const at = Date.UTC(2024, 1, 29, 12, 0, 0, 123);
    const id = newUlid(at);
    expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(isUlid(id)).toBe(true);
    expect(ulidTimeMs(id)).toBe(at);
    expect(ulidTimeMs(newUlid(0))).toBe(0);
    expect(ulidTimeMs(newUlid(2 ** 48 - 1))).toBe(2 ** 48 - 1);
    expect(newUlid(0).startsWith('0000000000')).toBe(true);
    expect(newUlid(2 ** 48 - 1).startsWith('7ZZZZZZZZZ')).toBe(true);
  });

  it('is strictly increasing within one millisecond', () => {
    const next = createUlidGenerator();
    const ids = Array.from({ length: 10_000 }, () => next(1_700_000_000_000));
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => ulidTimeMs(id) === 1_700_000_000_000)).toBe(true);
  });

  it('sorts by time across milliseconds and draws fresh randomness', () => {
    const next = createUlidGenerator();
    const a = next(1000);
    const b = next(1001);
    expect(a < b).toBe(true);
    // Two generators in the same millisecond: different random parts (80 bits: a clash would be a bug).
    expect(createUlidGenerator()(5).slice(10)).not.toBe(createUlidGenerator()(5).slice(10));
  });

  it('carries the increment across random characters', () => {
    const next = createUlidGenerator();
    let previous = next(7);
    for (let i = 0; i < 100_000; i++) {
      const id = next(7);
      if (!(id > previous)) throw new Error(`${id} is not after ${previous}`);
      previous = id;
    }
    expect(ulidTimeMs(previous)).toBe(7);
  });

  it('rejects times it cannot encode', () => {
    for (const bad of [-1, 2 ** 48, 1.5, Number.NaN]) expect(() => newUlid(bad)).toThrow(InvalidArgumentError);
    expect(() => ulidTimeMs('not-a-ulid')).toThrow(InvalidArgumentError);
  });
});
