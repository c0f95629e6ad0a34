// One Metric → one row of the metrics table (tables.ts, METRICS_TABLE order) per data point, whatever its type:
// the columns of the other types stay NULL. Exemplars become a JSON array.
import {
  BUCKETS, EXEMPLAR, EXPONENTIAL_HISTOGRAM, EXPONENTIAL_HISTOGRAM_DATA_POINT, GAUGE, HISTOGRAM, HISTOGRAM_DATA_POINT, METRIC,
  NUMBER_DATA_POINT, SUM, SUMMARY, SUMMARY_DATA_POINT, VALUE_AT_QUANTILE,
} from '../otlp/schema.js';
import { WIRE_I64, WIRE_LEN, WIRE_VARINT } from '../otlp/wire.js';
import type { MessageSchema } from '../otlp/wire.js';
import { nanosToIso } from '../query/request-view.js';
import type { FlatReader } from './flat-reader.js';
import { jsonNumber, uniquePairs } from './flat-reader.js';
import type { ItemContext } from './flatten.js';
import type { Row, StringPairs } from './tables.js';

const LEN = (field: number): number => (field << 3) | WIRE_LEN;
const I64 = (field: number): number => (field << 3) | WIRE_I64;
const VARINT = (field: number): number => (field << 3) | WIRE_VARINT;

type MetricType = 'gauge' | 'sum' | 'histogram' | 'exponential_histogram' | 'summary';

/** Metric field number → its data type and the message schemas of the type and of its points. */
const TYPES = new Map<number, { type: MetricType; container: MessageSchema; point: MessageSchema }>([
  [LEN(5), { type: 'gauge', container: GAUGE, point: NUMBER_DATA_POINT }],
  [LEN(7), { type: 'sum', container: SUM, point: NUMBER_DATA_POINT }],
  [LEN(9), { type: 'histogram', container: HISTOGRAM, point: HISTOGRAM_DATA_POINT }],
  [LEN(10), { type: 'exponential_histogram', container: EXPONENTIAL_HISTOGRAM, point: EXPONENTIAL_HISTOGRAM_DATA_POINT }],
  [LEN(11), { type: 'summary', container: SUMMARY, point: SUMMARY_DATA_POINT }],
]);

const TEMPORALITIES = ['AGGREGATION_TEMPORALITY_UNSPECIFIED', 'AGGREGATION_TEMPORALITY_DELTA', 'AGGREGATION_TEMPORALITY_CUMULATIVE'];

/** Column positions in METRICS_TABLE (a test checks them against the table's column names). */
export enum Col {
  RequestId = 0,
  MetricName = 1,
  MetricDescription = 2,
  MetricUnit = 3,
  MetricType = 4,
  AggregationTemporality = 5,
  IsMonotonic = 6,
  StartTime = 7,
  Time = 8,
  ValueDouble = 9,
  ValueInt = 10,
  Count = 11,
  Sum = 12,
  Min = 13,
  Max = 14,
  BucketCounts = 15,
  ExplicitBounds = 16,
  Scale = 17,
  ZeroCount = 18,
  ZeroThreshold = 19,
  PositiveOffset = 20,
  PositiveBucketCounts = 21,
  NegativeOffset = 22,
  NegativeBucketCounts = 23,
  Quantiles = 24,
  QuantileValues = 25,
  Flags = 26,
  Exemplars = 27,
  ServiceName = 28,
  ResourceAttributes = 29,
  ScopeName = 30,
  ScopeVersion = 31,
  Attributes = 32,
  StartTimeUnixNano = 33,
  TimeUnixNano = 34,
  /** The number of columns. */
  Width = 35,
}

