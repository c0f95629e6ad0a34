// The OTLP messages as the wire scanner sees them: field numbers, wire types and nesting, per proto/opentelemetry.
// Only what framing validation needs; the .proto files stay the source of truth (tests compare against protobufjs).
import { WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT } from './wire.js';
import type { FieldSpec, MessageSchema, PackedElement } from './wire.js';

function message(name: string): MessageSchema {
  return { name, fields: [] };
}

function define(schema: MessageSchema, fields: Record<number, FieldSpec>): void {
  for (const [number, spec] of Object.entries(fields)) schema.fields[Number(number)] = spec;
}

const spec = (name: string, wire: number, extra: Partial<FieldSpec> = {}): FieldSpec =>
  ({ name, wire, packed: null, message: null, idLength: 0, ...extra });

const varint = (name: string): FieldSpec => spec(name, WIRE_VARINT);
const fixed64 = (name: string): FieldSpec => spec(name, WIRE_I64);
const fixed32 = (name: string): FieldSpec => spec(name, WIRE_I32);
const bytes = (name: string): FieldSpec => spec(name, WIRE_LEN);
const sub = (name: string, schema: MessageSchema): FieldSpec => spec(name, WIRE_LEN, { message: schema });
const traceId = (name: string): FieldSpec => spec(name, WIRE_LEN, { idLength: 16 });
const spanId = (name: string): FieldSpec => spec(name, WIRE_LEN, { idLength: 8 });
const repeatedNumber = (name: string, wire: number, packed: PackedElement): FieldSpec => spec(name, wire, { packed });

// common.v1
export const ANY_VALUE = message('AnyValue');
export const ARRAY_VALUE = message('ArrayValue');
export const KEY_VALUE_LIST = message('KeyValueList');
export const KEY_VALUE = message('KeyValue');
export const INSTRUMENTATION_SCOPE = message('InstrumentationScope');
export const ENTITY_REF = message('EntityRef');
define(ANY_VALUE, {
  1: bytes('string_value'), 2: varint('bool_value'), 3: varint('int_value'), 4: fixed64('double_value'),
  5: sub('array_value', ARRAY_VALUE), 6: sub('kvlist_value', KEY_VALUE_LIST), 7: bytes('bytes_value'),
});
define(ARRAY_VALUE, { 1: sub('values', ANY_VALUE) });
define(KEY_VALUE_LIST, { 1: sub('values', KEY_VALUE) });
define(KEY_VALUE, { 1: bytes('key'), 2: sub('value', ANY_VALUE) });
define(INSTRUMENTATION_SCOPE, {
  1: bytes('name'), 2: bytes('version'), 3: sub('attributes', KEY_VALUE), 4: varint('dropped_attributes_count'),
});
define(ENTITY_REF, { 1: bytes('schema_url'), 2: bytes('type'), 3: bytes('id_keys'), 4: bytes('description_keys') });

// resource.v1
export const RESOURCE = message('Resource');
define(RESOURCE, { 1: sub('attributes', KEY_VALUE), 2: varint('dropped_attributes_count'), 3: sub('entity_refs', ENTITY_REF) });

// trace.v1
export const SPAN = message('Span');
export const SPAN_EVENT = message('Span.Event');
export const SPAN_LINK = message('Span.Link');
export const STATUS = message('Status');
export const SCOPE_SPANS = message('ScopeSpans');
export const RESOURCE_SPANS = message('ResourceSpans');
export const EXPORT_TRACE_REQUEST = message('ExportTraceServiceRequest');
define(SPAN_EVENT, {
  1: fixed64('time_unix_nano'), 2: bytes('name'), 3: sub('attributes', KEY_VALUE), 4: varint('dropped_attributes_count'),
});
define(SPAN_LINK, {
  1: traceId('trace_id'), 2: spanId('span_id'), 3: bytes('trace_state'), 4: sub('attributes', KEY_VALUE),
  5: varint('dropped_attributes_count'), 6: fixed32('flags'),
});
define(STATUS, { 2: bytes('message'), 3: varint('code') });
define(SPAN, {
  1: traceId('trace_id'), 2: spanId('span_id'), 3: bytes('trace_state'), 4: spanId('parent_span_id'), 5: bytes('name'),
  6: varint('kind'), 7: fixed64('start_time_unix_nano'), 8: fixed64('end_time_unix_nano'), 9: sub('attributes', KEY_VALUE),
  10: varint('dropped_attributes_count'), 11: sub('events', SPAN_EVENT), 12: varint('dropped_events_count'),
  13: sub('links', SPAN_LINK), 14: varint('dropped_links_count'), 15: sub('status', STATUS), 16: fixed32('flags'),
});
define(SCOPE_SPANS, { 1: sub('scope', INSTRUMENTATION_SCOPE), 2: sub('spans', SPAN), 3: bytes('schema_url') });
define(RESOURCE_SPANS, { 1: sub('resource', RESOURCE), 2: sub('scope_spans', SCOPE_SPANS), 3: bytes('schema_url') });
define(EXPORT_TRACE_REQUEST, { 1: sub('resource_spans', RESOURCE_SPANS) });

