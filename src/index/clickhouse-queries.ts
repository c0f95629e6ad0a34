// The SELECT statements of every read path, as text (no query parameters in 18.16: values go through `literal`).
// The store runs exactly these, with FORMAT JSONEachRow appended by the client; tests run them on ClickHouse 18.16
// and on a current ClickHouse (chdb).
//
// 64-bit columns are selected through toString(): JSON would otherwise carry them as numbers on servers whose
// output_format_json_quote_64bit_integers is 0 (the default on current releases), and a double cannot hold every
// ns time. No setting is sent instead, because users with readonly=1 may not change settings. The aliases differ
// from the column names: in ClickHouse an alias is visible in WHERE, where it would shadow the column.

import type { RequestFilter } from '../model.js';
import { identifier, literal } from './clickhouse-sql.js';
import {
  OBJECT_COLUMNS,
  REQUEST_COLUMNS,
  clampInt64,
  type ObjectRow,
  type RequestRow,
} from './clickhouse-rows.js';

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

const REQUEST_SELECT = selectList(REQUEST_COLUMNS);
const OBJECT_SELECT = selectList(OBJECT_COLUMNS);

const where = (clauses: string[]): string => (clauses.length > 0 ? ` WHERE ${clauses.join(' AND ')}` : '');

/**
 * Retention removes an object by recording its key in `retired_objects` (18.16 has no synchronous deletes): every
 * read leaves out rows that point at a retired key. In a FINAL query WHERE applies to the collapsed row (checked on
 * 18.16 and current releases), so a request moved to a new object is shown at its new location.
 */
const notRetired = (database: string, column: 'object_key' | 'key'): string =>
  `${column} NOT IN (SELECT key FROM ${identifier(database)}.retired_objects)`;

/** Requests matching the filter, in id order: the SQL twin of `matchesRequestFilter`. */
export function listRequestsQuery(database: string, filter: RequestFilter, limit: number): string {
  const clauses: string[] = [];
  if (filter.signal !== undefined) clauses.push(`signal = ${literal(filter.signal)}`);
  if (filter.tenant !== undefined) clauses.push(`tenant = ${literal(filter.tenant)}`);
  if (filter.service !== undefined) clauses.push(`has(services, ${literal(filter.service)})`);
  if (filter.sinceNs !== undefined) clauses.push(`end_ns >= ${literal(clampInt64(filter.sinceNs))}`);
  if (filter.untilNs !== undefined) clauses.push(`start_ns <= ${literal(clampInt64(filter.untilNs))}`);
  if (filter.afterId !== undefined) clauses.push(`id > ${literal(filter.afterId)}`);
  clauses.push(notRetired(database, 'object_key'));
  return `SELECT ${REQUEST_SELECT} FROM ${identifier(database)}.requests FINAL${where(clauses)} ORDER BY id LIMIT ${literal(limit)}`;
}

export function getRequestQuery(database: string, id: string): string {
  return (
    `SELECT ${REQUEST_SELECT} FROM ${identifier(database)}.requests FINAL WHERE id = ${literal(id)} ` +
    `AND ${notRetired(database, 'object_key')} LIMIT 1`
  );
}

/** Ids of the requests holding spans of a trace (optionally of one tenant). DISTINCT collapses duplicate rows. */
export function traceRequestIdsQuery(database: string, traceId: string, tenant?: string): string {
  const byTenant = tenant === undefined ? '' : ` AND tenant = ${literal(tenant)}`;
  return `SELECT DISTINCT request_id FROM ${identifier(database)}.trace_requests WHERE trace_id = ${literal(traceId)}${byTenant}`;
}

/** These requests (optionally only of one tenant), in id order. */
export function requestsByIdQuery(database: string, ids: readonly string[], tenant?: string): string {
  const byTenant = tenant === undefined ? '' : ` AND tenant = ${literal(tenant)}`;
  return (
    `SELECT ${REQUEST_SELECT} FROM ${identifier(database)}.requests FINAL ` +
    `WHERE id IN (${ids.map((id) => literal(id)).join(', ')})${byTenant} AND ${notRetired(database, 'object_key')} ORDER BY id`
  );
}

