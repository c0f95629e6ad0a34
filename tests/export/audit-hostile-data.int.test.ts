// Data a sender controls, as hostile as the ingest scanner lets through (it refuses ids of the wrong length and
// nesting past 100 messages, but not invalid UTF-8, odd timestamps or repeated keys), exported to Parquet and OTLP
// JSON and read back by DuckDB, a strict reader (it refuses a file whose strings are not UTF-8): every file must
// read, every item must be a row, and each value must follow the README's mapping.
import { isUtf8 } from 'node:buffer';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { ExportOptions } from '../../src/export/export-engine.js';
import { buildArchive, type BuiltArchive, type CapturedEntry } from '../helpers/archive-builder.js';
import { wire } from '../helpers/otlp-payloads.js';
import { exportInto } from './engine-fixtures.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-audit-hostile-')); });
afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

const T0 = BigInt(Date.parse('2024-03-01T09:10:00Z')) * 1_000_000n;
// 'a', two bytes that never occur in UTF-8, an encoded surrogate (CESU-8), NUL, 'b'.
const BAD = [0x61, 0xff, 0xfe, 0xed, 0xa0, 0x80, 0x00, 0x62];
/** What a WHATWG decoder makes of BAD (U+FFFD per maximal invalid subpart): the export's documented replacement. */
const BAD_TEXT = new TextDecoder().decode(Uint8Array.from(BAD));
const any = {
  str: (b: number[] | Uint8Array) => wire.len(1, b),
  bool: (v: number) => wire.uvarint(2, v),
  int: (v: bigint) => wire.uvarint(3, v),
  dbl: (v: number) => { const b = Buffer.alloc(8); b.writeDoubleLE(v); return [...wire.tag(4, 1), ...b]; },
  arr: (...vals: number[][]) => wire.len(5, ...vals.map((v) => wire.len(1, v))),
  kv: (...kvs: number[][]) => wire.len(6, ...kvs.map((k) => wire.len(1, k))),
  bytes: (b: number[]) => wire.len(7, b),
};
const kv = (key: number[] | string, value?: number[]) => [...(typeof key === 'string' ? wire.string(1, key) : wire.len(1, key)), ...(value === undefined ? [] : wire.len(2, value))];
function deep(n: number): number[] { let v = any.str(Buffer.from('x')); for (let i = 0; i < n; i++) v = any.arr(v); return v; }

function attrs(field: number): number[] {
  return [
    ...wire.len(field, kv('bad', any.str(BAD))),
    ...wire.len(field, kv(BAD, any.str(Buffer.from('badkey')))),
    ...wire.len(field, kv([0x61, 0xff], any.str(Buffer.from('k1')))),
    ...wire.len(field, kv([0x61, 0xfe], any.str(Buffer.from('k2')))),
    ...wire.len(field, kv('bytes', any.bytes([0, 1, 0xff]))),
    ...wire.len(field, kv('imin', any.int(-(2n ** 63n)))),
    ...wire.len(field, kv('imax', any.int(2n ** 63n - 1n))),
    ...wire.len(field, kv('nan', any.dbl(NaN))),
    ...wire.len(field, kv('inf', any.dbl(-Infinity))),
    ...wire.len(field, kv('negzero', any.dbl(-0))),
    ...wire.len(field, kv('bool', any.bool(1))),
    ...wire.len(field, kv('empty', [])),
    ...wire.len(field, kv('novalue')),
    ...wire.len(field, kv('arr', any.arr(any.str(BAD), any.int(5n), any.dbl(NaN), [], any.bytes([1])))),
    ...wire.len(field, kv('kvl', any.kv(kv('a', any.str(BAD)), kv(BAD, any.int(1n)), kv('a', any.int(2n))))),
    ...wire.len(field, kv('deep', deep(40))),
    ...wire.len(field, kv('dup', any.str(Buffer.from('first')))),
    ...wire.len(field, kv('dup', any.str(Buffer.from('second')))),
  ];
}