// metrics.v1
export const EXEMPLAR = message('Exemplar');
export const NUMBER_DATA_POINT = message('NumberDataPoint');
export const HISTOGRAM_DATA_POINT = message('HistogramDataPoint');
export const EXPONENTIAL_HISTOGRAM_DATA_POINT = message('ExponentialHistogramDataPoint');
export const BUCKETS = message('ExponentialHistogramDataPoint.Buckets');
export const SUMMARY_DATA_POINT = message('SummaryDataPoint');
export const VALUE_AT_QUANTILE = message('SummaryDataPoint.ValueAtQuantile');
export const GAUGE = message('Gauge');
export const SUM = message('Sum');
export const HISTOGRAM = message('Histogram');
export const EXPONENTIAL_HISTOGRAM = message('ExponentialHistogram');
export const SUMMARY = message('Summary');
export const METRIC = message('Metric');
export const SCOPE_METRICS = message('ScopeMetrics');
export const RESOURCE_METRICS = message('ResourceMetrics');
export const EXPORT_METRICS_REQUEST = message('ExportMetricsServiceRequest');
define(EXEMPLAR, {
  7: sub('filtered_attributes', KEY_VALUE), 2: fixed64('time_unix_nano'), 3: fixed64('as_double'), 6: fixed64('as_int'),
  4: spanId('span_id'), 5: traceId('trace_id'),
});
define(NUMBER_DATA_POINT, {
  7: sub('attributes', KEY_VALUE), 2: fixed64('start_time_unix_nano'), 3: fixed64('time_unix_nano'),
  4: fixed64('as_double'), 6: fixed64('as_int'), 5: sub('exemplars', EXEMPLAR), 8: varint('flags'),
});
define(HISTOGRAM_DATA_POINT, {
  9: sub('attributes', KEY_VALUE), 2: fixed64('start_time_unix_nano'), 3: fixed64('time_unix_nano'), 4: fixed64('count'),
  5: fixed64('sum'), 6: repeatedNumber('bucket_counts', WIRE_I64, 'fixed64'),
  7: repeatedNumber('explicit_bounds', WIRE_I64, 'fixed64'), 8: sub('exemplars', EXEMPLAR), 10: varint('flags'),
  11: fixed64('min'), 12: fixed64('max'),
});
define(BUCKETS, { 1: varint('offset'), 2: repeatedNumber('bucket_counts', WIRE_VARINT, 'varint') });
define(EXPONENTIAL_HISTOGRAM_DATA_POINT, {
  1: sub('attributes', KEY_VALUE), 2: fixed64('start_time_unix_nano'), 3: fixed64('time_unix_nano'), 4: fixed64('count'),
  5: fixed64('sum'), 6: varint('scale'), 7: fixed64('zero_count'), 8: sub('positive', BUCKETS), 9: sub('negative', BUCKETS),
  10: varint('flags'), 11: sub('exemplars', EXEMPLAR), 12: fixed64('min'), 13: fixed64('max'), 14: fixed64('zero_threshold'),
});
define(VALUE_AT_QUANTILE, { 1: fixed64('quantile'), 2: fixed64('value') });
define(SUMMARY_DATA_POINT, {
  7: sub('attributes', KEY_VALUE), 2: fixed64('start_time_unix_nano'), 3: fixed64('time_unix_nano'), 4: fixed64('count'),
  5: fixed64('sum'), 6: sub('quantile_values', VALUE_AT_QUANTILE), 8: varint('flags'),
});
define(GAUGE, { 1: sub('data_points', NUMBER_DATA_POINT) });
define(SUM, { 1: sub('data_points', NUMBER_DATA_POINT), 2: varint('aggregation_temporality'), 3: varint('is_monotonic') });
define(HISTOGRAM, { 1: sub('data_points', HISTOGRAM_DATA_POINT), 2: varint('aggregation_temporality') });
define(EXPONENTIAL_HISTOGRAM, { 1: sub('data_points', EXPONENTIAL_HISTOGRAM_DATA_POINT), 2: varint('aggregation_temporality') });
define(SUMMARY, { 1: sub('data_points', SUMMARY_DATA_POINT) });
define(METRIC, {
  1: bytes('name'), 2: bytes('description'), 3: bytes('unit'), 5: sub('gauge', GAUGE), 7: sub('sum', SUM),
  9: sub('histogram', HISTOGRAM), 10: sub('exponential_histogram', EXPONENTIAL_HISTOGRAM), 11: sub('summary', SUMMARY),
  12: sub('metadata', KEY_VALUE),
});
define(SCOPE_METRICS, { 1: sub('scope', INSTRUMENTATION_SCOPE), 2: sub('metrics', METRIC), 3: bytes('schema_url') });
define(RESOURCE_METRICS, { 1: sub('resource', RESOURCE), 2: sub('scope_metrics', SCOPE_METRICS), 3: bytes('schema_url') });
define(EXPORT_METRICS_REQUEST, { 1: sub('resource_metrics', RESOURCE_METRICS) });

// logs.v1
export const LOG_RECORD = message('LogRecord');
export const SCOPE_LOGS = message('ScopeLogs');
export const RESOURCE_LOGS = message('ResourceLogs');
export const EXPORT_LOGS_REQUEST = message('ExportLogsServiceRequest');
define(LOG_RECORD, {
  1: fixed64('time_unix_nano'), 11: fixed64('observed_time_unix_nano'), 2: varint('severity_number'),
  3: bytes('severity_text'), 5: sub('body', ANY_VALUE), 6: sub('attributes', KEY_VALUE),
  7: varint('dropped_attributes_count'), 8: fixed32('flags'), 9: traceId('trace_id'), 10: spanId('span_id'),
  12: bytes('event_name'),
});
define(SCOPE_LOGS, { 1: sub('scope', INSTRUMENTATION_SCOPE), 2: sub('log_records', LOG_RECORD), 3: bytes('schema_url') });
define(RESOURCE_LOGS, { 1: sub('resource', RESOURCE), 2: sub('scope_logs', SCOPE_LOGS), 3: bytes('schema_url') });
define(EXPORT_LOGS_REQUEST, { 1: sub('resource_logs', RESOURCE_LOGS) });