export function metricRows(r: FlatReader, end: number, context: ItemContext): void {
  let name = '';
  let description: string | null = null;
  let unit: string | null = null;
  let dataAt = -1;
  let dataEnd = -1;
  let dataTag = 0;
  while (r.pos < end) {
    const tagAt = r.pos;
    const tag = r.readTag(end, METRIC);
    if (tag === LEN(1) || tag === LEN(2) || tag === LEN(3)) {
      const textEnd = r.payloadEnd(end, METRIC, tag, tagAt);
      const text = r.utf8(r.pos, textEnd);
      if (tag === LEN(1)) name = text;
      else if (tag === LEN(2)) description = text === '' ? null : text;
      else unit = text === '' ? null : text;
      r.pos = textEnd;
    } else if (TYPES.has(tag)) {
      dataEnd = r.payloadEnd(end, METRIC, tag, tagAt);
      dataAt = r.pos;
      dataTag = tag;
      r.pos = dataEnd;
    } else {
      r.skip(METRIC, tag, tagAt, end);
    }
  }
  if (dataAt < 0) return;
  const { type, container, point } = TYPES.get(dataTag)!;
  // Temporality and monotonicity may follow the points: note where the points are first.
  let temporality: string | null = null;
  let monotonic: boolean | null = type === 'sum' ? false : null;
  const points: number[] = [];
  r.pos = dataAt;
  while (r.pos < dataEnd) {
    const tagAt = r.pos;
    const tag = r.readTag(dataEnd, container);
    if (tag === LEN(1)) {
      const pointEnd = r.payloadEnd(dataEnd, container, tag, tagAt);
      points.push(r.pos, pointEnd);
      r.pos = pointEnd;
    } else if (tag === VARINT(2) && type !== 'gauge' && type !== 'summary') {
      const value = r.varint32(dataEnd, container);
      temporality = TEMPORALITIES[value] ?? String(value);
    } else if (tag === VARINT(3) && type === 'sum') {
      monotonic = r.varint32(dataEnd, container) !== 0;
    } else {
      r.skip(container, tag, tagAt, dataEnd);
    }
  }
  if (temporality === null && (type === 'sum' || type === 'histogram' || type === 'exponential_histogram')) {
    temporality = TEMPORALITIES[0]!;
  }
  const { resource, scope } = context;
  for (let i = 0; i < points.length; i += 2) {
    const row: Row = new Array(Col.Width).fill(null);
    row[Col.RequestId] = context.requestId;
    row[Col.MetricName] = name;
    row[Col.MetricDescription] = description;
    row[Col.MetricUnit] = unit;
    row[Col.MetricType] = type;
    row[Col.AggregationTemporality] = temporality;
    row[Col.IsMonotonic] = monotonic;
    row[Col.ServiceName] = resource.serviceName;
    row[Col.ResourceAttributes] = resource.attributes;
    row[Col.ScopeName] = scope.name;
    row[Col.ScopeVersion] = scope.version;
    r.pos = points[i]!;
    const attributes: StringPairs = [];
    readPoint(r, points[i + 1]!, point, type, row, attributes);
    row[Col.Attributes] = uniquePairs(attributes);
    row[Col.StartTimeUnixNano] = row[Col.StartTime];
    row[Col.TimeUnixNano] = row[Col.Time];
    context.sink.add(row, (row[Col.Time] as bigint | null) ?? (row[Col.StartTime] as bigint | null) ?? context.fallbackNs);
  }
}

/** Fills the type-specific columns of `row` from one data point. */
function readPoint(r: FlatReader, end: number, schema: MessageSchema, type: MetricType, row: Row, attributes: StringPairs): void {
  const attributesTag = type === 'exponential_histogram' ? LEN(1) : type === 'histogram' ? LEN(9) : LEN(7);
  const exemplarsTag = type === 'exponential_histogram' ? LEN(11) : type === 'histogram' ? LEN(8) : type === 'summary' ? -1 : LEN(5);
  const flagsTag = type === 'exponential_histogram' ? VARINT(10) : type === 'histogram' ? VARINT(10) : VARINT(8);
  let exemplars: unknown[] | null = null;
  let flags = 0;
  while (r.pos < end) {
    const tagAt = r.pos;
    const tag = r.readTag(end, schema);
    if (tag === attributesTag) {
      r.keyValue(r.payloadEnd(end, schema, tag, tagAt), attributes);
    } else if (tag === I64(2)) {
      row[Col.StartTime] = r.timestamp(r.fixedAt(8, end, schema, tag, tagAt));
    } else if (tag === I64(3)) {
      row[Col.Time] = r.timestamp(r.fixedAt(8, end, schema, tag, tagAt));
    } else if (tag === flagsTag) {
      flags = r.varint32(end, schema);
    } else if (tag === exemplarsTag) {
      const exemplarEnd = r.payloadEnd(end, schema, tag, tagAt);
      (exemplars ??= []).push(exemplar(r, exemplarEnd));
      r.pos = exemplarEnd;
    } else if (!typeField(r, end, schema, type, tag, tagAt, row)) {
      r.skip(schema, tag, tagAt, end);
    }
  }
  row[Col.Flags] = flags;
  row[Col.Exemplars] = exemplars === null ? null : JSON.stringify(exemplars);
}

