// The TabSeparated encoder of index inserts, as text, and back through a reader written here after ClickHouse's
// rules (readEscapedString for fields, the quoted literal for arrays). What the real servers read from it:
// clickhouse-insert.int.test.ts.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { InvalidArgumentError } from '../../src/errors.js';
import { INSERT_COLUMNS, REQUEST_COLUMNS, requestRow } from '../../src/index/clickhouse-rows.js';
import {
  checkRows,
  tsvChunks,
  tsvInsertStatement,
  tsvInt,
  tsvRow,
  tsvStream,
  tsvString,
  tsvStrings,
  type InsertColumns,
} from '../../src/index/clickhouse-tsv.js';
import { makeObject } from './index-store-contract.js';

const SIMPLE: Record<string, string> = { '0': '\0', n: '\n', r: '\r', t: '\t', b: '\b', f: '\f' };

/** ClickHouse's escape sequences: \x HH, the named controls, anything else stands for itself. */
function unescape(text: string): string {
  return text.replace(/\\(x[0-9a-fA-F]{2}|[\s\S])/g, (_, e: string) => (e.length === 3 ? String.fromCharCode(parseInt(e.slice(1), 16)) : SIMPLE[e] ?? e));
}

/** A TSV field read as ClickHouse reads a String: up to the next raw tab or newline, then unescaped. */
function readString(field: string): string {
  expect(field).not.toMatch(/[\t\n]/);
  return unescape(field);
}

/** An Array(String) field read as ClickHouse reads it in TSV: the quoted literal itself, not unescaped first. */
function readStrings(field: string): string[] {
  expect(field.startsWith('[') && field.endsWith(']')).toBe(true);
  const body = field.slice(1, -1);
  if (body === '') return [];
  const items: string[] = [];
  const item = /'((?:\\[\s\S]|[^'\\])*)'(,|$)/y;
  for (let at = 0; at < body.length; ) {
    item.lastIndex = at;
    const match = item.exec(body);
    expect(match).not.toBeNull();
    items.push(unescape(match![1]!));
    at = item.lastIndex;
  }
  return items;
}

