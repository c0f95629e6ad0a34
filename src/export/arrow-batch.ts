// Table rows → Arrow record batches, the form the Parquet writer (parquet-wasm) takes. Each row is copied into
// column buffers the moment it arrives (UTF-8 bytes and offsets, validity bitmaps, typed arrays), so rows die young:
// holding a row group's worth of row objects until it is written made garbage collection most of the export's CPU
// time when measured (docs/BENCHMARKS.md), and so did apache-arrow's own builders, which encode every string with its
// own TextEncoder call. apache-arrow still supplies the types, the Data containers and the IPC encoding.
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

/** The Arrow IPC stream encoding of one batch (what parquet-wasm reads). */
export function ipcStream(batch: RecordBatch): Uint8Array {
  return tableToIPC(new Table([batch]), 'stream');
}

/** Rows of one table, accumulated column by column; finish() hands them over as a record batch and starts afresh. */
export class BatchBuilder {
  private columns: ColumnBuilder[];
  private rows = 0;

  constructor(private readonly table: TableSchema, private readonly schema: Schema = arrowSchema(table)) {
    this.columns = this.newColumns();
  }

  get length(): number {
    return this.rows;
  }

  /** Text (strings, map keys and values) held so far: what varies with the data; fixed-width values are left out. */
  get textBytes(): number {
    let bytes = 0;
    for (const column of this.columns) bytes += column.textBytes;
    return bytes;
  }

  append(row: Row): void {
    const columns = this.columns;
    for (let i = 0; i < columns.length; i++) columns[i]!.append(row[i]);
    this.rows += 1;
  }

  finish(): RecordBatch {
    const children = this.columns.map((column, i) => column.finish(this.schema.fields[i]!.type));
    const batch = new RecordBatch(this.schema, makeData({ type: new Struct(this.schema.fields), length: this.rows, nullCount: 0, children }));
    this.columns = this.newColumns();
    this.rows = 0;
    return batch;
  }

  private newColumns(): ColumnBuilder[] {
    return this.table.columns.map((column) => newColumn(column.kind));
  }
}

interface ColumnBuilder {
  append(value: unknown): void;
  finish(type: DataType): Data;
  readonly textBytes: number;
}

function newColumn(kind: ColumnKind): ColumnBuilder {
  switch (kind) {
    case 'string':
      return new Utf8Column();
    case 'timestamp':
      return new BigIntColumn(1000n);
    case 'int64':
      return new BigIntColumn(1n);
    case 'int32':
      return new NumberColumn(Int32Array);
    case 'double':
      return new NumberColumn(Float64Array);
    case 'bool':
      return new BoolColumn();
    case 'map':
      return new MapColumn();
    case 'int64_list':
      return new ListColumn(true);
    case 'double_list':
      return new ListColumn(false);
  }
}

/** Which rows have a value: one bit per row. */
class Validity {
  bits = new Uint8Array(256);
  length = 0;
  nulls = 0;

  push(valid: boolean): void {
    const at = this.length++;
    if ((at >> 3) >= this.bits.length) this.bits = grow(this.bits, (at >> 3) + 1);
    if (valid) this.bits[at >> 3]! |= 1 << (at & 7);
    else this.nulls += 1;
  }

  bitmap(): Uint8Array {
    return this.bits.subarray(0, (this.length + 7) >> 3);
  }
}

function grow<T extends Uint8Array | Int32Array | Float64Array | BigInt64Array>(array: T, atLeast: number): T {
  let size = array.length * 2;
  while (size < atLeast) size *= 2;
  const bigger = new (array.constructor as new (n: number) => T)(size);
  bigger.set(array as never);
  return bigger;
}

class Utf8Column implements ColumnBuilder {
  private readonly validity = new Validity();
  private offsets = new Int32Array(256);
  private data = Buffer.allocUnsafe(16 * 1024);
  private bytes = 0;

  get textBytes(): number {
    return this.bytes;
  }

  append(value: unknown): void {
    const at = this.validity.length;
    if (at + 1 >= this.offsets.length) this.offsets = grow(this.offsets, at + 2);
    if (typeof value === 'string') {
      this.validity.push(true);
      if (value.length > 0) {
        // At most 3 bytes per UTF-16 unit; the exact count only for long strings, where the bound would waste room.
        const room = value.length <= 1024 ? value.length * 3 : Buffer.byteLength(value, 'utf8');
        if (this.bytes + room > this.data.length) this.growData(this.bytes + room);
        this.bytes += this.data.write(value, this.bytes, 'utf8');
        if (this.bytes > 0x7fffffff) throw new RangeError('a string column of more than 2 GiB does not fit one Arrow batch');
      }
    } else {
      this.validity.push(false);
    }
    this.offsets[at + 1] = this.bytes;
  }

  finish(type: DataType): Data {
    const length = this.validity.length;
    return makeData({
      type: type as Utf8,
      length,
      nullCount: this.validity.nulls,
      nullBitmap: this.validity.bitmap(),
      valueOffsets: this.offsets.subarray(0, length + 1),
      data: this.data.subarray(0, this.bytes),
    });
  }

  private growData(atLeast: number): void {
    let size = this.data.length * 2;
    while (size < atLeast) size *= 2;
    const bigger = Buffer.allocUnsafe(size);
    this.data.copy(bigger, 0, 0, this.bytes);
    this.data = bigger;
  }
}