/** The fields only one type of point has; false when `tag` is none of them. */
function typeField(r: FlatReader, end: number, schema: MessageSchema, type: MetricType, tag: number, tagAt: number, row: Row): boolean {
  switch (type) {
    case 'gauge':
    case 'sum':
      if (tag === I64(4)) row[Col.ValueDouble] = r.double(r.fixedAt(8, end, schema, tag, tagAt));
      else if (tag === I64(6)) row[Col.ValueInt] = r.int64Fixed(r.fixedAt(8, end, schema, tag, tagAt));
      else return false;
      return true;
    case 'histogram':
      if (tag === I64(4)) row[Col.Count] = r.int64Fixed(r.fixedAt(8, end, schema, tag, tagAt));
      else if (tag === I64(5)) row[Col.Sum] = r.double(r.fixedAt(8, end, schema, tag, tagAt));
      else if (tag === I64(11)) row[Col.Min] = r.double(r.fixedAt(8, end, schema, tag, tagAt));
      else if (tag === I64(12)) row[Col.Max] = r.double(r.fixedAt(8, end, schema, tag, tagAt));
      else if (tag === LEN(6) || tag === I64(6)) appendFixed64s(r, end, schema, tag, tagAt, row, Col.BucketCounts, false);
      else if (tag === LEN(7) || tag === I64(7)) appendFixed64s(r, end, schema, tag, tagAt, row, Col.ExplicitBounds, true);
      else return false;
      return true;
    case 'exponential_histogram':
      if (tag === I64(4)) row[Col.Count] = r.int64Fixed(r.fixedAt(8, end, schema, tag, tagAt));
      else if (tag === I64(5)) row[Col.Sum] = r.double(r.fixedAt(8, end, schema, tag, tagAt));
      else if (tag === VARINT(6)) row[Col.Scale] = zigzag32(r.varint32(end, schema));
      else if (tag === I64(7)) row[Col.ZeroCount] = r.int64Fixed(r.fixedAt(8, end, schema, tag, tagAt));
      else if (tag === LEN(8) || tag === LEN(9)) {
        const bucketsEnd = r.payloadEnd(end, schema, tag, tagAt);
        const positive = tag === LEN(8);
        const { offset, counts } = buckets(r, bucketsEnd);
        row[positive ? Col.PositiveOffset : Col.NegativeOffset] = offset;
        row[positive ? Col.PositiveBucketCounts : Col.NegativeBucketCounts] = counts;
        r.pos = bucketsEnd;
      } else if (tag === I64(12)) row[Col.Min] = r.double(r.fixedAt(8, end, schema, tag, tagAt));
      else if (tag === I64(13)) row[Col.Max] = r.double(r.fixedAt(8, end, schema, tag, tagAt));
      else if (tag === I64(14)) row[Col.ZeroThreshold] = r.double(r.fixedAt(8, end, schema, tag, tagAt));
      else return false;
      return true;
    case 'summary':
      if (tag === I64(4)) row[Col.Count] = r.int64Fixed(r.fixedAt(8, end, schema, tag, tagAt));
      else if (tag === I64(5)) row[Col.Sum] = r.double(r.fixedAt(8, end, schema, tag, tagAt));
      else if (tag === LEN(6)) {
        const quantileEnd = r.payloadEnd(end, schema, tag, tagAt);
        let quantile = 0;
        let value = 0;
        while (r.pos < quantileEnd) {
          const innerAt = r.pos;
          const inner = r.readTag(quantileEnd, VALUE_AT_QUANTILE);
          if (inner === I64(1)) quantile = r.double(r.fixedAt(8, quantileEnd, VALUE_AT_QUANTILE, inner, innerAt));
          else if (inner === I64(2)) value = r.double(r.fixedAt(8, quantileEnd, VALUE_AT_QUANTILE, inner, innerAt));
          else r.skip(VALUE_AT_QUANTILE, inner, innerAt, quantileEnd);
        }
        ((row[Col.Quantiles] ??= []) as number[]).push(quantile);
        ((row[Col.QuantileValues] ??= []) as number[]).push(value);
      } else return false;
      return true;
  }
}