describe('tsvString', () => {
  it('passes plain text and UTF-8 through, escapes backslash, quote and every control character', () => {
    expect(tsvString('')).toBe('');
    expect(tsvString('checkout-service/v1.2')).toBe('checkout-service/v1.2');
    expect(tsvString('Grüße 日本 👍🏽')).toBe('Grüße 日本 👍🏽');
    expect(tsvString('a\\b')).toBe('a\\\\b');
    expect(tsvString("it's")).toBe("it\\'s");
    expect(tsvString('\t\n\r\0\b\f')).toBe('\\t\\n\\r\\0\\b\\f');
    expect(tsvString('\x01\x1b\x1f\x7f')).toBe('\\x01\\x1b\\x1f\\x7f');
    // Never a bare backslash before N: TSV's NULL (read as '' by 18.16) cannot come out of a string.
    expect(tsvString('\\N')).toBe('\\\\N');
  });

  it('round-trips any text and never leaves a raw tab, newline or lone backslash (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
        const field = tsvString(text);
        expect(field).not.toMatch(/[\t\n\r\0]/);
        expect(field.replace(/\\(x[0-9a-f]{2}|.)/gs, '')).not.toMatch(/[\\'\x00-\x1f\x7f]/);
        expect(readString(field)).toBe(text);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('tsvStrings', () => {
  it('writes the quoted array literal, elements escaped once (not the literal as a whole)', () => {
    expect(tsvStrings([])).toBe('[]');
    expect(tsvStrings([''])).toBe("['']");
    expect(tsvStrings(['a', 'b'])).toBe("['a','b']");
    expect(tsvStrings(["it's", 'back\\slash', 'tab\there', "','"])).toBe("['it\\'s','back\\\\slash','tab\\there','\\',\\'']");
  });

  it('round-trips any array of strings (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 40 }), { maxLength: 8 }), (items) => {
        const field = tsvStrings(items);
        expect(field).not.toMatch(/[\t\n]/);
        expect(readStrings(field)).toEqual(items);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses a non-string element', () => {
    expect(() => tsvStrings(['a', 7 as never])).toThrow(InvalidArgumentError);
  });
});

describe('tsvInt', () => {
  it('writes exact integers in decimal: numbers, bigints, decimal strings beyond 2^53', () => {
    expect(tsvInt(0)).toBe('0');
    expect(tsvInt(-42)).toBe('-42');
    expect(tsvInt(2n ** 64n - 1n)).toBe('18446744073709551615');
    expect(tsvInt('18446744073709551615')).toBe('18446744073709551615');
    expect(tsvInt('-9223372036854775808')).toBe('-9223372036854775808');
  });

  it('refuses anything else, which could break the row', () => {
    for (const bad of ['', '1.5', '1e3', ' 1', '1\t2', '0x10', '123456789012345678901', 'NaN']) {
      expect(() => tsvInt(bad)).toThrow(InvalidArgumentError);
    }
    for (const bad of [1.5, Number.NaN, Infinity, 2 ** 53]) expect(() => tsvInt(bad)).toThrow(InvalidArgumentError);
  });
});

describe('rows', () => {
  const columns: InsertColumns = [
    ['name', 'string'],
    ['n', 'int'],
    ['tags', 'strings'],
  ];

  it('writes the columns in order, ignores other keys, and fills a missing value with its default', () => {
    expect(tsvRow({ tags: ['x'], n: '5', name: 'a\tb', extra: 'ignored' }, columns)).toBe("a\\tb\t5\t['x']\n");
    expect(tsvRow({}, columns)).toBe('\t0\t[]\n');
    expect(tsvInsertStatement('db.t', columns)).toBe('INSERT INTO db.t (name, n, tags) FORMAT TabSeparated');
  });

  it('names the row and column of a value that does not fit, before anything is encoded', () => {
    const rows = [{ name: 'a', n: 1, tags: [] }, { name: 'b', n: '12abc', tags: [] }];
    expect(() => checkRows(rows, columns)).toThrow(/row 1: column n: expected a decimal integer, got "12abc"/);
    expect(() => checkRows([{ name: 5 }], columns)).toThrow(/row 0: column name: expected a string/);
    expect(() => checkRows([{ tags: 'x' }], columns)).toThrow(/row 0: column tags: expected an array of strings/);
    expect(() => checkRows([{ tags: ['x', null] }], columns)).toThrow(InvalidArgumentError);
    expect(() => checkRows([{ name: 'a', n: '18446744073709551615', tags: ['x'] }, {}], columns)).not.toThrow();
  });

  it('chunks rows into buffers of whole lines, and streams them as bytes', async () => {
    const rows = Array.from({ length: 7 }, (_, i) => ({ name: `é${i}`, n: i, tags: [] }));
    const chunks = [...tsvChunks(rows, columns, 3)];
    expect(chunks.map((c) => c.toString('utf8').split('\n').length - 1)).toEqual([3, 3, 1]);
    const streamed: Buffer[] = [];
    const stream = tsvStream(rows, columns);
    expect(stream.readableObjectMode).toBe(false);
    for await (const chunk of stream) streamed.push(chunk as Buffer);
    expect(Buffer.concat(streamed).toString('utf8')).toBe(rows.map((r) => tsvRow(r, columns)).join(''));
    // A bad value anywhere fails at once, before a single chunk could be read (and sent).
    const bad = [...rows, { name: 'x', n: '1\n2', tags: [] }];
    expect(() => tsvChunks(bad, columns, 3)).toThrow(/row 7: column n/);
    expect(() => tsvStream(bad, columns)).toThrow(InvalidArgumentError);
  });

  it('writes a request row with every column of the read list plus version, values read back equal', () => {
    const [request] = makeObject('acme', 'traces', [{ services: ["svc'\t\n\\", ''], startNs: 2n ** 62n + 7n }]).requests;
    const row = requestRow(request!, 1234);
    const columns = INSERT_COLUMNS.requests;
    expect(columns.map(([name]) => name)).toEqual([...REQUEST_COLUMNS, 'version']);
    const fields = tsvRow(row, columns).slice(0, -1).split('\t');
    expect(fields).toHaveLength(columns.length);
    const back = Object.fromEntries(columns.map(([name, kind], i) => [name, kind === 'strings' ? readStrings(fields[i]!) : readString(fields[i]!)]));
    const values = row as unknown as Record<string, unknown>;
    expect(back).toEqual(Object.fromEntries(columns.map(([name, kind]) => [name, kind === 'int' ? String(values[name]) : values[name]])));
    expect(back.services).toEqual(["svc'\t\n\\", '']);
  });
});
