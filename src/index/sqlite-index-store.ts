// IndexStore on SQLite (better-sqlite3): the embedded default.
//
// WAL mode lets CLI readers (their own connections, often `readonly`) read while the server writes; busy_timeout
// makes a connection wait for a lock instead of failing at once. synchronous=FULL because commitObject promises
// durability on resolve: the archiver deletes spool data right after. better-sqlite3 is synchronous, so each call
// runs on the event loop; a 10,000-request commit is one short transaction (see the report in the tests' notes).
//
// INTEGER columns are signed 64-bit. Nanosecond times are bound and read as bigint (safeIntegers), so nothing is
// rounded; values outside the signed 64-bit range (only garbage timestamps get there) are clamped into it.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ArchivedRequest, ObjectMeta, RequestFilter } from '../model.js';
import { checkReplacement } from './replace-checks.js';
import type { IndexStore, ObjectListFilter, QuarantinedRequest, Twin, TwinRange } from './index-store.js';
import { duplicateFloor } from './twin-window.js';
import { BackendUnavailableError, InvalidArgumentError, OtlpCaptureError } from '../errors.js';
import { MIGRATIONS, SCHEMA_VERSION } from './sqlite-schema.js';
import { objectFromColumns, requestFromColumns, type ObjectColumns, type RequestColumns } from './row-mapping.js';
import { BUCKET_CHARS, bucketOf, listInWindows, type BucketCount, type BucketStart, type IdRange } from './request-windows.js';

export interface SqliteIndexStoreOptions {
  /** Open for reading only (CLI readers): never creates, migrates or writes. */
  readonly?: boolean;
  /** How long a connection waits for a lock held by another one. Default 5000 ms. */
  busyTimeoutMs?: number;
}

export const DEFAULT_LIST_LIMIT = 1000;
const ID_BATCH = 500;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function toInt64(value: bigint): bigint {
  return value < INT64_MIN ? INT64_MIN : value > INT64_MAX ? INT64_MAX : value;
}

/** Trace rows per generation of the trace index (see sqlite-schema.ts). */
const TRACE_GENERATION_ROWS = 65_536;
/** Trace rows per INSERT statement. */
const TRACE_ROWS_PER_STATEMENT = 128;
/** Trace rows per transaction when an object has more (~20-40 ms of work each). */
const TRACE_CHUNK_ROWS = 8_192;

/** (trace id bytes, request id) */
type TraceRow = readonly [Buffer, string];

function traceRowsOf(requests: readonly ArchivedRequest[]): TraceRow[] {
  const rows: TraceRow[] = [];
  for (const r of requests) for (const traceId of r.traceIds ?? []) rows.push([traceIdBytes(traceId), r.id]);
  return rows;
}

/** A trace id's 16 bytes, as the trace index stores them. */
function traceIdBytes(hex: string): Buffer {
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new InvalidArgumentError(`a trace id is 32 lowercase hex digits: got ${JSON.stringify(hex)}`);
  return Buffer.from(hex, 'hex');
}

function checkLimit(limit: number | undefined): number {
  const value = limit ?? DEFAULT_LIST_LIMIT;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(`limit must be a positive integer: got ${limit}`);
  }
  return value;
}

interface RequestRow extends RequestColumns<bigint> {
  services: string;
}

type ObjectRow = ObjectColumns<bigint>;

function requestFromRow(row: RequestRow): ArchivedRequest {
  return requestFromColumns(row, JSON.parse(row.services) as string[]);
}

const objectFromRow: (row: ObjectRow) => ObjectMeta = objectFromColumns;

const REQUEST_COLUMNS =
  'r.id, r.tenant, r.signal, r.received_at_ms, r.items, r.services, r.start_ns, r.end_ns, r.raw_bytes, ' +
  'r.object_key, r.block_offset, r.block_length, r.codec, r.crc32, r.fingerprint';

/** Ranges per statement when a listing or count reads many buckets (SQLite's expression depth allows far more). */
const RANGES_PER_QUERY = 64;

/** Where a filter's tenant, signal and data-time window are checked: column names of the table read. */
interface FilterColumns {
  tenant: string;
  signal: string;
  /** Compared with sinceNs (the end of the data-time span). */
  end: string;
  /** Compared with untilNs (the start of the data-time span). */
  start: string;
}

const REQUEST_COLUMNS_R: FilterColumns = { tenant: 'r.tenant', signal: 'r.signal', end: 'r.end_ns', start: 'r.start_ns' };
const BUCKET_COLUMNS: FilterColumns = { tenant: 'tenant', signal: 'signal', end: 'max_end_ns', start: 'min_start_ns' };

