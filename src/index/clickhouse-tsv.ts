// Rows for ClickHouse inserts as TabSeparated text. Why not JSONEachRow: on 18.16 the server's JSON parser is the
// bottleneck of the index's insert path (100 k request rows: 45 MB of JSON, 1.4-2.1 s to insert; the same rows as TSV:
// 21 MB, 0.7-1.1 s). Why hand-written: this encoder runs over every index row the flusher sends (the hot path of
// the index writer), so it does one pass per field with a fast check for the common case (nothing to escape) instead
// of building per-value closures or going through a generic CSV/TSV library.
//
// The text format both generations read (18.16 and current, checked by tests/index/clickhouse-insert.int.test.ts):
// - a row is its fields separated by tab and ended by a newline;
// - a String field is escaped: backslash, tab, newline and every other control character become backslash escapes
//   (\\ \t \n \r \0 \b \f, others \xHH); the quote is escaped too (\'), harmless in a plain field and required inside
//   arrays; every other character goes as UTF-8. (A lone UTF-16 surrogate, which decoded protobuf never yields, is
//   written as U+FFFD by the UTF-8 encoding.) A backslash is never written unescaped, so `\N` (TSV's NULL, which
//   18.16 reads as '') cannot appear;
// - an Array(String) field is the array literal ['a','b'] with each element escaped as above. ClickHouse reads an
//   array field of TSV directly as that literal — it does NOT unescape the field first — so the literal is not
//   escaped a second time; it holds no raw tab or newline, so the row's framing stays intact;
// - integers in decimal. 64-bit values arrive as decimal strings (clickhouse-rows.ts), which are checked, not parsed,
//   so nothing passes through a double.
// A missing value (undefined or null) is written as its type's default ('' / 0 / []), as JSONEachRow fills a missing
// key: rows an older build queued in the outbox may lack a column added since.

import { Readable } from 'node:stream';
import { InvalidArgumentError } from '../errors.js';
import { escapeChar } from './clickhouse-sql.js';

/** How a column's values are written: String (also LowCardinality), any integer type, Array(String). */
export type ColumnKind = 'string' | 'int' | 'strings';

/** The columns of an insert, in the order the fields of each row are written. */
export type InsertColumns = readonly (readonly [name: string, kind: ColumnKind])[];