function tracesRequest(): Uint8Array {
  const spans = [
    // normal-ish span with hostile strings and ids
    wire.len(2, wire.len(1, Array(16).fill(0xab)), wire.len(2, Array(8).fill(0xcd)), wire.string(5, 'x'), wire.len(5, BAD), wire.fixed64(7, T0), wire.fixed64(8, 2n ** 64n - 1n), attrs(9),
      wire.len(11, wire.fixed64(1, 2n ** 64n - 1n), wire.len(2, BAD), attrs(3)), wire.len(13, wire.len(2, Array(8).fill(9)), attrs(4)), wire.len(15, wire.len(2, BAD), wire.uvarint(3, 7))),
    wire.len(2, wire.len(2, []), wire.fixed64(7, 0n), wire.fixed64(8, 0n), wire.uvarint(6, 99)),
    wire.len(2, wire.fixed64(7, 2n ** 63n - 1n), wire.fixed64(8, 1n)),
  ];
  return wire.bytes(wire.len(1, wire.len(1, wire.len(1, kv('service.name', any.str(Buffer.from('svc')))), attrs(1)), wire.len(2, wire.len(1, wire.len(1, BAD), wire.len(2, BAD)), ...spans)));
}

function logsRequest(): Uint8Array {
  const bodies = [any.str(BAD), any.bool(0), any.int(-5n), any.dbl(NaN), any.bytes([0xff, 0]), any.arr(any.str(BAD)), any.kv(kv('x', any.int(1n))), [], deep(44)];
  const recs = bodies.map((b, i) => wire.len(2, wire.fixed64(1, T0 + BigInt(i)), wire.len(5, b), wire.len(3, BAD), wire.len(9, Array(16).fill(2)), attrs(6)));
  recs.push(wire.len(2, wire.fixed64(1, 0n), wire.fixed64(11, 0n)));
  recs.push(wire.len(2));
  return wire.bytes(wire.len(1, wire.len(1, wire.len(1, kv('service.name', any.str(Buffer.from('svc'))))), wire.len(2, ...recs)));
}

function metricsRequest(): Uint8Array {
  const ndp = (...f: number[][]) => wire.len(1, wire.fixed64(3, T0), ...f);
  const metrics = [
    wire.len(2, wire.len(1, BAD), wire.len(5, ndp(wire.fixed64(4, BigInt.asUintN(64, BigInt(-1)))), wire.len(1), ndp([...wire.tag(6, 1), ...Buffer.from('0000000000000080', 'hex')]))),
    wire.len(2, wire.string(1, 'sum'), wire.len(7, ndp(attrs(7)), wire.uvarint(2, 9), wire.uvarint(3, 1))),
    wire.len(2, wire.string(1, 'hist'), wire.len(9, wire.len(1), ndp(wire.fixed64(4, 2n ** 64n - 1n), wire.len(6, Buffer.alloc(16, 0xff)), wire.len(7, Buffer.alloc(8))))),
    wire.len(2, wire.string(1, 'exp'), wire.len(10, wire.len(1), ndp(wire.uvarint(6, 4294967295), wire.len(8, wire.uvarint(1, 3), wire.len(2, wire.varint(2n ** 64n - 1n)))))),
    wire.len(2, wire.string(1, 'summary'), wire.len(11, wire.len(1), ndp(wire.len(6), wire.len(6, wire.fixed64(1, 0n))))),
    wire.len(2, wire.string(1, 'nodata')),
  ];
  return wire.bytes(wire.len(1, wire.len(2, ...metrics)));
}

const exportAll = (archive: BuiltArchive, options: Partial<ExportOptions>) => exportInto(archive, path.join(dir, 'out'), options);

const outFiles = (suffix: string): string[] => readdirSync(path.join(dir, 'out'), { recursive: true }).map(String).filter((f) => f.endsWith(suffix));
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
const mapOf = (entries: { key: string; value: string | null }[]): Record<string, string | null> => Object.fromEntries(entries.map((e) => [e.key, e.value]));

