// The statements behind distinct requests on ClickHouse (schema version 4; valid on 18.16 and current releases):
// twin lookups by full primary-key prefix (tenant, signal) and id range, and the count of duplicates in a selection.
import type { RequestFilter } from '../model.js';
import { hasService } from './clickhouse-queries.js';
import { clampInt64 } from './clickhouse-rows.js';
import type { TableNames } from './clickhouse-schema.js';
import { literal } from './clickhouse-sql.js';
import type { TwinRange } from './index-store.js';

/**
 * Every stored copy of the requests in these ranges: each range is a (tenant, signal, id) key range of requests, the
 * fingerprint checked on the few rows in it.
 */
export function twinsQuery(names: TableNames, ranges: readonly TwinRange[]): string {
  const clauses = ranges.map(
    (r) =>
      `(tenant = ${literal(r.tenant)} AND signal = ${literal(r.signal)} AND id >= ${literal(r.fromId)} AND id < ${literal(r.toId)} ` +
      `AND fingerprint = ${literal(r.fingerprint)})`,
  );
  return (
    `SELECT id, tenant, signal, fingerprint, object_key, toString(version) AS version_text FROM ${names.read('requests')} ` +
    `WHERE ${clauses.join(' OR ')}`
  );
}

const ULID_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** The receipt millisecond of a ULID column (its first 10 Crockford base32 characters), as Int64. */
export function idTimeSql(column: string): string {
  const terms: string[] = [];
  for (let i = 1; i <= 10; i++) {
    terms.push(`(toInt64(position(${literal(ULID_ALPHABET)}, substring(${column}, ${i}, 1))) - 1) * ${32 ** (10 - i)}`);
  }
  return `(${terms.join(' + ')})`;
}

/**
 * How many requests of the filter have a twin received at most `windowMs` before them: per (tenant, signal,
 * fingerprint) group of the selection, the receipt times in order, counting each that follows the previous one within
 * the window. Twins have the same bytes, so the same services and data times: a request's twins are in the selection
 * whenever it is (requests without data timestamps aside: their data time is their receipt time). Each request's
 * latest copy counts once, rows of retired objects not at all, as countQuery does.
 */
export function duplicateCountQuery(names: TableNames, filter: RequestFilter, windowMs: number): string {
  const clauses = ["fingerprint != ''"];
  if (filter.tenant !== undefined) clauses.push(`tenant = ${literal(filter.tenant)}`);
  if (filter.signal !== undefined) clauses.push(`signal = ${literal(filter.signal)}`);
  if (filter.service !== undefined) clauses.push(hasService(filter.service));
  if (filter.sinceNs !== undefined) clauses.push(`end_ns >= ${literal(clampInt64(filter.sinceNs))}`);
  if (filter.untilNs !== undefined) clauses.push(`start_ns <= ${literal(clampInt64(filter.untilNs))}`);
  const rows =
    `SELECT id, any(tenant) AS twin_tenant, any(signal) AS twin_signal, any(fingerprint) AS twin_fingerprint, ` +
    `argMax(object_key, version) AS current_key FROM ${names.read('requests')} WHERE ${clauses.join(' AND ')} GROUP BY id`;
  const groups =
    `SELECT arraySort(groupArray(${idTimeSql('id')})) AS times FROM (${rows}) ` +
    `WHERE current_key NOT IN (SELECT key FROM ${names.read('retired_objects')}) ` +
    'GROUP BY twin_tenant, twin_signal, twin_fingerprint HAVING count() > 1';
  return (
    `SELECT toString(sum(length(arrayFilter((later, earlier) -> later - earlier <= ${literal(Math.floor(windowMs))}, ` +
    `arrayPopFront(times), arrayPopBack(times))))) AS n FROM (${groups})`
  );
}
