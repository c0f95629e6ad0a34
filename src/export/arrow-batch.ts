// Table rows → an Arrow record batch, the form the Parquet writer (parquet-wasm) takes. The buffers are built here
// directly (UTF-8 bytes and offsets, validity bitmaps, typed arrays) rather than with apache-arrow's builders: those
// encode every string with its own TextEncoder call and were most of the export's CPU time when measured
// (docs/BENCHMARKS.md). apache-arrow still supplies the types, the Data containers and the IPC encoding.
import {
  Bool, Field, Float64, Int32, Int64, List, makeData, Map_, RecordBatch, Schema, Struct, Table, tableToIPC, TimeUnit, Timestamp,
  Utf8,
} from 'apache-arrow';
import type { Data, DataType } from 'apache-arrow';
import type { ColumnKind, Row, StringPairs, TableSchema } from './tables.js';

const MAP_ENTRIES = new Struct([new Field('key', new Utf8(), false), new Field('value', new Utf8(), true)]);

function arrowType(kind: ColumnKind): DataType {
  switch (kind) {
    case 'string':
      return new Utf8();
    case 'timestamp':
      return new Timestamp(TimeUnit.MICROSECOND, 'UTC');
    case 'int64':
      return new Int64();
    case 'int32':
      return new Int32();
    case 'double':
      return new Float64();
    case 'bool':
      return new Bool();
    case 'map':
      return new Map_(new Field('entries', MAP_ENTRIES, false), false);
    case 'int64_list':
      return new List(new Field('element', new Int64(), true));
    case 'double_list':
      return new List(new Field('element', new Float64(), true));
  }
}

export function arrowSchema(table: TableSchema): Schema {
  return new Schema(table.columns.map((column) => new Field(column.name, arrowType(column.kind), true)));
}

/** The rows as one record batch of `schema` (arrowSchema(table)). */
export function recordBatch(table: TableSchema, schema: Schema, rows: readonly Row[]): RecordBatch {
  const children = table.columns.map((column, i) => columnData(column.kind, schema.fields[i]!.type, rows, i));
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: rows.length, nullCount: 0, children }));
}

/** The Arrow IPC stream encoding of one batch (what parquet-wasm reads). */
export function ipcStream(batch: RecordBatch): Uint8Array {
  return tableToIPC(new Table([batch]), 'stream');
}

interface Validity {
  bitmap: Uint8Array;
  nulls: number;
}

function validity(rows: readonly Row[], column: number): Validity {
  const bitmap = new Uint8Array((rows.length + 7) >> 3);
  let nulls = 0;
  for (let i = 0; i < rows.length; i++) {
    const value = rows[i]![column];
    if (value === null || value === undefined) nulls++;
    else bitmap[i >> 3]! |= 1 << (i & 7);
  }
  return { bitmap, nulls };
}

function columnData(kind: ColumnKind, type: DataType, rows: readonly Row[], column: number): Data {
  const length = rows.length;
  const { bitmap, nulls } = validity(rows, column);
  switch (kind) {
    case 'string':
      return utf8Data(rows.map((row) => row[column] as string | null));
    case 'timestamp': {
      // Held as nanoseconds (never negative: see FlatReader.timestamp), written as microseconds.
      const data = new BigInt64Array(length);
      for (let i = 0; i < length; i++) data[i] = ((rows[i]![column] as bigint | null) ?? 0n) / 1000n;
      return makeData({ type: type as Int64, length, nullCount: nulls, nullBitmap: bitmap, data });
    }
    case 'int64': {
      const data = new BigInt64Array(length);
      for (let i = 0; i < length; i++) data[i] = (rows[i]![column] as bigint | null) ?? 0n;
      return makeData({ type: type as Int64, length, nullCount: nulls, nullBitmap: bitmap, data });
    }
    case 'int32': {
      const data = new Int32Array(length);
      for (let i = 0; i < length; i++) data[i] = (rows[i]![column] as number | null) ?? 0;
      return makeData({ type: type as Int32, length, nullCount: nulls, nullBitmap: bitmap, data });
    }
    case 'double': {
      const data = new Float64Array(length);
      for (let i = 0; i < length; i++) data[i] = (rows[i]![column] as number | null) ?? 0;
      return makeData({ type: type as Float64, length, nullCount: nulls, nullBitmap: bitmap, data });
    }
    case 'bool': {
      const data = new Uint8Array((length + 7) >> 3);
      for (let i = 0; i < length; i++) if (rows[i]![column] === true) data[i >> 3]! |= 1 << (i & 7);
      return makeData({ type: type as Bool, length, nullCount: nulls, nullBitmap: bitmap, data });
    }
    case 'int64_list':
    case 'double_list':
      return listData(kind, type as List, rows, column, bitmap, nulls);
    case 'map':
      return mapData(type as Map_, rows, column, bitmap, nulls);
  }
}