/** WHERE clauses (named parameters, added to `params`) for the filter's tenant, signal and data-time overlap. */
function streamAndTimeClauses(filter: RequestFilter, columns: FilterColumns, params: Record<string, unknown>): string[] {
  const where: string[] = [];
  for (const name of ['tenant', 'signal'] as const) {
    if (filter[name] === undefined) continue;
    where.push(`${columns[name]} = @${name}`);
    params[name] = filter[name];
  }
  if (filter.sinceNs !== undefined) {
    where.push(`${columns.end} >= @sinceNs`);
    params.sinceNs = toInt64(filter.sinceNs);
  }
  if (filter.untilNs !== undefined) {
    where.push(`${columns.start} <= @untilNs`);
    params.untilNs = toInt64(filter.untilNs);
  }
  return where;
}

export class SqliteIndexStore implements IndexStore {
  readonly path: string;
  private readonly readonly: boolean;
  private readonly busyTimeoutMs: number;
  private db: Database.Database | undefined;
  /** Prepared list queries by filter shape: only a handful of shapes exist. */
  private readonly listStatements = new Map<string, Database.Statement>();

  constructor(file: string, options: SqliteIndexStoreOptions = {}) {
    this.path = file;
    this.readonly = options.readonly ?? false;
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  }

  describe(): string {
    return `sqlite ${this.path}${this.readonly ? ' (read-only)' : ''}`;
  }

