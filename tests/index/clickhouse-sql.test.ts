// The one escaping function, as text. (Round trips through real servers: clickhouse-index-store.int.test.ts and
// clickhouse-sql-compat.int.test.ts.)
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { InvalidArgumentError } from '../../src/errors.js';
import { identifier, literal } from '../../src/index/clickhouse-sql.js';

describe('literal', () => {
  it('quotes strings and escapes quote, backslash and every control character', () => {
    expect(literal('')).toBe("''");
    expect(literal("it's")).toBe("'it\\'s'");
    expect(literal('a\\b')).toBe("'a\\\\b'");
    expect(literal("'; DROP TABLE x; --")).toBe("'\\'; DROP TABLE x; --'");
    expect(literal('\0\n\r\t\b\f')).toBe("'\\0\\n\\r\\t\\b\\f'");
    expect(literal('\x01\x1b\x1f\x7f')).toBe("'\\x01\\x1b\\x1f\\x7f'");
    expect(literal('Grüße 👍🏽')).toBe("'Grüße 👍🏽'");
  });

  it('never leaves an unescaped quote or a raw control character (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (text) => {
        const sql = literal(text);
        expect(sql.startsWith("'") && sql.endsWith("'")).toBe(true);
        const body = sql.slice(1, -1);
        // Every quote inside is escaped: walking escapes, no bare quote remains.
        const bare = body.replace(/\\(x[0-9a-f]{2}|.)/gs, '');
        expect(bare).not.toMatch(/['\\\x00-\x1f\x7f]/);
      }),
      { numRuns: 500 },
    );
  });

  it('writes exact integers only', () => {
    expect(literal(0)).toBe('0');
    expect(literal(-42)).toBe('-42');
    expect(literal(2n ** 64n - 1n)).toBe('18446744073709551615');
    expect(literal(-(2n ** 63n))).toBe('-9223372036854775808');
    expect(() => literal(2n ** 64n)).toThrow(InvalidArgumentError);
    expect(() => literal(-(2n ** 63n) - 1n)).toThrow(InvalidArgumentError);
    expect(() => literal(1.5)).toThrow(InvalidArgumentError);
    expect(() => literal(Number.NaN)).toThrow(InvalidArgumentError);
    expect(() => literal(2 ** 53)).toThrow(InvalidArgumentError);
  });

  it('writes arrays of strings element by element', () => {
    expect(literal([])).toBe('[]');
    expect(literal(["a'", 'b'])).toBe("['a\\'', 'b']");
  });

  it('refuses strings that UTF-8 cannot carry (lone surrogates)', () => {
    expect(() => literal('a\uD800b')).toThrow(InvalidArgumentError);
    expect(() => literal('\uDC00')).toThrow(InvalidArgumentError);
    expect(literal('\uD83D\uDC4D')).toBe("'👍'");
  });
});

describe('identifier', () => {
  it('accepts plain names and rejects anything that would need quoting', () => {
    expect(identifier('otlp_capture')).toBe('otlp_capture');
    expect(identifier('_x9')).toBe('_x9');
    for (const bad of ['', '9db', 'a-b', 'a.b', 'a b', 'x`; DROP', "x'", 'a'.repeat(64)]) {
      expect(() => identifier(bad)).toThrow(InvalidArgumentError);
    }
  });
});
