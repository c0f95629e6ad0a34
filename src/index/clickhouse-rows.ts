// Index rows, both ways: written as TabSeparated (clickhouse-tsv.ts), read as JSONEachRow. 64-bit integers are
// decimal strings (ClickHouse writes them quoted with output_format_json_quote_64bit_integers=1), so nothing passes
// through a double. The outbox stores these same rows as JSON, so it and ClickHouse decode alike.

import { InvalidArgumentError } from '../errors.js';
import type { ArchivedRequest, ObjectMeta } from '../model.js';
import type { ColumnKind, InsertColumns } from './clickhouse-tsv.js';
import { objectFromColumns, requestFromColumns, type ObjectColumns, type RequestColumns } from './row-mapping.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Times are Int64 columns: values outside (only garbage timestamps get there) are clamped, as SQLite does. */
export function clampInt64(value: bigint): bigint {
  return value < INT64_MIN ? INT64_MIN : value > INT64_MAX ? INT64_MAX : value;
}

type Int = string | number;

export interface RequestRow extends RequestColumns<Int> {
  services: string[];
  /** Which write of the row this is (commit or retention time, unix ms): the highest wins when copies meet. */
  version?: Int;
}

export interface ObjectRow extends ObjectColumns<Int> {
  version?: Int;
}

// Every column an insert writes, with how its values are written (clickhouse-tsv.ts): the one list of each table's
// columns. The read lists (REQUEST_COLUMNS, OBJECT_COLUMNS) are these without `version`.
export const REQUEST_INSERT_COLUMNS = [
  ['id', 'string'],
  ['tenant', 'string'],
  ['signal', 'string'],
  ['received_at_ms', 'int'],
  ['items', 'int'],
  ['services', 'strings'],
  ['start_ns', 'int'],
  ['end_ns', 'int'],
  ['raw_bytes', 'int'],
  ['object_key', 'string'],
  ['block_offset', 'int'],
  ['block_length', 'int'],
  ['codec', 'string'],
  ['crc32', 'int'],
  ['fingerprint', 'string'],
  ['version', 'int'],
] as const satisfies readonly (readonly [keyof Required<RequestRow>, ColumnKind])[];

export const OBJECT_INSERT_COLUMNS = [
  ['key', 'string'],
  ['tenant', 'string'],
  ['signal', 'string'],
  ['created_at_ms', 'int'],
  ['sealed_at_ms', 'int'],
  ['request_count', 'int'],
  ['raw_bytes', 'int'],
  ['stored_bytes', 'int'],
  ['codec', 'string'],
  ['start_ns', 'int'],
  ['end_ns', 'int'],
  ['version', 'int'],
] as const satisfies readonly (readonly [keyof Required<ObjectRow>, ColumnKind])[];

const withoutVersion = <T extends string>(columns: readonly (readonly [T, ColumnKind])[]): Exclude<T, 'version'>[] =>
  columns.map(([name]) => name).filter((name): name is Exclude<T, 'version'> => name !== 'version');

export const REQUEST_COLUMNS: readonly (keyof RequestRow)[] = withoutVersion(REQUEST_INSERT_COLUMNS);

export const OBJECT_COLUMNS: readonly (keyof ObjectRow)[] = withoutVersion(OBJECT_INSERT_COLUMNS);

/** One (trace, request) pair of the trace index; trace_id is 32 lowercase hex digits. */
export interface TraceRow {
  trace_id: string;
  request_id: string;
  tenant: string;
}

export const TRACE_INSERT_COLUMNS = [
  ['trace_id', 'string'],
  ['request_id', 'string'],
  ['tenant', 'string'],
] as const satisfies readonly (readonly [keyof TraceRow, ColumnKind])[];

export const TRACE_COLUMNS: readonly (keyof TraceRow)[] = TRACE_INSERT_COLUMNS.map(([name]) => name);

/** The small tables written straight to ClickHouse (retention, verify --repair, migrations). */
export const RETIRED_INSERT_COLUMNS: InsertColumns = [
  ['key', 'string'],
  ['retired_at_ms', 'int'],
];
export const QUARANTINE_INSERT_COLUMNS: InsertColumns = [
  ['id', 'string'],
  ['reason', 'string'],
  ['at_ms', 'int'],
];
export const MIGRATION_INSERT_COLUMNS: InsertColumns = [
  ['version', 'int'],
  ['description', 'string'],
  ['applied_at_ms', 'int'],
];

/** The insert columns of each table the index writes rows into. */
export const INSERT_COLUMNS = {
  requests: REQUEST_INSERT_COLUMNS,
  objects: OBJECT_INSERT_COLUMNS,
  trace_requests: TRACE_INSERT_COLUMNS,
  retired_objects: RETIRED_INSERT_COLUMNS,
  quarantined_requests: QUARANTINE_INSERT_COLUMNS,
  schema_migrations: MIGRATION_INSERT_COLUMNS,
} as const satisfies Record<string, InsertColumns>;

export type InsertTable = keyof typeof INSERT_COLUMNS;

const int = (value: number | bigint): string => value.toString();

/** @throws InvalidArgumentError unless `traceId` is 32 lowercase hex digits (the form the trace index keeps). */
export function checkTraceId(traceId: string): string {
  if (!/^[0-9a-f]{32}$/.test(traceId)) throw new InvalidArgumentError(`a trace id is 32 lowercase hex digits: got ${JSON.stringify(traceId)}`);
  return traceId;
}

/** The trace rows of these requests: one per distinct trace id of each. */
export function traceRows(requests: readonly ArchivedRequest[]): TraceRow[] {
  const rows: TraceRow[] = [];
  for (const r of requests) {
    for (const traceId of new Set(r.traceIds ?? [])) rows.push({ trace_id: checkTraceId(traceId), request_id: r.id, tenant: r.tenant });
  }
  return rows;
}

/** The row of a request as written now (`version`: the write's time, unix ms). */
export function requestRow(r: ArchivedRequest, version: number = Date.now()): RequestRow {
  return {
    id: r.id,
    tenant: r.tenant,
    signal: r.signal,
    received_at_ms: int(r.receivedAtMs),
    items: int(r.items),
    services: [...r.services],
    start_ns: int(clampInt64(r.startNs)),
    end_ns: int(clampInt64(r.endNs)),
    raw_bytes: int(r.rawBytes),
    object_key: r.objectKey,
    block_offset: int(r.offset),
    block_length: int(r.length),
    codec: r.codec,
    crc32: r.crc32,
    fingerprint: r.fingerprint ?? '',
    version: int(version),
  };
}

export function objectRow(o: ObjectMeta, version: number = Date.now()): ObjectRow {
  return {
    key: o.key,
    tenant: o.tenant,
    signal: o.signal,
    created_at_ms: int(o.createdAtMs),
    sealed_at_ms: int(o.sealedAtMs),
    request_count: int(o.requestCount),
    raw_bytes: int(o.rawBytes),
    stored_bytes: int(o.storedBytes),
    codec: o.codec,
    start_ns: int(clampInt64(o.startNs)),
    end_ns: int(clampInt64(o.endNs)),
    version: int(version),
  };
}

export function requestFromRow(row: RequestRow): ArchivedRequest {
  return requestFromColumns(row, row.services);
}

export const objectFromRow: (row: ObjectRow) => ObjectMeta = objectFromColumns;
