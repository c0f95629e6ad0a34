// The SELECT statements of every read path on schema version 4, as text (no query parameters in 18.16: values go
// through `literal`). Tests run them on ClickHouse 18.16 and on a current ClickHouse (chdb).
//
// No read uses FINAL or a NOT IN over a whole table: a listing first finds the ids of a page in the narrowest copy
// that has the filter as a key range (request_ids by id, requests by tenant/signal/id, request_services by
// service/id), within id windows sized by request_buckets; then it reads those rows by their full key, every copy
// of each (rows not merged yet), and keeps the highest version (rowsByKeysQuery + collapse). Retired object keys are
// then looked up for that page's keys only (retiredKeysQuery).
//
// 64-bit columns are selected through toString(): JSON would otherwise carry them as numbers on servers whose
// output_format_json_quote_64bit_integers is 0 (the default on current releases), and a double cannot hold every
// ns time. No setting is sent instead, because users with readonly=1 may not change settings. The aliases differ
// from the column names: in ClickHouse an alias is visible in WHERE, where it would shadow the column.

import type { RequestFilter } from '../model.js';
import { literal } from './clickhouse-sql.js';
import { OBJECT_COLUMNS, REQUEST_COLUMNS, clampInt64, type ObjectRow, type RequestRow } from './clickhouse-rows.js';
import type { TableNames } from './clickhouse-schema.js';
import type { BucketStart, IdRange } from './request-windows.js';

export interface ObjectFilter {
  tenant?: string;
  signal?: string;
  afterKey?: string;
  /** Only objects whose seal time and newest data time are both before this (unix ms). */
  newestBeforeMs?: number;
  minStoredBytes?: number;
}

const SIXTY_FOUR_BIT = new Set<string>([
  'received_at_ms',
  'items',
  'start_ns',
  'end_ns',
  'raw_bytes',
  'block_offset',
  'block_length',
  'created_at_ms',
  'sealed_at_ms',
  'request_count',
  'stored_bytes',
  'version',
]);
const TEXT_SUFFIX = '_text';

function selectList(columns: readonly string[]): string {
  return columns.map((c) => (SIXTY_FOUR_BIT.has(c) ? `toString(${c}) AS ${c}${TEXT_SUFFIX}` : c)).join(', ');
}

/** A selected row back in the shape of an inserted one (the toString aliases renamed to their columns). */
function unalias<T>(row: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(row)) {
    out[name.endsWith(TEXT_SUFFIX) ? name.slice(0, -TEXT_SUFFIX.length) : name] = value;
  }
  return out as T;
}

export const requestFromSelected = (row: Record<string, unknown>): RequestRow => unalias<RequestRow>(row);
export const objectFromSelected = (row: Record<string, unknown>): ObjectRow => unalias<ObjectRow>(row);

const REQUEST_SELECT = selectList([...REQUEST_COLUMNS, 'version']);
const OBJECT_SELECT = selectList([...OBJECT_COLUMNS, 'version']);

const where = (clauses: readonly string[]): string => (clauses.length > 0 ? ` WHERE ${clauses.join(' AND ')}` : '');
const list = (values: readonly string[]): string => values.map((value) => literal(value)).join(', ');

function rangeClause(column: string, ranges: readonly IdRange[]): string | null {
  if (ranges.length === 0) return null;
  const parts = ranges.map((r) => `(${column} >= ${literal(r.from)} AND ${column} < ${literal(r.to)})`);
  return parts.length === 1 ? parts[0]! : `(${parts.join(' OR ')})`;
}

/**
 * "The services column holds this service". Not has() alone: on current ClickHouse (checked on 26.x), has() over an
 * Array(LowCardinality(String)) never finds '' (the dictionary's default value), so the empty service name, a value
 * a Collector can send, would match nothing. has() keeps the bloom-filter index for every other name.
 */
export function hasService(service: string): string {
  return service === '' ? "arrayExists(s -> s = '', services)" : `has(services, ${literal(service)})`;
}

function timeClauses(filter: RequestFilter): string[] {
  const clauses: string[] = [];
  if (filter.sinceNs !== undefined) clauses.push(`end_ns >= ${literal(clampInt64(filter.sinceNs))}`);
  if (filter.untilNs !== undefined) clauses.push(`start_ns <= ${literal(clampInt64(filter.untilNs))}`);
  return clauses;
}

function streamClauses(filter: { tenant?: string; signal?: string }): string[] {
  const clauses: string[] = [];
  if (filter.tenant !== undefined) clauses.push(`tenant = ${literal(filter.tenant)}`);
  if (filter.signal !== undefined) clauses.push(`signal = ${literal(filter.signal)}`);
  return clauses;
}

/** Which copy a listing finds its ids in: the one whose key starts with the filter. */
export function idSource(filter: RequestFilter): 'request_services' | 'requests' | 'request_ids' {
  if (filter.service !== undefined) return 'request_services';
  if (filter.tenant !== undefined) return 'requests';
  return 'request_ids';
}