  async start(): Promise<void> {
    if (this.db) return;
    let db: Database.Database;
    try {
      if (!this.readonly && this.path !== ':memory:') mkdirSync(path.dirname(path.resolve(this.path)), { recursive: true });
      db = new Database(this.path, { readonly: this.readonly, fileMustExist: this.readonly });
    } catch (error) {
      throw new BackendUnavailableError(`cannot open SQLite index ${this.path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    try {
      db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
      if (this.readonly) {
        this.checkVersion(Number(db.pragma('user_version', { simple: true })));
      } else {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = FULL');
        this.migrate(db);
      }
    } catch (error) {
      db.close();
      if (error instanceof OtlpCaptureError) throw error;
      throw new BackendUnavailableError(`cannot use SQLite index ${this.path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.db = db;
  }

  async close(): Promise<void> {
    this.listStatements.clear();
    this.db?.close();
    this.db = undefined;
  }

  async commitObject(object: ObjectMeta, requests: ArchivedRequest[]): Promise<void> {
    if (this.readonly) throw new InvalidArgumentError(`${this.describe()} is read-only`);
    const db = this.open();
    if (this.isRetired(db, object.key)) return;
    const insertObject = db.prepare(
      `INSERT OR IGNORE INTO objects (key, tenant, signal, created_at_ms, sealed_at_ms, request_count, raw_bytes,
         stored_bytes, codec, start_ns, end_ns)
       VALUES (@key, @tenant, @signal, @createdAtMs, @sealedAtMs, @requestCount, @rawBytes, @storedBytes, @codec,
         @startNs, @endNs)`,
    );
    const insertRequest = db.prepare(
      `INSERT OR IGNORE INTO requests (id, tenant, signal, received_at_ms, items, services, start_ns, end_ns, raw_bytes,
         object_key, block_offset, block_length, codec, crc32, fingerprint)
       VALUES (@id, @tenant, @signal, @receivedAtMs, @items, @services, @startNs, @endNs, @rawBytes, @objectKey,
         @offset, @length, @codec, @crc32, @fingerprint)`,
    );
    const insertService = db.prepare('INSERT OR IGNORE INTO request_services (service, request_id) VALUES (?, ?)');
    const countBucket = db.prepare(
      `INSERT INTO request_buckets (bucket, tenant, signal, requests, min_start_ns, max_end_ns) VALUES (?, ?, ?, 1, ?, ?)
       ON CONFLICT (bucket, tenant, signal) DO UPDATE SET requests = requests + 1,
         min_start_ns = min(min_start_ns, excluded.min_start_ns), max_end_ns = max(max_end_ns, excluded.max_end_ns)`,
    );
    // Trace rows of requests indexed before (a re-commit) would only be duplicates, unless the index never had them
    // (untraced_requests, see sqlite-schema.ts): reindex brings those with their trace ids, and they are added now.
    const known = await this.knownRequestIds(requests.map((r) => r.id));
    const retraced = known.size === 0 ? new Set<string>() : this.untracedAmong(db, requests.filter((r) => known.has(r.id) && r.traceIds !== undefined));
    const traceRows = traceRowsOf(requests.filter((r) => !known.has(r.id) || retraced.has(r.id)));
    // An object with many trace rows has them written first, in chunks with the event loop free in between: one
    // transaction of 100 k rows would hold it for a few hundred ms. Until the object's own commit below, such rows
    // point at requests the index does not have yet, which every read ignores.
    const early = traceRows.length > TRACE_CHUNK_ROWS;
    if (early) {
      for (let i = 0; i < traceRows.length; i += TRACE_CHUNK_ROWS) {
        const chunk = traceRows.slice(i, i + TRACE_CHUNK_ROWS);
        this.guard('commit trace rows', () => this.withoutFsync(db, () => db.transaction(() => this.insertTraceRows(db, chunk)).immediate()));
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    const commit = db.transaction(() => {
      insertObject.run({ ...object, startNs: toInt64(object.startNs), endNs: toInt64(object.endNs) });
      for (const r of requests) {
        const inserted = insertRequest.run({
          id: r.id,
          tenant: r.tenant,
          signal: r.signal,
          receivedAtMs: r.receivedAtMs,
          items: r.items,
          services: JSON.stringify(r.services),
          startNs: toInt64(r.startNs),
          endNs: toInt64(r.endNs),
          rawBytes: r.rawBytes,
          objectKey: r.objectKey,
          offset: r.offset,
          length: r.length,
          codec: r.codec,
          crc32: r.crc32,
          fingerprint: r.fingerprint ?? null,
        });
        // A request indexed before (under this or another object) keeps its first location and services.
        if (inserted.changes === 0) continue;
        for (const service of r.services) insertService.run(service, r.id);
        countBucket.run(bucketOf(r.id), r.tenant, r.signal, toInt64(r.startNs), toInt64(r.endNs));
      }
      if (!early && traceRows.length > 0) this.insertTraceRows(db, traceRows);
      if (retraced.size > 0) {
        const traced = db.prepare('DELETE FROM untraced_requests WHERE id = ?');
        for (const id of retraced) traced.run(id);
      }
    });
    this.guard('commit object', () => commit.immediate());
  }

  /** Which of these (already indexed) requests are listed as having no trace rows. */
  private untracedAmong(db: Database.Database, requests: readonly ArchivedRequest[]): Set<string> {
    const query = db.prepare('SELECT id FROM untraced_requests WHERE id IN (SELECT value FROM json_each(?))').pluck();
    const found = new Set<string>();
    for (let i = 0; i < requests.length; i += ID_BATCH) {
      const batch = JSON.stringify(requests.slice(i, i + ID_BATCH).map((r) => r.id));
      for (const id of this.guard('look up untraced requests', () => query.all(batch) as string[])) found.add(id);
    }
    return found;
  }

  async untracedTraceRequests(): Promise<number> {
    // Rows of requests deleted since (retention) do not count: the join drops them, as it drops their trace rows.
    const count = this.open().prepare('SELECT count(*) FROM untraced_requests u JOIN requests r ON r.id = u.id').pluck();
    return Number(this.guard('count untraced requests', () => count.get()));
  }

  /** Inside a transaction: rows into the current trace generation, or a new one when they would overfill it. */
  private insertTraceRows(db: Database.Database, rows: readonly TraceRow[]): void {
    const current = db.prepare('SELECT gen, rows FROM trace_generations ORDER BY gen DESC LIMIT 1').get() as
      | { gen: number; rows: number }
      | undefined;
    let gen = current?.gen ?? 0;
    if (current === undefined || (current.rows > 0 && current.rows + rows.length > TRACE_GENERATION_ROWS)) {
      gen += 1;
      db.prepare('INSERT INTO trace_generations (gen, rows) VALUES (?, 0)').run(gen);
    }
    // Many rows per statement: a trace object brings ~25 k rows per commit, and per row the call into SQLite cost
    // about as much as the B-tree insert.
    const insertMany = db.prepare(`INSERT OR IGNORE INTO trace_requests (gen, trace_id, request_id) VALUES ${'(?, ?, ?), '.repeat(TRACE_ROWS_PER_STATEMENT - 1)}(?, ?, ?)`);
    const insertOne = db.prepare('INSERT OR IGNORE INTO trace_requests (gen, trace_id, request_id) VALUES (?, ?, ?)');
    const params: unknown[] = new Array(TRACE_ROWS_PER_STATEMENT * 3);
    let i = 0;
    for (; i + TRACE_ROWS_PER_STATEMENT <= rows.length; i += TRACE_ROWS_PER_STATEMENT) {
      for (let j = 0; j < TRACE_ROWS_PER_STATEMENT; j++) {
        const [traceId, requestId] = rows[i + j]!;
        params[j * 3] = gen;
        params[j * 3 + 1] = traceId;
        params[j * 3 + 2] = requestId;
      }
      insertMany.run(params);
    }
    for (; i < rows.length; i++) insertOne.run(gen, rows[i]![0], rows[i]![1]);
    db.prepare('UPDATE trace_generations SET rows = rows + ? WHERE gen = ?').run(rows.length, gen);
  }

  /**
   * Runs `write` (one transaction) without waiting for fsync. Safe for rows that the object's own commit follows:
   * in WAL mode, that commit's fsync of the WAL makes every frame before it durable too.
   */
  private withoutFsync<T>(db: Database.Database, write: () => T): T {
    db.pragma('synchronous = NORMAL');
    try {
      return write();
    } finally {
      db.pragma('synchronous = FULL');
    }
  }

  async quarantineRequests(entries: readonly QuarantinedRequest[]): Promise<void> {
    if (this.readonly) throw new InvalidArgumentError(`${this.describe()} is read-only`);
    const db = this.open();
    const insert = db.prepare('INSERT OR REPLACE INTO quarantined_requests (id, reason, at_ms) VALUES (?, ?, ?)');
    this.guard('quarantine requests', () =>
      db.transaction(() => {
        for (const e of entries) insert.run(e.id, e.reason, Math.floor(e.atMs));
      }).immediate(),
    );
  }

  async quarantinedRequests(ids: readonly string[]): Promise<Map<string, QuarantinedRequest>> {
    const query = this.open().prepare(
      'SELECT id, reason, at_ms AS atMs FROM quarantined_requests WHERE id IN (SELECT value FROM json_each(?))',
    );
    const found = new Map<string, QuarantinedRequest>();
    for (let i = 0; i < ids.length; i += ID_BATCH) {
      const batch = JSON.stringify(ids.slice(i, i + ID_BATCH));
      for (const row of this.guard('look up quarantined requests', () => query.all(batch) as QuarantinedRequest[])) {
        found.set(row.id, row);
      }
    }
    return found;
  }

  async knownRequestIds(ids: readonly string[]): Promise<Set<string>> {
    const db = this.open();
    const query = db.prepare('SELECT id FROM requests WHERE id IN (SELECT value FROM json_each(?))').pluck();
    const known = new Set<string>();
    for (let i = 0; i < ids.length; i += ID_BATCH) {
      const batch = JSON.stringify(ids.slice(i, i + ID_BATCH));
      for (const id of this.guard('look up request ids', () => query.all(batch) as string[])) known.add(id);
    }
    return known;
  }

  async findTraceRequests(traceId: string, filter: { tenant?: string } = {}): Promise<ArchivedRequest[]> {
    const id = traceIdBytes(traceId);
    const byTenant = filter.tenant !== undefined;
    const key = byTenant ? 'findTrace,tenant' : 'findTrace';
    let statement = this.listStatements.get(key);
    if (!statement) {
      // CROSS JOIN keeps SQLite's join order: one primary-key probe per generation. IN drops the duplicates that a
      // re-commit after a crash may leave in another generation. `+r.tenant` keeps the planner from walking the
      // tenant's whole index instead of looking the few requests up by id.
      statement = this.open()
        .prepare(
          `SELECT ${REQUEST_COLUMNS} FROM requests r WHERE r.id IN (` +
            'SELECT t.request_id FROM trace_generations g CROSS JOIN trace_requests t ' +
            'ON t.gen = g.gen AND t.trace_id = @traceId)' +
            `${byTenant ? ' AND +r.tenant = @tenant' : ''} ORDER BY r.id`,
        )
        .safeIntegers(true);
      this.listStatements.set(key, statement);
    }
    const params = byTenant ? { traceId: id, tenant: filter.tenant } : { traceId: id };
    const rows = this.guard('find trace', () => statement.all(params) as RequestRow[]);
    return rows.map(requestFromRow);
  }

  async listRequests(filter: RequestFilter): Promise<ArchivedRequest[]> {
    const limit = checkLimit(filter.limit);
    const newestFirst = filter.newestFirst ?? false;
    // Tenant, signal and service have indexes ordered by id; a data-time filter has none that keeps id order, so it
    // reads window by window the buckets whose data times can overlap (request-windows.ts).
    if (filter.sinceNs === undefined && filter.untilNs === undefined) {
      return this.listRows(filter, [], filter.afterId, limit).map(requestFromRow);
    }
    const rows = await listInWindows<RequestRow>(
      {
        buckets: async (start, max) => this.candidateBuckets(filter, start, max, newestFirst),
        rows: async (ranges, afterId, wanted) => {
          const out: RequestRow[] = [];
          for (let i = 0; i < ranges.length && out.length < wanted; i += RANGES_PER_QUERY) {
            out.push(...this.listRows(filter, ranges.slice(i, i + RANGES_PER_QUERY), afterId, wanted - out.length));
          }
          return out;
        },
      },
      { newestFirst, limit, ...(filter.afterId === undefined ? {} : { afterId: filter.afterId }) },
    );
    return rows.map(requestFromRow);
  }

  /** Rows matching the filter within the id ranges (all ids when none), past afterId, in listing order. */
  private listRows(filter: RequestFilter, ranges: readonly IdRange[], afterId: string | undefined, limit: number): RequestRow[] {
    const params: Record<string, unknown> = { limit };
    const where: string[] = [];
    const shape: string[] = [];
    const add = (name: string, clause: string, value: unknown): void => {
      where.push(clause);
      params[name] = value;
      shape.push(name);
    };
    const newestFirst = filter.newestFirst ?? false;
    const byService = filter.service !== undefined;
    // With a service, walk request_services' (service, request_id) key in id order: paging is an index range.
    const idColumn = byService ? 's.request_id' : 'r.id';
    if (byService) add('service', 's.service = @service', filter.service);
    if (filter.signal !== undefined) add('signal', 'r.signal = @signal', filter.signal);
    if (filter.tenant !== undefined) add('tenant', 'r.tenant = @tenant', filter.tenant);
    if (filter.sinceNs !== undefined) add('sinceNs', 'r.end_ns >= @sinceNs', toInt64(filter.sinceNs));
    if (filter.untilNs !== undefined) add('untilNs', 'r.start_ns <= @untilNs', toInt64(filter.untilNs));
    if (afterId !== undefined) add('afterId', `${idColumn} ${newestFirst ? '<' : '>'} @afterId`, afterId);
    if (ranges.length > 0) {
      const clauses = ranges.map((range, i) => {
        params[`from${i}`] = range.from;
        params[`to${i}`] = range.to;
        return `(${idColumn} >= @from${i} AND ${idColumn} < @to${i})`;
      });
      where.push(`(${clauses.join(' OR ')})`);
      shape.push(`ranges${ranges.length}`);
    }
    const key = `${shape.join(',')}${newestFirst ? ',desc' : ''}`;
    let statement = this.listStatements.get(key);
    if (!statement) {
      const from = byService ? 'request_services s JOIN requests r ON r.id = s.request_id' : 'requests r';
      statement = this.open()
        .prepare(
          `SELECT ${REQUEST_COLUMNS} FROM ${from}` +
            (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
            ` ORDER BY ${idColumn}${newestFirst ? ' DESC' : ''} LIMIT @limit`,
        )
        .safeIntegers(true);
      this.listStatements.set(key, statement);
    }
    return this.guard('list requests', () => statement.all(params) as RequestRow[]);
  }

  /** Buckets whose requests may match the filter's tenant, signal and data-time window, in listing order. */
  private candidateBuckets(filter: RequestFilter, start: BucketStart | null, max: number, newestFirst: boolean): BucketCount[] {
    const params: Record<string, unknown> = { max };
    const where = streamAndTimeClauses(filter, BUCKET_COLUMNS, params);
    if (start !== null) {
      where.push(`bucket ${newestFirst ? '<' : '>'}${start.inclusive ? '=' : ''} @bucket`);
      params.bucket = start.bucket;
    }
    const sql =
      `SELECT bucket, sum(requests) AS requests FROM request_buckets${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ` +
      `GROUP BY bucket ORDER BY bucket${newestFirst ? ' DESC' : ''} LIMIT @max`;
    return this.guard('plan a listing', () => this.open().prepare(sql).all(params) as BucketCount[]);
  }

  async countRequests(filter: RequestFilter): Promise<number> {
    const byTime = filter.sinceNs !== undefined || filter.untilNs !== undefined;
    if (!byTime && filter.service === undefined) {
      // Exact: the bucket counts are kept with the rows (see sqlite-schema.ts, version 5).
      const where: string[] = [];
      const params: unknown[] = [];
      for (const name of ['tenant', 'signal'] as const) {
        if (filter[name] === undefined) continue;
        where.push(`${name} = ?`);
        params.push(filter[name]);
      }
      const sql = `SELECT coalesce(sum(requests), 0) FROM request_buckets${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`;
      return Number(this.guard('count requests', () => this.open().prepare(sql).pluck().get(...params)));
    }
    if (!byTime) {
      const count = (extra: string, params: unknown[]): number =>
        Number(
          this.guard('count requests', () =>
            this.open()
              .prepare(`SELECT count(*) FROM request_services s${extra}`)
              .pluck()
              .get(...params),
          ),
        );
      if (filter.tenant === undefined && filter.signal === undefined) return count(' WHERE s.service = ?', [filter.service]);
      const where = ['s.service = ?'];
      const params: unknown[] = [filter.service];
      for (const name of ['tenant', 'signal'] as const) {
        if (filter[name] === undefined) continue;
        where.push(`r.${name} = ?`);
        params.push(filter[name]);
      }
      return count(` JOIN requests r ON r.id = s.request_id WHERE ${where.join(' AND ')}`, params);
    }
    // Data-time window: count within the buckets that can hold matches, a bounded number of ranges at a time.
    let total = 0;
    let start: BucketStart | null = null;
    for (;;) {
      const buckets = this.candidateBuckets(filter, start, RANGES_PER_QUERY, false);
      if (buckets.length === 0) return total;
      total += this.countInRanges(filter, buckets.map((b) => b.bucket));
      start = { bucket: buckets[buckets.length - 1]!.bucket, inclusive: false };
    }
  }

  private countInRanges(filter: RequestFilter, buckets: readonly string[]): number {
    const params: Record<string, unknown> = {};
    const byService = filter.service !== undefined;
    const idColumn = byService ? 's.request_id' : 'r.id';
    const where = [
      `(${buckets
        .map((bucket, i) => {
          params[`b${i}`] = bucket;
          return `(${idColumn} >= @b${i} AND ${idColumn} < @b${i} || '~')`;
        })
        .join(' OR ')})`,
    ];
    if (byService) {
      where.push('s.service = @service');
      params.service = filter.service;
    }
    where.push(...streamAndTimeClauses(filter, REQUEST_COLUMNS_R, params));
    const from = byService ? 'request_services s JOIN requests r ON r.id = s.request_id' : 'requests r';
    const sql = `SELECT count(*) FROM ${from} WHERE ${where.join(' AND ')}`;
    return Number(this.guard('count requests', () => this.open().prepare(sql).pluck().get(params)));
  }

  async findTwins(ranges: readonly TwinRange[]): Promise<Twin[]> {
    if (ranges.length === 0) return [];
    // The partial index (tenant, signal, fingerprint) ends in the primary key, so each fingerprint is one index range.
    // Ranges of one stream go in one statement (fingerprint IN the list, id within the ranges' hull): an archived
    // object asks for ~60-200 of them at once, and one statement each cost more than the descents themselves. What
    // the hull brings beyond a fingerprint's own ranges is dropped here.
    const query = this.open().prepare(
      `SELECT id, tenant, signal, fingerprint FROM requests
       WHERE tenant = ? AND signal = ? AND fingerprint IN (SELECT value FROM json_each(?)) AND id >= ? AND id < ?`,
    );
    return this.guard('look up twins', () => {
      const out: Twin[] = [];
      for (const group of groupTwinRanges(ranges)) {
        const rows = query.all(group.tenant, group.signal, JSON.stringify([...group.byFingerprint.keys()]), group.fromId, group.toId) as Twin[];
        for (const row of rows) {
          if (group.byFingerprint.get(row.fingerprint)!.some((r) => row.id >= r.fromId && row.id < r.toId)) out.push(row);
        }
      }
      return out;
    });
  }

  async countDuplicates(filter: RequestFilter, windowMs: number): Promise<number> {
    if (windowMs <= 0) return 0;
    const db = this.open();
    // The earlier twin nearest each request is one descent of the partial fingerprint index; it is a duplicate when
    // that twin's id is at or after the window's floor (duplicateFloor: the smallest id of the window's first ms).
    db.function('dedup_floor', { deterministic: true }, (id: unknown, window: unknown) => duplicateFloor(String(id), Number(window)));
    const params: Record<string, unknown> = { windowMs };
    const where = ['r.fingerprint IS NOT NULL', ...streamAndTimeClauses(filter, REQUEST_COLUMNS_R, params)];
    if (filter.service !== undefined) {
      where.push('r.id IN (SELECT request_id FROM request_services WHERE service = @service)');
      params.service = filter.service;
    }
    const sql =
      `SELECT count(*) FROM requests r WHERE ${where.join(' AND ')} AND ` +
      '(SELECT max(t.id) FROM requests t WHERE t.tenant = r.tenant AND t.signal = r.signal AND t.fingerprint = r.fingerprint ' +
      'AND t.id < r.id) >= dedup_floor(r.id, @windowMs)';
    return Number(this.guard('count duplicates', () => db.prepare(sql).pluck().get(params)));
  }

  async getRequest(id: string): Promise<ArchivedRequest | null> {
    const row = this.guard('get request', () =>
      this.open()
        .prepare(`SELECT ${REQUEST_COLUMNS} FROM requests r WHERE r.id = ?`)
        .safeIntegers(true)
        .get(id) as RequestRow | undefined,
    );
    return row ? requestFromRow(row) : null;
  }

  async listObjects(filter: ObjectListFilter): Promise<ObjectMeta[]> {
    const limit = checkLimit(filter.limit);
    const where: string[] = [];
    const params: Record<string, unknown> = { limit };
    for (const [name, clause] of [
      ['tenant', 'tenant = @tenant'],
      ['signal', 'signal = @signal'],
      ['afterKey', 'key > @afterKey'],
      ['minStoredBytes', 'stored_bytes >= @minStoredBytes'],
    ] as const) {
      if (filter[name] === undefined) continue;
      where.push(clause);
      params[name] = filter[name];
    }
    if (filter.newestBeforeMs !== undefined) {
      where.push('sealed_at_ms < @newestBeforeMs');
      params.newestBeforeMs = Math.floor(filter.newestBeforeMs);
    }
    const sql =
      'SELECT * FROM objects' + (where.length ? ` WHERE ${where.join(' AND ')}` : '') + ' ORDER BY key LIMIT @limit';
    const rows = this.guard('list objects', () => this.open().prepare(sql).safeIntegers(true).all(params) as ObjectRow[]);
    return rows.map(objectFromRow);
  }

  async getObject(key: string): Promise<ObjectMeta | null> {
    const row = this.guard('get object', () =>
      this.open().prepare('SELECT * FROM objects WHERE key = ?').safeIntegers(true).get(key) as ObjectRow | undefined,
    );
    return row ? objectFromRow(row) : null;
  }

  /** Whether retention deleted or replaced the object under this key (see sqlite-schema.ts, version 3). */
  private isRetired(db: Database.Database, key: string): boolean {
    return this.guard('look up retired objects', () => db.prepare('SELECT 1 FROM retired_objects WHERE key = ?').pluck().get(key) !== undefined);
  }

  // Trace rows of deleted requests stay: every read joins them to `requests`, which ignores them (see sqlite-schema.ts),
  // and finding them would need an index on request ids that every commit would pay for.
  // Rows are found by object key (indexed), so the manifest's request ids are not needed.
  async deleteObject(key: string, _requestIds?: readonly string[]): Promise<void> {
    const db = this.writable();
    const remove = db.transaction(() => {
      const gone = db
        .prepare(`SELECT substr(id, 1, ${BUCKET_CHARS}) AS bucket, tenant, signal, count(*) AS n FROM requests WHERE object_key = ? GROUP BY 1, 2, 3`)
        .all(key) as { bucket: string; tenant: string; signal: string; n: number }[];
      const uncount = db.prepare('UPDATE request_buckets SET requests = requests - ? WHERE bucket = ? AND tenant = ? AND signal = ?');
      for (const { bucket, tenant, signal, n } of gone) uncount.run(n, bucket, tenant, signal);
      if (gone.length > 0) db.prepare('DELETE FROM request_buckets WHERE requests <= 0').run();
      db.prepare('DELETE FROM request_services WHERE request_id IN (SELECT id FROM requests WHERE object_key = ?)').run(key);
      db.prepare('DELETE FROM requests WHERE object_key = ?').run(key);
      db.prepare('DELETE FROM objects WHERE key = ?').run(key);
      db.prepare('INSERT OR IGNORE INTO retired_objects (key, retired_at_ms) VALUES (?, ?)').run(key, Date.now());
    });
    this.guard('delete object', () => remove.immediate());
  }

  async replaceObject(oldKey: string, newObject: ObjectMeta, requests: readonly ArchivedRequest[], removedIds: readonly string[] = []): Promise<void> {
    const db = this.writable();
    checkReplacement(oldKey, newObject, requests, removedIds);
    const upsertObject = db.prepare(
      `INSERT OR REPLACE INTO objects (key, tenant, signal, created_at_ms, sealed_at_ms, request_count, raw_bytes,
         stored_bytes, codec, start_ns, end_ns)
       VALUES (@key, @tenant, @signal, @createdAtMs, @sealedAtMs, @requestCount, @rawBytes, @storedBytes, @codec,
         @startNs, @endNs)`,
    );
    const move = db.prepare(
      `UPDATE requests SET object_key = @objectKey, block_offset = @offset, block_length = @length, codec = @codec,
         crc32 = @crc32 WHERE id = @id AND object_key = @oldKey`,
    );
    const left = db.prepare('SELECT id FROM requests WHERE object_key = ? LIMIT 1').pluck();
    const replace = db.transaction(() => {
      if (this.isRetired(db, newObject.key)) {
        throw new InvalidArgumentError(`${newObject.key} was deleted or replaced by retention; its key cannot take an object again`);
      }
      upsertObject.run({ ...newObject, startNs: toInt64(newObject.startNs), endNs: toInt64(newObject.endNs) });
      // Also when the object was rewritten in place (same key): its requests' offsets and codec change.
      for (const r of requests) {
        move.run({ id: r.id, oldKey, objectKey: r.objectKey, offset: r.offset, length: r.length, codec: r.codec, crc32: r.crc32 });
      }
      if (oldKey === newObject.key) return;
      if (removedIds.length > 0) this.removeRequestRows(db, oldKey, removedIds);
      const stranded = left.get(oldKey) as string | undefined;
      // Rolls the transaction back: removing the old object now would leave this row pointing at nothing.
      if (stranded !== undefined) {
        throw new InvalidArgumentError(`request ${stranded} points at ${oldKey} but has no location in ${newObject.key}`);
      }
      db.prepare('DELETE FROM objects WHERE key = ?').run(oldKey);
      db.prepare('INSERT OR IGNORE INTO retired_objects (key, retired_at_ms) VALUES (?, ?)').run(oldKey, Date.now());
    });
    this.guard('replace object', () => replace.immediate());
  }

  /** Inside a transaction: rows of these ids that point at `key` go, with their services and bucket counts. */
  private removeRequestRows(db: Database.Database, key: string, ids: readonly string[]): void {
    const find = db.prepare(`SELECT substr(id, 1, ${BUCKET_CHARS}) AS bucket, tenant, signal FROM requests WHERE id = ? AND object_key = ?`);
    const uncount = db.prepare('UPDATE request_buckets SET requests = requests - 1 WHERE bucket = ? AND tenant = ? AND signal = ?');
    const services = db.prepare('DELETE FROM request_services WHERE request_id = ?');
    const row = db.prepare('DELETE FROM requests WHERE id = ? AND object_key = ?');
    let removed = 0;
    for (const id of ids) {
      const found = find.get(id, key) as { bucket: string; tenant: string; signal: string } | undefined;
      if (found === undefined) continue; // gone already (a repeated call), or pointing elsewhere: not ours
      uncount.run(found.bucket, found.tenant, found.signal);
      services.run(id);
      row.run(id, key);
      removed += 1;
    }
    if (removed > 0) db.prepare('DELETE FROM request_buckets WHERE requests <= 0').run();
  }

  private writable(): Database.Database {
    if (this.readonly) throw new InvalidArgumentError(`${this.describe()} is read-only`);
    return this.open();
  }

  private open(): Database.Database {
    if (!this.db) throw new BackendUnavailableError(`${this.describe()} is not started`);
    return this.db;
  }

  /** SQLite failures (locked past busy_timeout, disk full, I/O errors) surface as BackendUnavailableError. */
  private guard<T>(action: string, run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (error instanceof OtlpCaptureError) throw error;
      throw new BackendUnavailableError(`cannot ${action} in ${this.describe()}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  private checkVersion(version: number): void {
    if (version > SCHEMA_VERSION) {
      throw new BackendUnavailableError(
        `${this.describe()} has schema version ${version}, newer than this build knows (${SCHEMA_VERSION}): upgrade otlp-capture`,
      );
    }
    if (this.readonly && version < SCHEMA_VERSION) {
      throw new BackendUnavailableError(
        `${this.describe()} has schema version ${version}, expected ${SCHEMA_VERSION}: start the server once to migrate it`,
      );
    }
  }

  private migrate(db: Database.Database): void {
    const version = (): number => Number(db.pragma('user_version', { simple: true }));
    this.checkVersion(version());
    // IMMEDIATE takes the write lock first, so two processes starting at once do not both migrate.
    db.transaction(() => {
      for (let next = version(); next < SCHEMA_VERSION; next++) {
        db.exec(MIGRATIONS[next]!);
        db.pragma(`user_version = ${next + 1}`);
      }
    }).immediate();
  }
}

interface TwinRangeGroup {
  tenant: string;
  signal: string;
  fromId: string;
  toId: string;
  byFingerprint: Map<string, TwinRange[]>;
}

/** Ranges by stream (tenant, signal), with each stream's id hull and its ranges by fingerprint. */
function groupTwinRanges(ranges: readonly TwinRange[]): TwinRangeGroup[] {
  const groups = new Map<string, TwinRangeGroup>();
  for (const r of ranges) {
    if (r.fromId >= r.toId) continue;
    const key = `${r.tenant}\u0000${r.signal}`;
    let group = groups.get(key);
    if (group === undefined) {
      group = { tenant: r.tenant, signal: r.signal, fromId: r.fromId, toId: r.toId, byFingerprint: new Map() };
      groups.set(key, group);
    }
    if (r.fromId < group.fromId) group.fromId = r.fromId;
    if (r.toId > group.toId) group.toId = r.toId;
    const list = group.byFingerprint.get(r.fingerprint);
    if (list === undefined) group.byFingerprint.set(r.fingerprint, [r]);
    else list.push(r);
  }
  return [...groups.values()];
}