/** Characters a field must not carry raw: backslash, quote, C0 controls and DEL. */
const NEEDS_ESCAPE = /[\\'\x00-\x1f\x7f]/;
const ESCAPE_ALL = /[\\'\x00-\x1f\x7f]/g;
const DECIMAL = /^-?[0-9]{1,20}$/;

/** A String value as one TSV field. */
export function tsvString(value: string): string {
  return NEEDS_ESCAPE.test(value) ? value.replace(ESCAPE_ALL, escapeChar) : value;
}

/** An Array(String) value as one TSV field: the quoted array literal, elements escaped (see the header). */
export function tsvStrings(values: readonly string[]): string {
  if (values.length === 0) return '[]';
  let out = "['";
  for (let i = 0; i < values.length; i++) {
    const item = values[i];
    if (typeof item !== 'string') throw new InvalidArgumentError(`array element ${i} is ${describe(item)}, not a string`);
    out += (i === 0 ? '' : "','") + tsvString(item);
  }
  return `${out}']`;
}

/** An integer as one TSV field: a safe integer, a bigint, or a decimal string (64-bit values travel as strings). */
export function tsvInt(value: string | number | bigint): string {
  if (typeof value === 'string') {
    if (!DECIMAL.test(value)) throw new InvalidArgumentError(`expected a decimal integer, got ${describe(value)}`);
    return value;
  }
  if (typeof value === 'bigint') return value.toString();
  if (!Number.isSafeInteger(value)) throw new InvalidArgumentError(`expected an exact integer, got ${describe(value)}`);
  return String(value);
}

function field(value: unknown, kind: ColumnKind, column: string): string {
  if (value === undefined || value === null) return kind === 'strings' ? '[]' : kind === 'int' ? '0' : '';
  try {
    if (kind === 'string') {
      if (typeof value !== 'string') throw new InvalidArgumentError(`expected a string, got ${describe(value)}`);
      return tsvString(value);
    }
    if (kind === 'int') {
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'bigint') {
        throw new InvalidArgumentError(`expected an integer, got ${describe(value)}`);
      }
      return tsvInt(value);
    }
    if (!Array.isArray(value)) throw new InvalidArgumentError(`expected an array of strings, got ${describe(value)}`);
    return tsvStrings(value);
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw new InvalidArgumentError(`column ${column}: ${error.message}`);
    throw error;
  }
}

/**
 * Checks that every value fits its column, without encoding: a streamed insert that fails half-way has already sent
 * rows, so the caller checks the whole batch first and fails it whole, before anything is sent.
 * @throws InvalidArgumentError naming the row and column of the first value that does not fit
 */
export function checkRows(rows: readonly object[], columns: InsertColumns): void {
  for (let r = 0; r < rows.length; r++) {
    const values = rows[r] as Record<string, unknown>;
    for (const [name, kind] of columns) {
      const value = values[name];
      if (value === undefined || value === null || fits(value, kind)) continue;
      try {
        field(value, kind, name);
      } catch (error) {
        if (error instanceof InvalidArgumentError) throw new InvalidArgumentError(`row ${r}: ${error.message}`);
        throw error;
      }
      throw new InvalidArgumentError(`row ${r}: column ${name}: ${describe(value)} does not fit a ${kind} column`);
    }
  }
}

function fits(value: unknown, kind: ColumnKind): boolean {
  if (kind === 'string') return typeof value === 'string';
  if (kind === 'int') {
    if (typeof value === 'string') return DECIMAL.test(value);
    return typeof value === 'bigint' || Number.isSafeInteger(value);
  }
  if (!Array.isArray(value)) return false;
  for (const item of value) if (typeof item !== 'string') return false;
  return true;
}

/** One row as a TSV line (newline included); keys not among `columns` are ignored. */
export function tsvRow(row: object, columns: InsertColumns): string {
  const values = row as Record<string, unknown>;
  let line = '';
  for (let i = 0; i < columns.length; i++) {
    const [name, kind] = columns[i]!;
    line += (i === 0 ? '' : '\t') + field(values[name], kind, name);
  }
  return `${line}\n`;
}

/** Rows per chunk of a streamed insert: a few hundred KB, so encoding the next chunk overlaps sending this one. */
export const ROWS_PER_CHUNK = 2000;

/**
 * The rows as UTF-8 TSV, ROWS_PER_CHUNK rows per buffer, encoded lazily as they are read. The whole batch is checked
 * first (checkRows), here, before the first chunk: so the encoding loop skips the per-value checks and dispatch of
 * tsvRow (it is the hot part of an insert), and a bad value fails the batch before any of it is sent.
 * @throws InvalidArgumentError at once when a value does not fit its column
 */
export function tsvChunks(rows: readonly object[], columns: InsertColumns, rowsPerChunk = ROWS_PER_CHUNK): Iterable<Buffer> {
  checkRows(rows, columns);
  return encodeChecked(rows, columns, rowsPerChunk);
}

function* encodeChecked(rows: readonly object[], columns: InsertColumns, rowsPerChunk: number): Generator<Buffer> {
  const names = columns.map(([name]) => name);
  const kinds = columns.map(([, kind]) => kind);
  for (let start = 0; start < rows.length; start += rowsPerChunk) {
    const end = Math.min(rows.length, start + rowsPerChunk);
    let text = '';
    for (let r = start; r < end; r++) {
      const values = rows[r] as Record<string, unknown>;
      for (let i = 0; i < names.length; i++) {
        const value = values[names[i]!];
        const kind = kinds[i];
        let out: string;
        if (value === undefined || value === null) out = kind === 'strings' ? '[]' : kind === 'int' ? '0' : '';
        else if (kind === 'string') out = tsvString(value as string);
        else if (kind === 'int') out = typeof value === 'string' ? value : String(value);
        else out = tsvStrings(value as string[]);
        text += i === 0 ? out : `\t${out}`;
      }
      text += '\n';
    }
    yield Buffer.from(text, 'utf8');
  }
}

/** A byte stream (not object mode, as @clickhouse/client wants for raw formats) of the rows as TSV, checked first. */
export function tsvStream(rows: readonly object[], columns: InsertColumns): Readable {
  return Readable.from(tsvChunks(rows, columns), { objectMode: false });
}

/** `INSERT INTO table (a, b, …) FORMAT TabSeparated`: the statement the rows follow. */
export function tsvInsertStatement(table: string, columns: InsertColumns): string {
  return `INSERT INTO ${table} (${columns.map(([name]) => name).join(', ')}) FORMAT TabSeparated`;
}

function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}