it('writes every item of hostile requests into files DuckDB reads, values as the README maps them', async () => {
  const entries: CapturedEntry[] = [
    { signal: 'traces', bytes: tracesRequest() },
    { signal: 'logs', bytes: logsRequest() },
    { signal: 'metrics', bytes: metricsRequest() },
  ];
  const archive = await buildArchive(path.join(dir, 'data'), entries, 1);
  const duck = await DuckDBInstance.create(':memory:');
  const db = await duck.connect();
  const rows = async (signal: string): Promise<any[]> =>
    plain((await db.runAndReadAll(`SELECT * FROM read_parquet('${path.join(dir, 'out')}/signal=${signal}/**/*.parquet') ORDER BY ALL`)).getRowObjectsJS()) as any[];
  try {
    const summary = await exportAll(archive, {});
    expect(summary.damagedRequests).toBe(0);
    // Nothing dropped: a row per span, log record and data point the scanner counted (empty points included).
    expect(summary.written).toBe(summary.total.items);

    const logs = await rows('logs');
    expect(logs).toHaveLength(11);
    const bodies = logs.map((row) => row.body);
    for (const body of [BAD_TEXT, 'false', '-5', 'NaN', '/wA=', JSON.stringify([BAD_TEXT]), '{"x":1}']) expect(bodies).toContain(body);
    expect(bodies.filter((body) => body === null)).toHaveLength(3); // an empty AnyValue, and two records without a body
    const attributes = mapOf(logs.find((row) => row.body === '-5').log_attributes);
    expect(attributes).toMatchObject({
      bad: BAD_TEXT,
      [BAD_TEXT]: 'badkey',
      bytes: 'AAH/',
      imin: '-9223372036854775808',
      imax: '9223372036854775807',
      nan: 'NaN',
      inf: '-Infinity',
      bool: 'true',
      empty: null,
      novalue: null,
      dup: 'second', // a repeated key: the last value, as a protobuf map decides
      kvl: JSON.stringify({ a: 2, [BAD_TEXT]: 1 }),
    });
    expect(JSON.parse(attributes.arr!)).toEqual([BAD_TEXT, 5, 'NaN', null, 'AQ==']);

    const spans = await rows('traces');
    expect(spans).toHaveLength(3);
    const hostile = spans.find((row) => row.trace_id === 'ab'.repeat(16));
    expect(hostile).toMatchObject({ name: BAD_TEXT, status_message: BAD_TEXT, status_code: '7', span_id: 'cd'.repeat(8), scope_name: BAD_TEXT });
    // An end time past the signed 64-bit range a Parquet INT64 holds is NULL, in both columns, never wrapped.
    expect(hostile).toMatchObject({ end_time: null, end_time_unix_nano: null, duration_ns: null, start_time_unix_nano: String(T0) });
    const latest = spans.find((row) => row.start_time_unix_nano === String(2n ** 63n - 1n));
    expect(latest).toMatchObject({ end_time_unix_nano: '1', duration_ns: String(1n - (2n ** 63n - 1n)) });

    const points = await rows('metrics');
    expect(points.map((row) => row.metric_type).sort()).toEqual(
      ['exponential_histogram', 'exponential_histogram', 'gauge', 'gauge', 'gauge', 'histogram', 'histogram', 'sum', 'summary', 'summary'],
    );
    expect(points.map((row) => row.value_int)).toContain('-9223372036854775808');
    expect(points.find((row) => row.metric_type === 'sum')).toMatchObject({ aggregation_temporality: '9', is_monotonic: true });

    // OTLP JSON: every line parses, and the files are UTF-8.
    rmSync(path.join(dir, 'out'), { recursive: true });
    const json = await exportAll(archive, { format: 'otlp-json', codec: { name: 'none', extension: '', createStream: () => null } });
    expect(json.written).toBe(3);
    for (const file of outFiles('.jsonl')) {
      const bytes = readFileSync(path.join(dir, 'out', file));
      expect(isUtf8(bytes)).toBe(true);
      for (const line of bytes.toString('utf8').trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    }
  } finally {
    db.closeSync();
    duck.closeSync();
    await archive.close();
  }
});