/** UTF-8 bytes of every string in one buffer, plus offsets: two native calls per string, no TextEncoder. */
function utf8Data(values: readonly (string | null)[]): Data<Utf8> {
  const length = values.length;
  const offsets = new Int32Array(length + 1);
  const bitmap = new Uint8Array((length + 7) >> 3);
  let nulls = 0;
  let bytes = 0;
  for (let i = 0; i < length; i++) {
    const value = values[i];
    if (value === null || value === undefined) nulls++;
    else {
      bitmap[i >> 3]! |= 1 << (i & 7);
      bytes += Buffer.byteLength(value, 'utf8');
    }
  }
  if (bytes > 0x7fffffff) throw new RangeError(`a string column of ${bytes} bytes does not fit one Arrow batch`);
  const data = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (let i = 0; i < length; i++) {
    const value = values[i];
    if (value !== null && value !== undefined && value.length > 0) at += data.write(value, at, 'utf8');
    offsets[i + 1] = at;
  }
  return makeData({ type: new Utf8(), length, nullCount: nulls, nullBitmap: bitmap, valueOffsets: offsets, data });
}

function listData(kind: 'int64_list' | 'double_list', type: List, rows: readonly Row[], column: number, bitmap: Uint8Array, nulls: number): Data {
  const length = rows.length;
  const offsets = new Int32Array(length + 1);
  let total = 0;
  for (let i = 0; i < length; i++) {
    total += ((rows[i]![column] as number[] | null) ?? []).length;
    offsets[i + 1] = total;
  }
  const values = kind === 'int64_list' ? new BigInt64Array(total) : new Float64Array(total);
  let at = 0;
  for (let i = 0; i < length; i++) {
    const list = rows[i]![column] as number[] | null;
    if (list === null || list === undefined) continue;
    if (values instanceof BigInt64Array) for (const n of list) values[at++] = BigInt(n);
    else for (const n of list) values[at++] = n;
  }
  const childType = type.children[0]!.type;
  const child = makeData({ type: childType as Int64, length: total, nullCount: 0, data: values });
  return makeData({ type, length, nullCount: nulls, nullBitmap: bitmap, valueOffsets: offsets, child });
}

function mapData(type: Map_, rows: readonly Row[], column: number, bitmap: Uint8Array, nulls: number): Data {
  const length = rows.length;
  const offsets = new Int32Array(length + 1);
  const keys: (string | null)[] = [];
  const cells: (string | null)[] = [];
  for (let i = 0; i < length; i++) {
    const pairs = rows[i]![column] as StringPairs | null;
    if (pairs !== null && pairs !== undefined) {
      for (let p = 0; p < pairs.length; p += 2) {
        keys.push(pairs[p]!);
        cells.push(pairs[p + 1] ?? null);
      }
    }
    offsets[i + 1] = keys.length;
  }
  const entries = makeData({ type: MAP_ENTRIES, length: keys.length, nullCount: 0, children: [utf8Data(keys), utf8Data(cells)] });
  return makeData({ type, length, nullCount: nulls, nullBitmap: bitmap, valueOffsets: offsets, child: entries });
}
