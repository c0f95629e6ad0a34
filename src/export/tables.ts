// The flattened tables `export --format parquet` writes: one per signal, one row per span, log record or metric data
// point. This list is the schema: the flatteners build rows in this column order (array literals, checked by tests), the Parquet writer maps the kinds to
// Parquet types, and the README's schema tables are checked against it by a test.
import type { Signal } from '../model.js';

/**
 * What a column holds, independent of the Parquet library:
 * - `string`: UTF-8 text (Parquet BYTE_ARRAY / STRING);
 * - `timestamp`: a point in time, UTC, held as unix nanoseconds (a bigint) and written as Parquet INT64
 *   TIMESTAMP(MICROS, isAdjustedToUTC=true): the precision every engine reads (Spark refuses NANOS, DuckDB reads it
 *   as microseconds anyway). Each timestamp column has an int64 `…_unix_nano` twin with the exact value;
 * - `int64` (bigint), `int32`, `double`, `bool`;
 * - `map`: attributes as MAP<STRING, STRING>, held as a flat [key, value, key, value, …] array with unique keys;
 * - `int64_list` (numbers), `double_list`: LIST of those.
 * Every column is nullable: a value the data does not have is NULL, never a made-up default.
 */
export type ColumnKind = 'string' | 'timestamp' | 'int64' | 'int32' | 'double' | 'bool' | 'map' | 'int64_list' | 'double_list';

export interface ColumnDef {
  readonly name: string;
  readonly kind: ColumnKind;
  /** One line for the README. */
  readonly doc: string;
}

export interface TableSchema {
  readonly signal: Signal;
  /** What one row is. */
  readonly row: string;
  readonly columns: readonly ColumnDef[];
}

/** A row: one value (or null) per column, in schema order. */
export type Row = unknown[];

/** `map` values: key0, value0, key1, value1, … (values may be null). */
export type StringPairs = (string | null)[];

const col = (name: string, kind: ColumnKind, doc: string): ColumnDef => ({ name, kind, doc });

const REQUEST_ID = col('request_id', 'string', 'id of the captured request the row came from (`otlp-capture get ID` fetches it)');
const SERVICE_NAME = col('service_name', 'string', 'the resource attribute `service.name`');
const RESOURCE_ATTRIBUTES = col('resource_attributes', 'map', 'resource attributes (values as text, see below)');
const SCOPE_NAME = col('scope_name', 'string', 'instrumentation scope name');
const SCOPE_VERSION = col('scope_version', 'string', 'instrumentation scope version');

export const SPANS_TABLE: TableSchema = {
  signal: 'traces',
  row: 'span',
  columns: [
    REQUEST_ID,
    col('trace_id', 'string', '32 lowercase hex digits'),
    col('span_id', 'string', '16 lowercase hex digits'),
    col('parent_span_id', 'string', '16 hex digits; NULL for a root span'),
    col('trace_state', 'string', 'W3C tracestate'),
    col('name', 'string', 'span name'),
    col('kind', 'string', '`SPAN_KIND_SERVER`, `SPAN_KIND_CLIENT`, … as in the OTLP enum'),
    col('start_time', 'timestamp', 'span start (partitions by this)'),
    col('end_time', 'timestamp', 'span end'),
    col('duration_ns', 'int64', 'end − start in nanoseconds'),
    col('status_code', 'string', '`STATUS_CODE_UNSET`, `STATUS_CODE_OK` or `STATUS_CODE_ERROR`'),
    col('status_message', 'string', 'status description'),
    SERVICE_NAME,
    RESOURCE_ATTRIBUTES,
    SCOPE_NAME,
    SCOPE_VERSION,
    col('span_attributes', 'map', 'span attributes'),
    col('events', 'string', 'JSON array of `{time, name, attributes}`; NULL when none'),
    col('links', 'string', 'JSON array of `{trace_id, span_id, trace_state, attributes}`; NULL when none'),
    col('start_time_unix_nano', 'int64', 'start_time to the nanosecond'),
    col('end_time_unix_nano', 'int64', 'end_time to the nanosecond'),
  ],
};

