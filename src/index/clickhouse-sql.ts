// SQL text for ClickHouse. 18.16 has no query parameters, so every value that goes into SQL text goes through
// `literal` — the one escaping function — and every name through `identifier`, which only accepts plain names.
// (Rows for INSERT travel as TabSeparated data in the request body, never as SQL text: clickhouse-tsv.ts.)

import { InvalidArgumentError } from '../errors.js';
import { hasLoneSurrogate } from '../util/unicode.js';

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

/** Byte escapes the ClickHouse lexer understands in '…' literals, for characters that must not appear raw. */
const ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\0': '\\0',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

/** One character as the lexer's escape; TSV fields use the same escapes (clickhouse-tsv.ts). */
export function escapeChar(char: string): string {
  return ESCAPES[char] ?? `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

export type SqlValue = string | number | bigint | readonly string[];

/**
 * A ClickHouse literal for a value: strings single-quoted with backslash escapes (quote, backslash and every
 * control character escaped; other characters as UTF-8), integers in decimal (only exact ones: safe integers,
 * bigints within Int64..UInt64), arrays of strings as [..]. Valid on 18.16 and on current ClickHouse alike.
 */
export function literal(value: SqlValue): string {
  if (typeof value === 'string') {
    if (hasLoneSurrogate(value)) {
      throw new InvalidArgumentError('string value has a lone UTF-16 surrogate and cannot be written as UTF-8');
    }
    return `'${value.replace(/[\\'\x00-\x1f\x7f]/g, escapeChar)}'`;
  }
  if (typeof value === 'bigint') {
    if (value < INT64_MIN || value > UINT64_MAX) throw new InvalidArgumentError(`integer ${value} is outside Int64/UInt64`);
    return value.toString();
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new InvalidArgumentError(`expected an exact integer, got ${value}`);
    return String(value);
  }
  return `[${value.map((item) => literal(item)).join(', ')}]`;
}

/** Database and table names: plain identifiers only, so they never need quoting. */
export function identifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) {
    throw new InvalidArgumentError(
      `ClickHouse name ${JSON.stringify(name)} must be 1-63 of A-Z a-z 0-9 _ and not start with a digit`,
    );
  }
  return name;
}