/** A repeated fixed64 / double field, packed (one length-delimited run) or not (one value per tag). */
function appendFixed64s(r: FlatReader, end: number, schema: MessageSchema, tag: number, tagAt: number, row: Row, column: number, asDouble: boolean): void {
  const list = ((row[column] ??= []) as number[]);
  if ((tag & 7) === WIRE_I64) {
    const at = r.fixedAt(8, end, schema, tag, tagAt);
    list.push(asDouble ? r.double(at) : r.uint64Number(at));
    return;
  }
  const runEnd = r.payloadEnd(end, schema, tag, tagAt);
  if ((runEnd - r.pos) % 8 !== 0) r.fail(r.pos, `${schema.name} field ${tag >>> 3} holds packed 8-byte values but is ${runEnd - r.pos} bytes long`);
  for (let at = r.pos; at < runEnd; at += 8) list.push(asDouble ? r.double(at) : r.uint64Number(at));
  r.pos = runEnd;
}

function buckets(r: FlatReader, end: number): { offset: number; counts: number[] } {
  let offset = 0;
  const counts: number[] = [];
  while (r.pos < end) {
    const tagAt = r.pos;
    const tag = r.readTag(end, BUCKETS);
    if (tag === VARINT(1)) {
      offset = zigzag32(r.varint32(end, BUCKETS));
    } else if (tag === LEN(2)) {
      const runEnd = r.payloadEnd(end, BUCKETS, tag, tagAt);
      while (r.pos < runEnd) counts.push(r.readVarintNumber(runEnd, BUCKETS));
    } else if (tag === VARINT(2)) {
      counts.push(r.readVarintNumber(end, BUCKETS));
    } else {
      r.skip(BUCKETS, tag, tagAt, end);
    }
  }
  return { offset, counts };
}

function exemplar(r: FlatReader, end: number): Record<string, unknown> {
  let time: bigint | null = null;
  let value: number | string | null = null;
  let traceId: string | null = null;
  let spanId: string | null = null;
  const attributes: StringPairs = [];
  while (r.pos < end) {
    const tagAt = r.pos;
    const tag = r.readTag(end, EXEMPLAR);
    if (tag === I64(2)) time = r.timestamp(r.fixedAt(8, end, EXEMPLAR, tag, tagAt));
    else if (tag === I64(3)) value = jsonNumber(r.double(r.fixedAt(8, end, EXEMPLAR, tag, tagAt)));
    else if (tag === I64(6)) {
      const int = r.int64Fixed(r.fixedAt(8, end, EXEMPLAR, tag, tagAt));
      value = Number.isSafeInteger(Number(int)) ? Number(int) : String(int);
    } else if (tag === LEN(4) || tag === LEN(5)) {
      const idEnd = r.payloadEnd(end, EXEMPLAR, tag, tagAt);
      if (tag === LEN(5)) traceId = r.hex(r.pos, idEnd);
      else spanId = r.hex(r.pos, idEnd);
      r.pos = idEnd;
    } else if (tag === LEN(7)) {
      r.keyValue(r.payloadEnd(end, EXEMPLAR, tag, tagAt), attributes);
    } else {
      r.skip(EXEMPLAR, tag, tagAt, end);
    }
  }
  return {
    time: time === null ? null : nanosToIso(time),
    value,
    trace_id: traceId,
    span_id: spanId,
    attributes: r.attributesJson(uniquePairs(attributes)),
  };
}

/** sint32 (zigzag) as read by varint32. */
function zigzag32(n: number): number {
  const u = n >>> 0;
  return (u >>> 1) ^ -(u & 1);
}