/**
 * Which of these ids have a row that points at a live object. No FINAL: DISTINCT already collapses duplicates, and a
 * request moved by retention has a row at its new location.
 */
export function knownIdsQuery(database: string, ids: readonly string[]): string {
  return (
    `SELECT DISTINCT id FROM ${identifier(database)}.requests WHERE id IN (${ids.map((id) => literal(id)).join(', ')}) ` +
    `AND ${notRetired(database, 'object_key')}`
  );
}

/** Which of these object keys retention has retired. */
export function retiredKeysQuery(database: string, keys: readonly string[]): string {
  return `SELECT DISTINCT key FROM ${identifier(database)}.retired_objects WHERE key IN (${keys.map((key) => literal(key)).join(', ')})`;
}

export function listObjectsQuery(database: string, filter: ObjectFilter, limit: number): string {
  const clauses: string[] = [];
  if (filter.tenant !== undefined) clauses.push(`tenant = ${literal(filter.tenant)}`);
  if (filter.signal !== undefined) clauses.push(`signal = ${literal(filter.signal)}`);
  if (filter.afterKey !== undefined) clauses.push(`key > ${literal(filter.afterKey)}`);
  if (filter.minStoredBytes !== undefined) clauses.push(`stored_bytes >= ${literal(filter.minStoredBytes)}`);
  if (filter.newestBeforeMs !== undefined) {
    const ms = Math.floor(filter.newestBeforeMs);
    clauses.push(`sealed_at_ms < ${literal(ms)} AND end_ns < ${literal(clampInt64(BigInt(ms) * 1_000_000n))}`);
  }
  clauses.push(notRetired(database, 'key'));
  return `SELECT ${OBJECT_SELECT} FROM ${identifier(database)}.objects FINAL${where(clauses)} ORDER BY key LIMIT ${literal(limit)}`;
}

export function getObjectQuery(database: string, key: string): string {
  return (
    `SELECT ${OBJECT_SELECT} FROM ${identifier(database)}.objects FINAL WHERE key = ${literal(key)} ` +
    `AND ${notRetired(database, 'key')} LIMIT 1`
  );
}

/** Where these requests' rows point now (retired or not): what retention's replaceObject moves. */
export function requestLocationsQuery(database: string, ids: readonly string[]): string {
  return `SELECT id, object_key FROM ${identifier(database)}.requests FINAL WHERE id IN (${ids.map((id) => literal(id)).join(', ')})`;
}

export function tablesQuery(database: string): string {
  return `SELECT name FROM system.tables WHERE database = ${literal(identifier(database))}`;
}

export function schemaVersionQuery(database: string): string {
  return `SELECT toString(max(version)) AS version FROM ${identifier(database)}.schema_migrations`;
}

/** The JS twin of listRequestsQuery's WHERE clause, for rows not yet in ClickHouse (the outbox). */
export function matchesRequestFilter(row: RequestRow, filter: RequestFilter): boolean {
  return (
    (filter.signal === undefined || row.signal === filter.signal) &&
    (filter.tenant === undefined || row.tenant === filter.tenant) &&
    (filter.service === undefined || row.services.includes(filter.service)) &&
    (filter.sinceNs === undefined || BigInt(row.end_ns) >= clampInt64(filter.sinceNs)) &&
    (filter.untilNs === undefined || BigInt(row.start_ns) <= clampInt64(filter.untilNs)) &&
    (filter.afterId === undefined || row.id > filter.afterId)
  );
}

export function matchesObjectFilter(row: ObjectRow, filter: ObjectFilter): boolean {
  return (
    (filter.tenant === undefined || row.tenant === filter.tenant) &&
    (filter.signal === undefined || row.signal === filter.signal) &&
    (filter.afterKey === undefined || row.key > filter.afterKey) &&
    (filter.minStoredBytes === undefined || Number(row.stored_bytes) >= filter.minStoredBytes) &&
    (filter.newestBeforeMs === undefined ||
      (Number(row.sealed_at_ms) < Math.floor(filter.newestBeforeMs) &&
        BigInt(row.end_ns) < clampInt64(BigInt(Math.floor(filter.newestBeforeMs)) * 1_000_000n)))
  );
}