/** int64 values (bigint); timestamps divide nanoseconds down to the unit they are written in. */
class BigIntColumn implements ColumnBuilder {
  readonly textBytes = 0;
  private readonly validity = new Validity();
  private values = new BigInt64Array(256);

  constructor(private readonly divisor: bigint) {}

  append(value: unknown): void {
    const at = this.validity.length;
    if (at >= this.values.length) this.values = grow(this.values, at + 1);
    if (typeof value === 'bigint') {
      this.values[at] = this.divisor === 1n ? value : value / this.divisor;
      this.validity.push(true);
    } else {
      this.validity.push(false);
    }
  }

  finish(type: DataType): Data {
    const length = this.validity.length;
    return makeData({ type: type as Int64, length, nullCount: this.validity.nulls, nullBitmap: this.validity.bitmap(), data: this.values.subarray(0, length) });
  }
}

class NumberColumn implements ColumnBuilder {
  readonly textBytes = 0;
  private readonly validity = new Validity();
  private values: Int32Array | Float64Array;

  constructor(arrayType: typeof Int32Array | typeof Float64Array) {
    this.values = new arrayType(256);
  }

  append(value: unknown): void {
    const at = this.validity.length;
    if (at >= this.values.length) this.values = grow(this.values, at + 1);
    if (typeof value === 'number') {
      this.values[at] = value;
      this.validity.push(true);
    } else {
      this.validity.push(false);
    }
  }

  finish(type: DataType): Data {
    const length = this.validity.length;
    return makeData({ type: type as Int32, length, nullCount: this.validity.nulls, nullBitmap: this.validity.bitmap(), data: this.values.subarray(0, length) as Int32Array });
  }
}

class BoolColumn implements ColumnBuilder {
  readonly textBytes = 0;
  private readonly validity = new Validity();
  private values = new Uint8Array(32);

  append(value: unknown): void {
    const at = this.validity.length;
    if ((at >> 3) >= this.values.length) this.values = grow(this.values, (at >> 3) + 1);
    if (value === true) this.values[at >> 3]! |= 1 << (at & 7);
    this.validity.push(typeof value === 'boolean');
  }

  finish(type: DataType): Data {
    const length = this.validity.length;
    return makeData({ type: type as Bool, length, nullCount: this.validity.nulls, nullBitmap: this.validity.bitmap(), data: this.values.subarray(0, (length + 7) >> 3) });
  }
}

class MapColumn implements ColumnBuilder {
  private readonly validity = new Validity();
  private offsets = new Int32Array(256);
  private readonly keys = new Utf8Column();
  private readonly values = new Utf8Column();
  private entries = 0;

  get textBytes(): number {
    return this.keys.textBytes + this.values.textBytes;
  }

  append(value: unknown): void {
    const at = this.validity.length;
    if (at + 1 >= this.offsets.length) this.offsets = grow(this.offsets, at + 2);
    if (Array.isArray(value)) {
      const pairs = value as StringPairs;
      for (let p = 0; p < pairs.length; p += 2) {
        this.keys.append(pairs[p]);
        this.values.append(pairs[p + 1]);
      }
      this.entries += pairs.length >> 1;
      this.validity.push(true);
    } else {
      this.validity.push(false);
    }
    this.offsets[at + 1] = this.entries;
  }

  finish(type: DataType): Data {
    const length = this.validity.length;
    const child = makeData({
      type: MAP_ENTRIES,
      length: this.entries,
      nullCount: 0,
      children: [this.keys.finish(new Utf8()), this.values.finish(new Utf8())],
    });
    return makeData({
      type: type as Map_,
      length,
      nullCount: this.validity.nulls,
      nullBitmap: this.validity.bitmap(),
      valueOffsets: this.offsets.subarray(0, length + 1),
      child,
    });
  }
}

class ListColumn implements ColumnBuilder {
  readonly textBytes = 0;
  private readonly validity = new Validity();
  private offsets = new Int32Array(256);
  private values: BigInt64Array | Float64Array;
  private count = 0;

  constructor(int64: boolean) {
    this.values = int64 ? new BigInt64Array(256) : new Float64Array(256);
  }

  append(value: unknown): void {
    const at = this.validity.length;
    if (at + 1 >= this.offsets.length) this.offsets = grow(this.offsets, at + 2);
    if (Array.isArray(value)) {
      const list = value as number[];
      if (this.count + list.length > this.values.length) this.values = grow(this.values, this.count + list.length);
      if (this.values instanceof BigInt64Array) for (const n of list) this.values[this.count++] = BigInt(n);
      else for (const n of list) this.values[this.count++] = n;
      this.validity.push(true);
    } else {
      this.validity.push(false);
    }
    this.offsets[at + 1] = this.count;
  }

  finish(type: DataType): Data {
    const length = this.validity.length;
    const childType = (type as List).children[0]!.type;
    const child = makeData({ type: childType as Int64, length: this.count, nullCount: 0, data: this.values.subarray(0, this.count) as BigInt64Array });
    return makeData({
      type: type as List,
      length,
      nullCount: this.validity.nulls,
      nullBitmap: this.validity.bitmap(),
      valueOffsets: this.offsets.subarray(0, length + 1),
      child,
    });
  }
}