export const LOGS_TABLE: TableSchema = {
  signal: 'logs',
  row: 'log record',
  columns: [
    REQUEST_ID,
    col('time', 'timestamp', 'event time; NULL when unset (partitions by this, else by observed_time)'),
    col('observed_time', 'timestamp', 'when the record was observed'),
    col('severity_number', 'int32', 'OTLP severity number (1-24)'),
    col('severity_text', 'string', 'severity as the source wrote it'),
    col('body', 'string', 'a string body as it is; any other body as JSON'),
    col('trace_id', 'string', '32 hex digits, when the record has trace context'),
    col('span_id', 'string', '16 hex digits'),
    col('flags', 'int32', 'trace flags'),
    col('event_name', 'string', 'event name'),
    SERVICE_NAME,
    RESOURCE_ATTRIBUTES,
    SCOPE_NAME,
    SCOPE_VERSION,
    col('log_attributes', 'map', 'log record attributes'),
    col('time_unix_nano', 'int64', 'time to the nanosecond'),
    col('observed_time_unix_nano', 'int64', 'observed_time to the nanosecond'),
  ],
};

export const METRICS_TABLE: TableSchema = {
  signal: 'metrics',
  row: 'metric data point',
  columns: [
    REQUEST_ID,
    col('metric_name', 'string', 'metric name'),
    col('metric_description', 'string', 'metric description'),
    col('metric_unit', 'string', 'metric unit'),
    col('metric_type', 'string', '`gauge`, `sum`, `histogram`, `exponential_histogram` or `summary`'),
    col('aggregation_temporality', 'string', '`AGGREGATION_TEMPORALITY_DELTA` or `…_CUMULATIVE` (sums and histograms)'),
    col('is_monotonic', 'bool', 'sums only'),
    col('start_time', 'timestamp', 'start of the aggregation interval'),
    col('time', 'timestamp', 'time of the point (partitions by this, else by start_time)'),
    col('value_double', 'double', 'gauge / sum point with a double value'),
    col('value_int', 'int64', 'gauge / sum point with an integer value'),
    col('count', 'int64', 'histogram, exponential histogram, summary'),
    col('sum', 'double', 'histogram, exponential histogram, summary'),
    col('min', 'double', 'histogram, exponential histogram'),
    col('max', 'double', 'histogram, exponential histogram'),
    col('bucket_counts', 'int64_list', 'histogram bucket counts'),
    col('explicit_bounds', 'double_list', 'histogram bucket bounds'),
    col('scale', 'int32', 'exponential histogram'),
    col('zero_count', 'int64', 'exponential histogram'),
    col('zero_threshold', 'double', 'exponential histogram'),
    col('positive_offset', 'int32', 'exponential histogram'),
    col('positive_bucket_counts', 'int64_list', 'exponential histogram'),
    col('negative_offset', 'int32', 'exponential histogram'),
    col('negative_bucket_counts', 'int64_list', 'exponential histogram'),
    col('quantiles', 'double_list', 'summary: the quantiles (0-1)…'),
    col('quantile_values', 'double_list', '…and their values, in the same order'),
    col('flags', 'int32', 'data point flags (1 = no recorded value)'),
    col('exemplars', 'string', 'JSON array of `{time, value, trace_id, span_id, attributes}`; NULL when none'),
    SERVICE_NAME,
    RESOURCE_ATTRIBUTES,
    SCOPE_NAME,
    SCOPE_VERSION,
    col('attributes', 'map', 'data point attributes'),
    col('start_time_unix_nano', 'int64', 'start_time to the nanosecond'),
    col('time_unix_nano', 'int64', 'time to the nanosecond'),
  ],
};

export const TABLES: Record<Signal, TableSchema> = { traces: SPANS_TABLE, logs: LOGS_TABLE, metrics: METRICS_TABLE };
