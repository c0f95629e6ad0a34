// The README's Parquet schema tables must list every column the export writes, with its type.
import { readFileSync } from 'node:fs';
import { TABLES, type ColumnKind } from '../../src/export/tables.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const TYPES: Record<ColumnKind, string> = {
  string: 'STRING',
  timestamp: 'TIMESTAMP(MICROS, UTC)',
  int64: 'INT64',
  int32: 'INT32',
  double: 'DOUBLE',
  bool: 'BOOLEAN',
  map: 'MAP<STRING, STRING>',
  int64_list: 'LIST<INT64>',
  double_list: 'LIST<DOUBLE>',
};

it.each(Object.values(TABLES).flatMap((table) => table.columns.map((column) => [table.signal, column.name, column.kind] as const)))(
  '%s.%s is documented as %s',
  (_signal, name, kind) => {
    expect(README).toContain(`| \`${name}\` | ${TYPES[kind]} |`);
  },
);

it('documents each table under its signal', () => {
  for (const signal of Object.keys(TABLES)) expect(README).toContain(`\`signal=${signal}\`: one row per`);
});