/**
 * Buckets of receive time that may hold requests of the filter's tenant and signal whose data times overlap its
 * window, in listing order from `start`: bucket and how many rows it holds (duplicates and deleted rows included).
 */
export function bucketsQuery(
  names: TableNames,
  filter: RequestFilter,
  start: BucketStart | null,
  max: number,
  newestFirst: boolean,
  /** The far end of the window (inclusive), so that only a window of buckets is aggregated, not all of them. */
  bound: string | null = null,
): string {
  const clauses = streamClauses(filter);
  if (start !== null) clauses.push(`bucket ${newestFirst ? '<' : '>'}${start.inclusive ? '=' : ''} ${literal(start.bucket)}`);
  if (bound !== null) clauses.push(`bucket ${newestFirst ? '>=' : '<='} ${literal(bound)}`);
  const having: string[] = [];
  if (filter.sinceNs !== undefined) having.push(`maxMerge(max_end_ns) >= ${literal(clampInt64(filter.sinceNs))}`);
  if (filter.untilNs !== undefined) having.push(`minMerge(min_start_ns) <= ${literal(clampInt64(filter.untilNs))}`);
  return (
    `SELECT bucket, toString(countMerge(requests)) AS requests FROM ${names.read('request_buckets')}${where(clauses)} ` +
    `GROUP BY bucket${having.length > 0 ? ` HAVING ${having.join(' AND ')}` : ''} ORDER BY bucket${newestFirst ? ' DESC' : ''} LIMIT ${literal(max)}`
  );
}

/** The first and last bucket holding requests of the filter's tenant and signal ('' when none). */
export function bucketExtentQuery(names: TableNames, filter: RequestFilter): string {
  return `SELECT min(bucket) AS first, max(bucket) AS last FROM ${names.read('request_buckets')}${where(streamClauses(filter))}`;
}

/**
 * The keys (tenant, signal, id) of the next requests of a listing within the id ranges, past `afterId`, with the
 * object each stored copy points at (a request moved by retention has a copy per location until merged).
 */
export function pageKeysQuery(
  names: TableNames,
  filter: RequestFilter,
  ranges: readonly IdRange[],
  afterId: string | undefined,
  newestFirst: boolean,
  limit: number,
): string {
  const source = idSource(filter);
  const clauses: string[] = [];
  if (source === 'request_services') clauses.push(`service = ${literal(filter.service!)}`);
  clauses.push(...streamClauses(filter));
  const range = rangeClause('id', ranges);
  if (range !== null) clauses.push(range);
  if (afterId !== undefined) clauses.push(`id ${newestFirst ? '<' : '>'} ${literal(afterId)}`);
  // request_services has no data times: those are checked on the rows themselves.
  if (source !== 'request_services') clauses.push(...timeClauses(filter));
  return (
    // No DISTINCT: it made 18.16 hash a whole window (10x slower); the few copies of a request are merged by the caller.
    `SELECT tenant, signal, id, object_key FROM ${names.read(source)}${where(clauses)} ` +
    `ORDER BY id${newestFirst ? ' DESC' : ''} LIMIT ${literal(limit)}`
  );
}

export interface RequestKey {
  tenant: string;
  signal: string;
  id: string;
}

/** The column rowsByKeysQuery adds: 1 when the row's object is retired. */
export const RETIRED_FLAG = 'object_retired';

/**
 * Every stored copy of these requests (by their full primary key, so each is a point lookup), each flagged when the
 * object it points at is retired — looked up among `objectKeys` (the objects their keys said they point at), so the
 * retired table is read only for those.
 */
export function rowsByKeysQuery(names: TableNames, keys: readonly RequestKey[], objectKeys: readonly string[]): string {
  const tuples = keys.map((k) => `(${literal(k.tenant)}, ${literal(k.signal)}, ${literal(k.id)})`).join(', ');
  const retired =
    objectKeys.length === 0
      ? `0 AS ${RETIRED_FLAG}`
      : `object_key IN (SELECT key FROM ${names.read('retired_objects')} WHERE key IN (${list(objectKeys)})) AS ${RETIRED_FLAG}`;
  return `SELECT ${REQUEST_SELECT}, ${retired} FROM ${names.read('requests')} WHERE (tenant, signal, id) IN (${tuples})`;
}

/** Every copy of these requests in the id-ordered copy: who they are and where each copy points. */
export function idsLookupQuery(names: TableNames, ids: readonly string[]): string {
  return (
    `SELECT id, tenant, signal, object_key, toString(version) AS version_text FROM ${names.read('request_ids')} ` +
    `WHERE id IN (${list(ids)})`
  );
}

/** Which of these object keys retention has retired. */
export function retiredKeysQuery(names: TableNames, keys: readonly string[]): string {
  return `SELECT DISTINCT key FROM ${names.read('retired_objects')} WHERE key IN (${list(keys)})`;
}

/** Ids of the requests holding spans of a trace (optionally of one tenant). DISTINCT collapses duplicate rows. */
export function traceRequestIdsQuery(names: TableNames, traceId: string, tenant?: string): string {
  const byTenant = tenant === undefined ? '' : ` AND tenant = ${literal(tenant)}`;
  return `SELECT DISTINCT request_id FROM ${names.read('trace_requests')} WHERE trace_id = ${literal(traceId)}${byTenant}`;
}

/** Keys of objects that may match (any copy matching), in key order: the candidates of a listObjects page. */
export function objectKeysQuery(names: TableNames, filter: ObjectFilter, limit: number): string {
  const clauses = streamClauses(filter);
  if (filter.afterKey !== undefined) clauses.push(`key > ${literal(filter.afterKey)}`);
  if (filter.minStoredBytes !== undefined) clauses.push(`stored_bytes >= ${literal(filter.minStoredBytes)}`);
  if (filter.newestBeforeMs !== undefined) {
    const ms = Math.floor(filter.newestBeforeMs);
    clauses.push(`sealed_at_ms < ${literal(ms)}`);
  }
  return `SELECT DISTINCT key FROM ${names.read('objects')}${where(clauses)} ORDER BY key LIMIT ${literal(limit)}`;
}

/** Every copy of these object rows. */
export function objectsByKeyQuery(names: TableNames, keys: readonly string[]): string {
  return `SELECT ${OBJECT_SELECT} FROM ${names.read('objects')} WHERE key IN (${list(keys)})`;
}

/**
 * Requests in all: the live objects' request counts (each object's latest row; retired keys left out). FINAL here is
 * over the objects table, a thousand times smaller than requests: measured at 250 k objects (50 M requests) it took
 * ~20-80 ms on 18.16, where collapsing by GROUP BY key took 400-700 ms.
 */
export function objectRequestCountQuery(names: TableNames, filter: Pick<RequestFilter, 'tenant' | 'signal'>): string {
  return (
    `SELECT toString(sum(request_count)) AS n FROM ${names.read('objects')} FINAL` +
    `${where([...streamClauses(filter), `key NOT IN (SELECT key FROM ${names.read('retired_objects')})`])}`
  );
}

/** Requests matching a filter with a service or data-time window, counted exactly over the candidate id ranges. */
export function countQuery(names: TableNames, filter: RequestFilter, ranges: readonly IdRange[]): string {
  const byTime = filter.sinceNs !== undefined || filter.untilNs !== undefined;
  const source = byTime ? (filter.service !== undefined || filter.tenant !== undefined ? 'requests' : 'request_ids') : 'request_services';
  const clauses: string[] = [];
  if (source === 'request_services') clauses.push(`service = ${literal(filter.service!)}`);
  if (source === 'requests' && filter.service !== undefined) clauses.push(hasService(filter.service));
  clauses.push(...streamClauses(filter), ...timeClauses(filter));
  const range = rangeClause('id', ranges);
  if (range !== null) clauses.push(range);
  return (
    `SELECT toString(count()) AS n FROM (SELECT id, argMax(object_key, version) AS current_key FROM ${names.read(source)}` +
    `${where(clauses)} GROUP BY id) WHERE current_key NOT IN (SELECT key FROM ${names.read('retired_objects')})`
  );
}

/** The JS twin of the listing's filters, for rows not in ClickHouse yet (the outbox) and for collapsed rows. */
export function matchesRequestFilter(row: RequestRow, filter: RequestFilter): boolean {
  const newest = filter.newestFirst ?? false;
  return (
    (filter.signal === undefined || row.signal === filter.signal) &&
    (filter.tenant === undefined || row.tenant === filter.tenant) &&
    (filter.service === undefined || row.services.includes(filter.service)) &&
    (filter.sinceNs === undefined || BigInt(row.end_ns) >= clampInt64(filter.sinceNs)) &&
    (filter.untilNs === undefined || BigInt(row.start_ns) <= clampInt64(filter.untilNs)) &&
    (filter.afterId === undefined || (newest ? row.id < filter.afterId : row.id > filter.afterId))
  );
}

export function matchesObjectFilter(row: ObjectRow, filter: ObjectFilter): boolean {
  return (
    (filter.tenant === undefined || row.tenant === filter.tenant) &&
    (filter.signal === undefined || row.signal === filter.signal) &&
    (filter.afterKey === undefined || row.key > filter.afterKey) &&
    (filter.minStoredBytes === undefined || Number(row.stored_bytes) >= filter.minStoredBytes) &&
    (filter.newestBeforeMs === undefined || Number(row.sealed_at_ms) < Math.floor(filter.newestBeforeMs))
  );
}

/** Of several stored copies of a row, the one with the highest version (the last one given on a tie). */
export function latest<T extends { version?: string | number }>(rows: readonly T[], keyOf: (row: T) => string): Map<string, T> {
  const out = new Map<string, T>();
  for (const row of rows) {
    const key = keyOf(row);
    const seen = out.get(key);
    if (seen === undefined || BigInt(row.version ?? 0) >= BigInt(seen.version ?? 0)) out.set(key, row);
  }
  return out;
}
