// IndexStore on ClickHouse (@clickhouse/client over HTTP), valid on Debian's ClickHouse 18.16 and current releases;
// the server's version, read at start, picks the dialect (clickhouse-dialect.ts). Schema: clickhouse-schema.ts.
//
// Writer (serve, reindex): commitObject queues the object's rows in a local outbox (SQLite, fsync'd) and resolves:
// that is the durability the port promises, and what lets the archiver release the spool. A background flusher
// inserts whole objects into ClickHouse in batches (≥ batchRows rows or batchInterval, whichever first), retries
// with backoff while ClickHouse is down, and deletes outbox rows only once ClickHouse accepted them; leftovers are
// flushed at the next start. Inserts are at-least-once: every row carries a version (the time it was written), and
// reads keep the highest version of each row they touch (clickhouse-queries.ts).
//
// Reads merge the outbox (rows not flushed yet) with ClickHouse, outbox first: a batch leaves the outbox only after
// ClickHouse has it, so reading the outbox before ClickHouse never misses a committed row. Readers without the
// outbox file (another host) see rows once flushed: they lag by up to batchInterval (plus any outage).
//
// The trace index (trace id → request id, with the tenant) travels with its object: queued in the same outbox
// transaction, inserted in the same batch (after the requests, before the object row). findTraceRequests reads the
// request ids of a trace from the outbox and from ClickHouse, then those requests by id.
//
// Retention: a deleted or replaced object's key is recorded in retired_objects first (reads then leave its rows out
// at once, and a late re-insert cannot bring them back); then its rows are removed: by lightweight DELETE on a
// current server, by a mutation batched over the keys retired in the last seconds on 18.16 (a mutation rewrites
// parts, so one per key would be ruinous).
//
// Start-up: a reader fails with one clear BackendUnavailableError when ClickHouse is unreachable, refuses the
// credentials, or has no index. A writer does too, unless `bufferWhenUnavailable` (serve): then it starts anyway,
// logs one clear error, reports not ready (notReadyReason) until ClickHouse has been reached, and buffers.

import { sleep } from '../archiver/backoff.js';
import { BackendUnavailableError, InvalidArgumentError, OtlpCaptureError } from '../errors.js';
import { formatBytes } from '../util/human-units.js';
import type { ArchivedRequest, ObjectMeta, RequestFilter } from '../model.js';
import type { Logger } from '../telemetry/logger.js';
import { checkReplacement } from './replace-checks.js';
import { ClickHouseConnection, type ClickHouseConnectionOptions } from './clickhouse-connection.js';
import { dialectFor, type Dialect } from './clickhouse-dialect.js';
import { OutboxFlusher, type FailureKind } from './clickhouse-flusher.js';
import { migrateSchema, schemaVersion, tablesOf } from './clickhouse-migrate.js';
import { chunksByPartition, objectPartition, requestPartition } from './clickhouse-partitions.js';
import {
  bucketExtentQuery,
  bucketsQuery,
  countQuery,
  idsLookupQuery,
  latest,
  matchesObjectFilter,
  matchesRequestFilter,
  objectFromSelected,
  objectKeysQuery,
  objectRequestCountQuery,
  objectsByKeyQuery,
  pageKeysQuery,
  RETIRED_FLAG,
  requestFromSelected,
  retiredKeysQuery,
  rowsByKeysQuery,
  traceRequestIdsQuery,
  type ObjectFilter,
  type RequestKey,
} from './clickhouse-queries.js';
import {
  INSERT_COLUMNS,
  checkTraceId,
  objectFromRow,
  objectRow,
  requestFromRow,
  requestRow,
  traceRows,
  type ObjectRow,
  type RequestRow,
  type InsertTable,
  type TraceRow,
} from './clickhouse-rows.js';
import { SCHEMA_VERSION, tableNames, type SchemaTarget, type TableNames } from './clickhouse-schema.js';
import { identifier, literal } from './clickhouse-sql.js';
import type { IndexStore, OutboxStatus, PendingRows, QuarantinedRequest, Twin, TwinRange } from './index-store.js';
import { duplicateCountQuery, twinsQuery } from './clickhouse-twin-queries.js';
import { duplicateFloor } from './twin-window.js';
import { IndexOutbox, type OutboxBatch } from './index-outbox.js';
import { bucketFromNumber, bucketNumber, listInWindows, type BucketCount, type BucketStart, type IdRange } from './request-windows.js';

export interface ClickHouseIndexStoreOptions extends ClickHouseConnectionOptions {
  /** Default otlp_capture. Created by a writer if missing. */
  database?: string;
  /** A ClickHouse cluster (remote_servers) to create the index on: Replicated tables, read through Distributed ones. */
  cluster?: string;
  /** Read only (CLI): never creates or migrates anything, never creates the outbox. */
  readonly?: boolean;
  /** Writer: required. Reader: read when it exists (rows this host has not flushed yet). */
  outboxPath?: string;
  batchRows?: number;
  batchIntervalMs?: number;
  /**
   * Writer: commits are refused (BackendUnavailableError: archiving waits, requests stay in the spool) while the
   * outbox uses this much, so that a long ClickHouse outage fills the spool — and pushes back on callers — instead of
   * the disk. Default: no limit.
   */
  outboxMaxBytes?: number;
  /** Writer: start even when ClickHouse cannot be used yet, buffering in the outbox (serve). Default false. */
  bufferWhenUnavailable?: boolean;
  /** How long close() may spend flushing the outbox; what is left stays queued for the next start. Default 10 s. */
  closeTimeoutMs?: number;
  retryInitialBackoffMs?: number;
  retryMaxBackoffMs?: number;
  /** 18.16: how long after the last retention write the batched removal of retired rows runs. Default 5 s. */
  purgeDelayMs?: number;
  logger?: Logger;
}

export type { OutboxStatus } from './index-store.js';

/** The outbox's latest rows matching the filter, past its afterId in its order, at most `limit`. */
function queuedRequestRows(outbox: IndexOutbox, filter: RequestFilter, limit: number): RequestRow[] {
  const rows: RequestRow[] = [];
  for (const text of outbox.requestRows(filter.afterId, filter.newestFirst ?? false)) {
    if (rows.length >= limit) break;
    const row = JSON.parse(text) as RequestRow;
    if (matchesRequestFilter(row, filter)) rows.push(row);
  }
  return rows;
}

/**
 * ClickHouse errors about the server's state, never about the rows sent: a batch refused with one of these is retried
 * whole, as in an outage. TIMEOUT_EXCEEDED, TOO_MANY_SIMULTANEOUS_QUERIES, NO_FREE_CONNECTION, NO_ZOOKEEPER,
 * TABLE_IS_READ_ONLY, NOT_ENOUGH_SPACE, UNKNOWN_TABLE / UNKNOWN_DATABASE (prepare() creates them again), READONLY,
 * ACCESS_DENIED, QUERY_WAS_CANCELLED, ABORTED, SOCKET_TIMEOUT, NETWORK_ERROR, UNKNOWN_STATUS_OF_INSERT, KEEPER_EXCEPTION,
 * ALL_CONNECTION_TRIES_FAILED, TABLE_IS_DROPPED, SERVER_OVERLOADED.
 */
const SERVER_STATE_CODES = new Set([159, 202, 203, 225, 242, 243, 60, 81, 164, 497, 394, 236, 209, 210, 319, 999, 279, 218, 745]);

export const DEFAULT_DATABASE = 'otlp_capture';
export const DEFAULT_LIST_LIMIT = 1000;
/** Ids or keys per query (max_query_size is 256 KiB on 18.16). */
const ID_CHUNK = 1000;
/** Twin ranges per lookup statement (each an OR term of ~200 bytes). */
const TWIN_RANGES_PER_QUERY = 200;
/** Largest insert when catching up; far below max_insert_block_size (1,048,576), so one insert is one part. */
const MAX_BATCH_ROWS = 100_000;
/** Object keys per batched removal (a mutation's WHERE is bounded by max_query_size too). */
const PURGE_CHUNK = 500;

function checkLimit(limit: number | undefined): number {
  const value = limit ?? DEFAULT_LIST_LIMIT;
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError(`limit must be a positive integer: got ${limit}`);
  return value;
}

interface IdCopy {
  id: string;
  tenant: string;
  signal: string;
  object_key: string;
  version: string;
}

export class ClickHouseIndexStore implements IndexStore {
  readonly database: string;
  readonly cluster: string | null;
  private readonly readonly: boolean;
  private readonly connection: ClickHouseConnection;
  private outbox: IndexOutbox | null = null;
  private flusher: OutboxFlusher | null = null;
  /**
   * Counts read the outbox, then ClickHouse, then ask ClickHouse which of the queued rows it holds. A batch inserted
   * between the count and that question would be counted in neither place, so batches and counts take turns.
   */
  private countTurn: Promise<unknown> = Promise.resolve();
  private started = false;
  /** Why ClickHouse has not been usable since start; null once it has been reached. */
  private unreachableReason: string | null = null;
  private available = false;
  private failedFlushes = 0;
  private dialectFound: Dialect | null = null;
  private readonly names: TableNames;
  /** 18.16: keys retired since the last batched removal. */
  private readonly purgePending = new Set<string>();
  private purgeTimer: NodeJS.Timeout | null = null;
  private purging: Promise<void> = Promise.resolve();
  /** Cluster: how many servers it has (every one holds retired keys). */
  private clusterNodes: number | null = null;

  constructor(private readonly options: ClickHouseIndexStoreOptions) {
    this.database = identifier(options.database ?? DEFAULT_DATABASE);
    this.cluster = options.cluster === undefined || options.cluster === '' ? null : identifier(options.cluster);
    this.readonly = options.readonly ?? false;
    if (!this.readonly && !options.outboxPath) throw new InvalidArgumentError('a writing ClickHouse index needs an outbox path');
    this.connection = new ClickHouseConnection(options);
    this.names = tableNames({ database: this.database, cluster: this.cluster, dialect: dialectFor('18.16') });
  }

  describe(): string {
    const outbox = this.options.outboxPath ? `, outbox ${this.options.outboxPath}` : '';
    const cluster = this.cluster === null ? '' : ` on cluster ${this.cluster}`;
    return `clickhouse ${this.connection.location} database ${this.database}${cluster}${this.readonly ? ' (read-only)' : ''}${outbox}`;
  }

  /** The server's dialect, once start() has reached it. */
  get dialect(): Dialect | null {
    return this.dialectFound;
  }

  async start(): Promise<void> {
    if (this.started) return;
    if (this.readonly) {
      await this.checkReadable();
      this.outbox = this.options.outboxPath ? IndexOutbox.openForReading(this.options.outboxPath) : null;
      this.started = true;
      return;
    }
    const outbox = IndexOutbox.openForWriting(this.options.outboxPath!);
    let prepared = false;
    try {
      await this.migrate();
      prepared = true;
      this.available = true;
    } catch (error) {
      const message = this.failureMessage('prepare the index', error);
      if (!this.options.bufferWhenUnavailable) {
        outbox.close();
        await this.connection.close();
        throw new BackendUnavailableError(message, { cause: error });
      }
      this.unreachableReason = message;
      this.options.logger?.error(
        { outbox: outbox.path, queued: outbox.stats().requests },
        `${message}; index rows are kept in the outbox and written once ClickHouse can be used`,
      );
    }
    // Objects an earlier run set aside get another chance: what ClickHouse refused may have been fixed since.
    const setAside = outbox.setAsideObjects();
    if (setAside.length > 0) {
      outbox.requeueSetAside();
      this.options.logger?.warn(
        { outbox: outbox.path, objects: setAside.length, keys: setAside.slice(0, 10).map((o) => o.objectKey) },
        'retrying index rows of objects that ClickHouse refused before (set aside in the outbox)',
      );
    }
    this.outbox = outbox;
    this.flusher = new OutboxFlusher(
      outbox,
      {
        prepare: () => this.migrate(),
        write: (batch) => this.exclusiveOfCounts(() => this.insertBatch(batch)),
        classify: (error) => this.classifyFailure(error),
      },
      {
        batchRows: this.options.batchRows ?? 1000,
        batchIntervalMs: this.options.batchIntervalMs ?? 1000,
        maxBatchRows: Math.max(this.options.batchRows ?? 1000, MAX_BATCH_ROWS),
        retryInitialBackoffMs: this.options.retryInitialBackoffMs ?? 250,
        retryMaxBackoffMs: this.options.retryMaxBackoffMs ?? 5000,
      },
      {
        onAvailable: () => this.markAvailable(),
        onFailure: (error) => this.markFailed(error),
        onSetAside: (key, error) => this.reportSetAside(key, error),
      },
    );
    this.flusher.start(prepared);
    this.started = true;
  }

  async close(): Promise<void> {
    if (this.flusher && this.outbox) {
      await this.flusher.stop();
      const timeoutMs = this.options.closeTimeoutMs ?? 10_000;
      // Bounded even when an insert hangs: whatever is not confirmed stays queued (and is re-inserted, harmlessly).
      const timer = new AbortController();
      const emptied = await Promise.race([
        this.flusher.flushAll(Date.now() + timeoutMs),
        sleep(timeoutMs, timer.signal).then(() => false),
      ]);
      timer.abort();
      if (!emptied) {
        this.options.logger?.warn(
          { outbox: this.outbox.path, queued: this.outbox.stats().requests },
          'index rows stay in the outbox; they are written to ClickHouse at the next start',
        );
      }
    }
    if (this.purgeTimer !== null) {
      clearTimeout(this.purgeTimer);
      this.purgeTimer = null;
      if (this.started) await this.purgeRetired();
    }
    await this.purging;
    this.flusher = null;
    this.outbox?.close();
    this.outbox = null;
    if (this.started) await this.connection.close();
    this.started = false;
  }

  async commitObject(object: ObjectMeta, requests: ArchivedRequest[]): Promise<void> {
    if (this.readonly) throw new InvalidArgumentError(`${this.describe()} is read-only`);
    const outbox = this.writableOutbox();
    const full = this.outboxFull();
    if (full !== null) throw new BackendUnavailableError(full);
    const traces = traceRows(requests).map((row) => ({ traceId: row.trace_id, requestId: row.request_id, tenant: row.tenant }));
    const version = Date.now();
    outbox.append(
      {
        objectKey: object.key,
        objectRow: JSON.stringify(objectRow(object, version)),
        requests: requests.map((r) => ({ id: r.id, row: JSON.stringify(requestRow(r, version)) })),
        traces,
      },
      version,
    );
    this.flusher?.wake();
  }

  async findTraceRequests(traceId: string, filter: { tenant?: string } = {}): Promise<ArchivedRequest[]> {
    checkTraceId(traceId);
    this.checkStarted();
    const { tenant } = filter;
    // Outbox first (see the header): an object moving to ClickHouse meanwhile is then found in one place or both.
    const ids = new Set(this.outbox?.traceRequestIds(traceId, tenant) ?? []);
    const stored = await this.select<{ request_id: string }>('find trace', traceRequestIdsQuery(this.names, traceId, tenant));
    for (const row of stored) ids.add(row.request_id);
    const byId = new Map<string, RequestRow>();
    const rest: string[] = [];
    for (const id of ids) {
      // A queued row is the newer commit; one no longer queued has reached ClickHouse by now.
      const queued = this.outbox?.requestRow(id);
      const row = queued === undefined ? undefined : (JSON.parse(queued) as RequestRow);
      if (row === undefined) rest.push(id);
      else if (tenant === undefined || row.tenant === tenant) byId.set(id, row);
    }
    for (const row of await this.rowsById('find trace', rest)) {
      if (tenant === undefined || row.tenant === tenant) byId.set(row.id, row);
    }
    return [...byId.keys()].sort(compareText).map((id) => requestFromRow(byId.get(id)!));
  }

  async knownRequestIds(ids: readonly string[]): Promise<Set<string>> {
    this.checkStarted();
    const known = this.outbox?.knownIds(ids) ?? new Set<string>();
    const rest = [...new Set(ids.filter((id) => !known.has(id)))];
    for (const copy of (await this.liveIdCopies('look up request ids', rest)).values()) known.add(copy.id);
    return known;
  }

  async listRequests(filter: RequestFilter): Promise<ArchivedRequest[]> {
    const limit = checkLimit(filter.limit);
    this.checkStarted();
    const newestFirst = filter.newestFirst ?? false;
    // Outbox first (see the header): a row moving to ClickHouse meanwhile is then seen in one place or both.
    const queued = this.outbox ? queuedRequestRows(this.outbox, filter, limit) : [];
    const stored = await this.listStored(filter, limit);
    const byId = new Map<string, RequestRow>();
    for (const row of stored) byId.set(row.id, row);
    for (const row of queued) byId.set(row.id, row); // queued rows are the newer commit
    const ids = [...byId.keys()].sort(compareText);
    if (newestFirst) ids.reverse();
    return ids.slice(0, limit).map((id) => requestFromRow(byId.get(id)!));
  }

  /** One page from ClickHouse alone, window by window (request-windows.ts). */
  private listStored(filter: RequestFilter, limit: number): Promise<RequestRow[]> {
    const newestFirst = filter.newestFirst ?? false;
    const windows = new BucketWindows(this, filter, newestFirst);
    return listInWindows<RequestRow>(
      {
        buckets: async (start, max) => windows.next(start, max),
        rows: async (ranges, afterId, wanted) => this.pageInRanges(filter, ranges, afterId, wanted),
      },
      { newestFirst, limit, ...(filter.afterId === undefined ? {} : { afterId: filter.afterId }) },
    );
  }

  /** Candidate buckets of a listing, within a window of buckets when `bound` is given (see BucketWindows). */
  async buckets(filter: RequestFilter, start: BucketStart | null, max: number, newestFirst: boolean, bound: string | null = null): Promise<BucketCount[]> {
    const rows = await this.select<{ bucket: string; requests: string }>('plan a listing', bucketsQuery(this.names, filter, start, max, newestFirst, bound));
    return rows.map((row) => ({ bucket: row.bucket, requests: Number(row.requests) }));
  }

  /** First and last bucket of the filter's tenant and signal; null when it has none. */
  async bucketExtent(filter: RequestFilter): Promise<{ first: string; last: string } | null> {
    const [row] = await this.select<{ first: string; last: string }>('plan a listing', bucketExtentQuery(this.names, filter));
    return row === undefined || row.first === '' ? null : row;
  }

  /**
   * Matching rows within the ranges past afterId, in listing order, at most `wanted`: keys from the narrow copy, then
   * the rows by key (latest copy of each), checked against the filter and against retired objects; repeated from the
   * last key seen while rows were dropped.
   */
  private async pageInRanges(filter: RequestFilter, ranges: readonly IdRange[], afterId: string | undefined, wanted: number): Promise<RequestRow[]> {
    const newestFirst = filter.newestFirst ?? false;
    const out: RequestRow[] = [];
    let cursor = afterId;
    while (out.length < wanted) {
      const asked = wanted - out.length;
      const copies = await this.select<RequestKey & { object_key: string }>(
        'list requests',
        pageKeysQuery(this.names, filter, ranges, cursor, newestFirst, asked),
      );
      if (copies.length === 0) break;
      const keys = [...new Map(copies.map((k) => [k.id, { tenant: k.tenant, signal: k.signal, id: k.id }])).values()];
      const rows = await this.rowsByKeys('list requests', keys, copies.map((k) => k.object_key));
      for (const key of keys) {
        const row = rows.get(key.id);
        if (row !== undefined && matchesRequestFilter(row, { ...filter, afterId: undefined })) out.push(row);
      }
      if (copies.length < asked) break;
      cursor = copies[copies.length - 1]!.id;
    }
    return out;
  }

  /**
   * The latest live copy of each of these requests, by full key (rows of retired objects left out). `objectKeys`: the
   * objects the rows are expected to point at (their retired state comes with the rows); a row pointing elsewhere (a
   * move racing the read) is checked on its own.
   */
  private async rowsByKeys(action: string, keys: readonly RequestKey[], objectKeys: readonly string[]): Promise<Map<string, RequestRow>> {
    const copies: (RequestRow & { [RETIRED_FLAG]?: number | string })[] = [];
    const expected = [...new Set(objectKeys)];
    for (let i = 0; i < keys.length; i += ID_CHUNK) {
      const rows = await this.select(action, rowsByKeysQuery(this.names, keys.slice(i, i + ID_CHUNK), expected.length <= ID_CHUNK ? expected : []));
      for (const row of rows) copies.push(requestFromSelected(row));
    }
    const current = latest(copies, (row) => row.id);
    const flagged = new Set(expected.length <= ID_CHUNK ? expected : []);
    const unchecked = [...current.values()].filter((row) => !flagged.has(row.object_key)).map((row) => row.object_key);
    const retiredElsewhere = unchecked.length > 0 ? await this.retiredKeys(unchecked) : new Set<string>();
    for (const [id, row] of current) {
      if (Number(row[RETIRED_FLAG] ?? 0) === 1 || retiredElsewhere.has(row.object_key)) current.delete(id);
      else delete row[RETIRED_FLAG];
    }
    return current;
  }

  /** The latest copy of each id in the id-ordered copy, when it points at a live object. */
  private async liveIdCopies(action: string, ids: readonly string[]): Promise<Map<string, IdCopy>> {
    const copies: IdCopy[] = [];
    for (let i = 0; i < ids.length; i += ID_CHUNK) {
      const rows = await this.select<Omit<IdCopy, 'version'> & { version_text: string }>(action, idsLookupQuery(this.names, ids.slice(i, i + ID_CHUNK)));
      for (const { version_text: version, ...rest } of rows) copies.push({ ...rest, version });
    }
    const current = latest(copies, (copy) => copy.id);
    const retired = await this.retiredKeys([...current.values()].map((copy) => copy.object_key));
    for (const [id, copy] of current) if (retired.has(copy.object_key)) current.delete(id);
    return current;
  }

  /** Full rows of these ids (any tenant), live only. */
  private async rowsById(action: string, ids: readonly string[]): Promise<RequestRow[]> {
    if (ids.length === 0) return [];
    const copies = await this.liveIdCopies(action, ids);
    const live = [...copies.values()];
    const rows = await this.rowsByKeys(action, live.map(({ tenant, signal, id }) => ({ tenant, signal, id })), live.map((copy) => copy.object_key));
    return [...rows.values()];
  }

  async countRequests(filter: RequestFilter): Promise<number> {
    this.checkStarted();
    return this.exclusiveOfCounts(() => this.countRequestsNow(filter));
  }

  private async countRequestsNow(filter: RequestFilter): Promise<number> {
    const byTime = filter.sinceNs !== undefined || filter.untilNs !== undefined;
    const byObject = !byTime && filter.service === undefined;
    // Outbox first (see the header): a batch moving to ClickHouse meanwhile is then counted in one place or both, and
    // "both" is taken out below by asking ClickHouse about the queued ones after counting there.
    const queued = this.queuedMatching(filter, byObject);
    let total = 0;
    if (byObject) {
      const [row] = await this.select<{ n: string | null }>('count requests', objectRequestCountQuery(this.names, filter));
      total = Number(row?.n ?? 0);
    } else if (!byTime) {
      const [row] = await this.select<{ n: string }>('count requests', countQuery(this.names, filter, []));
      total = Number(row?.n ?? 0);
    } else {
      // Within the buckets whose data times can overlap the window, a bounded number of ranges per query.
      let start: BucketStart | null = null;
      for (;;) {
        const buckets = await this.buckets(filter, start, 64, false);
        if (buckets.length === 0) break;
        const ranges = buckets.map((b): IdRange => ({ from: b.bucket, to: `${b.bucket}~` }));
        const [row] = await this.select<{ n: string }>('count requests', countQuery(this.names, filter, ranges));
        total += Number(row?.n ?? 0);
        start = { bucket: buckets[buckets.length - 1]!.bucket, inclusive: false };
      }
    }
    return total + (await this.notStoredYet(queued));
  }

  /**
   * What a count of ClickHouse alone misses, read before counting there: rows queued here. By object rows when the
   * ClickHouse count sums objects (a batch inserts its requests before its object row), else by request.
   */
  private queuedMatching(filter: RequestFilter, byObject: boolean): { objects: ObjectRow[] } | { ids: string[] } {
    if (byObject) {
      const objects: ObjectRow[] = [];
      const stream = { ...(filter.tenant === undefined ? {} : { tenant: filter.tenant }), ...(filter.signal === undefined ? {} : { signal: filter.signal }) };
      for (const text of this.outbox?.objectRows() ?? []) {
        const row = JSON.parse(text) as ObjectRow;
        if (matchesObjectFilter(row, stream)) objects.push(row);
      }
      return { objects };
    }
    const ids: string[] = [];
    for (const text of this.outbox?.requestRows() ?? []) {
      const row = JSON.parse(text) as RequestRow;
      if (matchesRequestFilter(row, { ...filter, afterId: undefined })) ids.push(row.id);
    }
    return { ids };
  }

  private exclusiveOfCounts<T>(work: () => Promise<T>): Promise<T> {
    const turn = this.countTurn.then(work, work);
    this.countTurn = turn.catch(() => undefined);
    return turn;
  }

  private async notStoredYet(queued: { objects: ObjectRow[] } | { ids: string[] }): Promise<number> {
    if ('objects' in queued) {
      if (queued.objects.length === 0) return 0;
      const stored = await this.objectsByKey('count requests', queued.objects.map((row) => row.key));
      return queued.objects.filter((row) => !stored.has(row.key)).reduce((sum, row) => sum + Number(row.request_count), 0);
    }
    if (queued.ids.length === 0) return 0;
    const stored = await this.liveIdCopies('count requests', queued.ids);
    return queued.ids.filter((id) => !stored.has(id)).length;
  }

  async findTwins(ranges: readonly TwinRange[]): Promise<Twin[]> {
    this.checkStarted();
    if (ranges.length === 0) return [];
    const inRange = (row: { tenant: string; signal: string; fingerprint?: string | null; id: string }): boolean =>
      ranges.some((r) => r.tenant === row.tenant && r.signal === row.signal && r.fingerprint === row.fingerprint && row.id >= r.fromId && row.id < r.toId);
    // Outbox first (see the header): a row moving to ClickHouse meanwhile is then seen in one place or both.
    const found = new Map<string, Twin>();
    for (const text of this.outbox?.requestRows() ?? []) {
      const row = JSON.parse(text) as RequestRow;
      if (row.fingerprint && inRange(row)) found.set(row.id, { id: row.id, tenant: row.tenant, signal: row.signal, fingerprint: row.fingerprint });
    }
    const copies: (Twin & { object_key: string; version: string })[] = [];
    for (let i = 0; i < ranges.length; i += TWIN_RANGES_PER_QUERY) {
      const rows = await this.select<Twin & { object_key: string; version_text: string }>('look up twins', twinsQuery(this.names, ranges.slice(i, i + TWIN_RANGES_PER_QUERY)));
      for (const { version_text: version, ...rest } of rows) copies.push({ ...rest, version });
    }
    const current = latest(copies, (copy) => copy.id);
    const retired = await this.retiredKeys([...current.values()].map((copy) => copy.object_key));
    for (const copy of current.values()) {
      if (!retired.has(copy.object_key)) found.set(copy.id, { id: copy.id, tenant: copy.tenant, signal: copy.signal, fingerprint: copy.fingerprint });
    }
    return [...found.values()];
  }

  async countDuplicates(filter: RequestFilter, windowMs: number): Promise<number> {
    this.checkStarted();
    if (windowMs <= 0) return 0;
    return this.exclusiveOfCounts(() => this.countDuplicatesNow(filter, windowMs));
  }

  private async countDuplicatesNow(filter: RequestFilter, windowMs: number): Promise<number> {
    // Rows still queued here are checked one by one against both places (a handful: the outbox drains in seconds). A
    // stored row whose only earlier twin is still queued is not counted until that twin is written (it shows as
    // distinct until then, too, since listings read ClickHouse and the outbox alike).
    const queued: RequestRow[] = [];
    for (const text of this.outbox?.requestRows() ?? []) {
      const row = JSON.parse(text) as RequestRow;
      if (row.fingerprint && matchesRequestFilter(row, { ...filter, afterId: undefined })) queued.push(row);
    }
    const [row] = await this.select<{ n: string | null }>('count duplicates', duplicateCountQuery(this.names, filter, windowMs));
    let total = Number(row?.n ?? 0);
    if (queued.length > 0) {
      const stored = await this.liveIdCopies('count duplicates', queued.map((r) => r.id));
      const unstored = queued.filter((r) => !stored.has(r.id));
      const twins = await this.findTwins(
        unstored.map((r) => ({ tenant: r.tenant, signal: r.signal, fingerprint: r.fingerprint!, fromId: duplicateFloor(r.id, windowMs), toId: r.id })),
      );
      for (const r of unstored) {
        const floor = duplicateFloor(r.id, windowMs);
        if (twins.some((t) => t.tenant === r.tenant && t.signal === r.signal && t.fingerprint === r.fingerprint && t.id >= floor && t.id < r.id)) total += 1;
      }
    }
    return total;
  }

  async getRequest(id: string): Promise<ArchivedRequest | null> {
    this.checkStarted();
    const queued = this.outbox?.requestRow(id);
    if (queued !== undefined) return requestFromRow(JSON.parse(queued) as RequestRow);
    const [row] = await this.rowsById('get request', [id]);
    return row ? requestFromRow(row) : null;
  }

  async listObjects(filter: ObjectFilter & { limit?: number }): Promise<ObjectMeta[]> {
    const limit = checkLimit(filter.limit);
    this.checkStarted();
    const queued: ObjectRow[] = [];
    if (this.outbox) {
      for (const text of this.outbox.objectRows(filter.afterKey)) {
        const row = JSON.parse(text) as ObjectRow;
        if (!matchesObjectFilter(row, filter)) continue;
        queued.push(row);
        if (queued.length >= limit) break;
      }
    }
    const stored: ObjectRow[] = [];
    let afterKey = filter.afterKey;
    while (stored.length < limit) {
      const asked = limit - stored.length;
      const keys = await this.select<{ key: string }>('list objects', objectKeysQuery(this.names, { ...filter, ...(afterKey === undefined ? {} : { afterKey }) }, asked));
      if (keys.length === 0) break;
      const rows = await this.objectsByKey('list objects', keys.map((k) => k.key));
      for (const { key } of keys) {
        const row = rows.get(key);
        if (row !== undefined && matchesObjectFilter(row, filter)) stored.push(row);
      }
      if (keys.length < asked) break;
      afterKey = keys[keys.length - 1]!.key;
    }
    const byKey = new Map<string, ObjectRow>();
    for (const row of stored) byKey.set(row.key, row);
    for (const row of queued) byKey.set(row.key, row);
    return [...byKey.keys()]
      .sort(compareText)
      .slice(0, limit)
      .map((key) => objectFromRow(byKey.get(key)!));
  }

  async getObject(key: string): Promise<ObjectMeta | null> {
    this.checkStarted();
    const queued = this.outbox?.objectRow(key);
    if (queued !== undefined) return objectFromRow(JSON.parse(queued) as ObjectRow);
    const row = (await this.objectsByKey('get object', [key])).get(key);
    return row ? objectFromRow(row) : null;
  }

  /** The latest copy of each of these object rows, retired keys left out. */
  private async objectsByKey(action: string, keys: readonly string[]): Promise<Map<string, ObjectRow>> {
    const copies: ObjectRow[] = [];
    for (let i = 0; i < keys.length; i += ID_CHUNK) {
      for (const row of await this.select(action, objectsByKeyQuery(this.names, keys.slice(i, i + ID_CHUNK)))) copies.push(objectFromSelected(row));
    }
    const current = latest(copies, (row) => row.key);
    const retired = await this.retiredKeys([...current.keys()]);
    for (const key of retired) current.delete(key);
    return current;
  }

  // Retention writes go straight to ClickHouse, not through the outbox: the caller deletes a blob right after, and
  // a reader on another host must already see the rows gone or moved by then. The retired key comes first: from then
  // on every read leaves the rows out, whatever happens to the removal after it.
  async deleteObject(key: string, requestIds?: readonly string[]): Promise<void> {
    this.checkRetentionWrite(key);
    const object = (await this.objectsByKey('look up object', [key])).get(key);
    await this.write('retire object', 'retired_objects', [{ key, retired_at_ms: String(Date.now()) }]);
    await this.removeRows(key, object, requestIds);
  }

  // Order matters for a crash half-way: the new object row first (retention's journal takes it as "the switch has
  // begun, finish it"), then the request rows at their new location in one insert (one part: readers see all of
  // them moved or none; their version is higher than any earlier write), then the old key retired and its rows removed.
  // Removed ids (dedup) need no write of their own: their rows are not moved, so they still point at the old key and
  // vanish from every read the moment it is retired, and from the tables with its other rows.
  async replaceObject(oldKey: string, newObject: ObjectMeta, requests: readonly ArchivedRequest[], removedIds: readonly string[] = []): Promise<void> {
    this.checkRetentionWrite(oldKey);
    checkReplacement(oldKey, newObject, requests, removedIds);
    if ((await this.retiredKeys([newObject.key])).size > 0) {
      throw new InvalidArgumentError(`${newObject.key} was deleted or replaced by retention; its key cannot take an object again`);
    }
    const version = Date.now();
    const old = (await this.objectsByKey('look up object', [oldKey])).get(oldKey);
    await this.write('record moved object', 'objects', [objectRow(newObject, version)]);
    const current = await this.liveIdCopies('look up request locations', requests.map((r) => r.id));
    // Rows that point elsewhere (a request also archived under another object after a crash) stay where they are.
    const moved = requests.filter((r) => {
      const at = current.get(r.id)?.object_key;
      return at === oldKey || at === newObject.key;
    });
    // Also when the object was rewritten in place (same key): its requests' offsets and codec change.
    await this.write('move request rows', 'requests', moved.map((r) => requestRow(r, version)));
    if (oldKey === newObject.key) return;
    await this.write('retire object', 'retired_objects', [{ key: oldKey, retired_at_ms: String(Date.now()) }]);
    // The removed ids belong to the old key's id range too, or a bounded DELETE would miss the ones at its ends.
    await this.removeRows(oldKey, old, [...requests.map((r) => r.id), ...removedIds]);
  }

  /**
   * Removes the rows that point at a retired key. Current ClickHouse: lightweight DELETE now, bounded by the
   * object's tenant/signal and its requests' id range so only the parts and granules holding them are touched.
   * 18.16: queued for one batched mutation (see the header). Service rows stay on the current dialect (their key is
   * retired, so no read counts them); 18.16's batch removes them with the rest.
   */
  private async removeRows(key: string, object: ObjectRow | undefined, requestIds: readonly string[] | undefined): Promise<void> {
    const dialect = this.dialectFound;
    if (dialect === null || !dialect.lightweightDelete) {
      this.purgePending.add(key);
      this.schedulePurge();
      return;
    }
    const ids = [...(requestIds ?? [])].sort(compareText);
    const idRange = ids.length > 0 ? ` AND id >= ${literal(ids[0]!)} AND id <= ${literal(ids[ids.length - 1]!)}` : '';
    const stream = object === undefined ? '' : `tenant = ${literal(object.tenant)} AND signal = ${literal(object.signal)} AND `;
    const deleteFrom = (table: string, condition: string): string => `DELETE FROM ${this.names.local(table)}${this.names.onCluster} WHERE ${condition}`;
    try {
      await this.connection.command(deleteFrom('requests', `${stream}object_key = ${literal(key)}${idRange}`));
      await this.connection.command(deleteFrom('request_ids', `object_key = ${literal(key)}${idRange}`));
      await this.connection.command(deleteFrom('objects', `key = ${literal(key)}`));
    } catch (error) {
      // The key is retired already: reads leave the rows out; they go with the next removal.
      throw new BackendUnavailableError(this.failureMessage('remove index rows', error), { cause: error });
    }
  }

  private schedulePurge(): void {
    if (this.purgeTimer !== null) clearTimeout(this.purgeTimer);
    this.purgeTimer = setTimeout(() => {
      this.purgeTimer = null;
      void this.purgeRetired();
    }, this.options.purgeDelayMs ?? 5000);
    this.purgeTimer.unref();
  }

  /** 18.16: one mutation per table for the keys retired since the last one. Failures leave them for the next. */
  private purgeRetired(): Promise<void> {
    const run = this.purging.then(async () => {
      const keys = [...this.purgePending];
      if (keys.length === 0) return;
      for (let i = 0; i < keys.length; i += PURGE_CHUNK) {
        const chunk = keys.slice(i, i + PURGE_CHUNK);
        const inKeys = chunk.map((k) => literal(k)).join(', ');
        try {
          for (const table of ['requests', 'request_ids', 'request_services']) {
            await this.connection.command(`ALTER TABLE ${this.names.local(table)}${this.names.onCluster} DELETE WHERE object_key IN (${inKeys})`);
          }
          await this.connection.command(`ALTER TABLE ${this.names.local('objects')}${this.names.onCluster} DELETE WHERE key IN (${inKeys})`);
          for (const key of chunk) this.purgePending.delete(key);
        } catch (error) {
          this.options.logger?.warn({ keys: chunk.length }, `${this.failureMessage('remove retired index rows', error)}; they stay hidden and are removed later`);
          this.schedulePurge();
          return;
        }
      }
    });
    this.purging = run.catch(() => undefined);
    return this.purging;
  }

  // Straight to ClickHouse, like retention's writes: verify's caller expects the reason to be readable when it returns.
  async quarantineRequests(entries: readonly QuarantinedRequest[]): Promise<void> {
    if (this.readonly) throw new InvalidArgumentError(`${this.describe()} is read-only`);
    this.checkStarted();
    if (entries.length === 0) return;
    const rows = entries.map((e) => ({ id: e.id, reason: e.reason, at_ms: String(Math.floor(e.atMs)) }));
    await this.write('quarantine requests', 'quarantined_requests', rows);
  }

  async quarantinedRequests(ids: readonly string[]): Promise<Map<string, QuarantinedRequest>> {
    this.checkStarted();
    const found = new Map<string, QuarantinedRequest>();
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += ID_CHUNK) {
      const list = unique.slice(i, i + ID_CHUNK).map((id) => literal(id)).join(', ');
      const rows = await this.select<{ id: string; reason: string; at_ms: string }>(
        'look up quarantined requests',
        `SELECT id, reason, toString(at_ms) AS at_ms FROM ${this.names.read('quarantined_requests')} FINAL WHERE id IN (${list})`,
      );
      for (const row of rows) found.set(row.id, { id: row.id, reason: row.reason, atMs: Number(row.at_ms) });
    }
    return found;
  }

  /** Which of these object keys are retired (deleted or replaced by retention). */
  private async retiredKeys(keys: readonly string[]): Promise<Set<string>> {
    const retired = new Set<string>();
    const unique = [...new Set(keys)];
    for (let i = 0; i < unique.length; i += ID_CHUNK) {
      const rows = await this.select<{ key: string }>('look up retired objects', retiredKeysQuery(this.names, unique.slice(i, i + ID_CHUNK)));
      for (const row of rows) retired.add(row.key);
    }
    return retired;
  }

  /**
   * Writes out what the outbox holds now, without waiting for the batch thresholds (tests, and callers that got a
   * "still queued" refusal from deleteObject/replaceObject). True when the outbox is empty. Waits for a batch the
   * background loop is writing, so nothing queued before this call reaches ClickHouse after it resolves.
   */
  async flushOutbox(timeoutMs = 10_000): Promise<boolean> {
    if (this.readonly) throw new InvalidArgumentError(`${this.describe()} is read-only`);
    this.checkStarted();
    return (await this.flusher?.flushAll(Date.now() + timeoutMs)) ?? true;
  }

  /** Runs the batched removal of retired rows now (18.16); resolves once the mutations are queued on the server. */
  async purgeRetiredNow(): Promise<void> {
    if (this.purgeTimer !== null) {
      clearTimeout(this.purgeTimer);
      this.purgeTimer = null;
    }
    await this.purgeRetired();
  }

  /** Rows of an object still queued here would reach ClickHouse after retention's change and undo it. */
  private checkRetentionWrite(key: string): void {
    if (this.readonly) throw new InvalidArgumentError(`${this.describe()} is read-only`);
    this.checkStarted();
    if (this.outbox?.objectRow(key) !== undefined) {
      throw new BackendUnavailableError(`index rows of ${key} are still queued for ClickHouse in ${this.outbox.path}; retry once they are written`);
    }
  }

  /**
   * Inserts of a writer. On a cluster: sharded tables through the Distributed table, synchronously (every shard
   * acknowledged); retired keys, which every node reads locally, on every node before the insert returns (a quorum of
   * all of them), so no reader anywhere still shows what retention removed.
   */
  private async insertRows(table: InsertTable, rows: readonly object[]): Promise<void> {
    const columns = INSERT_COLUMNS[table];
    if (this.cluster === null) return this.connection.insert(this.names.read(table), columns, rows);
    if (table !== 'retired_objects') return this.connection.insert(this.names.read(table), columns, rows, { insert_distributed_sync: 1 });
    this.clusterNodes ??= await this.countClusterNodes();
    return this.connection.insert(this.names.read(table), columns, rows, this.clusterNodes > 1 ? { insert_quorum: this.clusterNodes } : undefined);
  }

  private async countClusterNodes(): Promise<number> {
    const [row] = await this.connection.select<{ n: string }>(`SELECT toString(count()) AS n FROM system.clusters WHERE cluster = ${literal(this.cluster!)}`);
    return Math.max(1, Number(row?.n ?? 1));
  }

  private async write(action: string, table: InsertTable, rows: readonly object[]): Promise<void> {
    try {
      await this.insertRows(table, rows);
    } catch (error) {
      throw new BackendUnavailableError(this.failureMessage(action, error), { cause: error });
    }
  }

  /** For /readyz: why this index is not usable yet; null once ClickHouse has been reached since start. */
  notReadyReason(): string | null {
    return this.outboxFull() ?? this.unreachableReason;
  }

  /** Why commits are refused for now, or null: the outbox is at index.clickhouse.outboxMaxBytes. */
  private outboxFull(): string | null {
    const max = this.options.outboxMaxBytes;
    if (max === undefined || this.readonly || !this.outbox) return null;
    const used = this.outbox.usedBytes();
    if (used < max) return null;
    return (
      `the ClickHouse outbox ${this.outbox.path} holds ${formatBytes(used)}, its limit (index.clickhouse.outboxMaxBytes ` +
      `${formatBytes(max)}): ClickHouse has not taken index rows for a while, so archiving waits and requests stay in the spool`
    );
  }

  /** The outbox's rows as requests: what `--server` readers, who query ClickHouse themselves, cannot see yet. */
  pendingRows(): PendingRows | null {
    const outbox = this.outbox;
    if (!outbox) return null;
    const parse = (text: string | undefined): RequestRow | undefined => (text === undefined ? undefined : (JSON.parse(text) as RequestRow));
    return {
      list: (filter) => queuedRequestRows(outbox, filter, filter.limit ?? Number.POSITIVE_INFINITY).map(requestFromRow),
      get: (id) => {
        const row = parse(outbox.requestRow(id));
        return row === undefined ? null : requestFromRow(row);
      },
      findTrace: (traceId, tenant) =>
        outbox
          .traceRequestIds(traceId, tenant)
          .sort(compareText)
          .map((id) => parse(outbox.requestRow(id)))
          .filter((row): row is RequestRow => row !== undefined && (tenant === undefined || row.tenant === tenant))
          .map(requestFromRow),
    };
  }

  /** Rows committed but not yet in ClickHouse, and how old the oldest is: for metrics and alerts. */
  outboxStatus(nowMs = Date.now()): OutboxStatus {
    const stats = this.outbox?.stats() ?? { objects: 0, requests: 0, oldestAtMs: null };
    return {
      objects: stats.objects,
      requests: stats.requests,
      lagMs: stats.oldestAtMs === null ? 0 : Math.max(0, nowMs - stats.oldestAtMs),
      backendAvailable: this.available,
      failedFlushes: this.failedFlushes,
      setAsideObjects: this.outbox?.setAsideCount().objects ?? 0,
    };
  }

  private async target(): Promise<SchemaTarget> {
    const [row] = await this.connection.select<{ version: string }>('SELECT version() AS version');
    this.dialectFound = dialectFor(String(row?.version ?? ''));
    return { database: this.database, cluster: this.cluster, dialect: this.dialectFound };
  }

  /** Creates the database and tables if needed and applies pending migrations. Idempotent; safe to race. */
  private async migrate(): Promise<void> {
    await migrateSchema(this.connection, await this.target(), this.options.logger);
  }

  private async checkReadable(): Promise<void> {
    try {
      const target = await this.target();
      const tables = await tablesOf(this.connection, this.database);
      if (!tables.has('schema_migrations')) {
        throw new BackendUnavailableError(
          `ClickHouse at ${this.connection.location} has no otlp-capture index in database ${this.database} ` +
            '(nothing captured there yet: is CLICKHOUSE_DATABASE right?)',
        );
      }
      const version = await schemaVersion(this.connection, target);
      if (version > SCHEMA_VERSION) throw this.newerSchema(version);
      if (version < SCHEMA_VERSION) {
        throw new BackendUnavailableError(
          `ClickHouse index ${this.database} at ${this.connection.location} has schema version ${version}, expected ` +
            `${SCHEMA_VERSION}: start the server once to migrate it`,
        );
      }
    } catch (error) {
      await this.connection.close();
      if (error instanceof OtlpCaptureError) throw error;
      throw new BackendUnavailableError(this.failureMessage('open the index', error), { cause: error });
    }
  }

  private newerSchema(version: number): BackendUnavailableError {
    return new BackendUnavailableError(
      `ClickHouse index ${this.database} at ${this.connection.location} has schema version ${version}, newer than ` +
        `this build knows (${SCHEMA_VERSION}): upgrade otlp-capture`,
    );
  }

  /**
   * Requests first, then trace rows: an object row is never visible before its requests and trace rows are.
   * Rows of objects retention has retired meanwhile are dropped (a late re-commit, e.g. a reindex that read the
   * object just before it was moved): their version is older than the moved rows', and the retired key hides them,
   * but not inserting them keeps the tables clean. (Their trace rows are harmless: reads skip retired rows.)
   */
  private async insertBatch(batch: OutboxBatch): Promise<void> {
    // Only the insert columns are written (clickhouse-rows.ts); a column missing from a row queued by an older build
    // gets its default, as JSONEachRow filled it.
    const objects = batch.objectRows.map((text) => queuedRow<ObjectRow>(text));
    const retired = await this.retiredKeys(objects.map((o) => String(o.key)));
    const requests = batch.requestRows.map((text) => queuedRow<RequestRow>(text)).filter((r) => !retired.has(String(r.object_key)));
    // In chunks of a bounded number of partitions (clickhouse-partitions.ts): a wide batch is otherwise refused for good.
    for (const chunk of chunksByPartition(requests, requestPartition)) await this.insertRows('requests', chunk);
    await this.insertRows(
      'trace_requests',
      batch.traceRows.map((t): TraceRow => ({ trace_id: t.traceId, request_id: t.requestId, tenant: t.tenant })),
    );
    const live = objects.filter((o) => !retired.has(String(o.key)));
    for (const chunk of chunksByPartition(live, objectPartition)) await this.insertRows('objects', chunk);
  }

  private async select<T = Record<string, unknown>>(action: string, sql: string): Promise<T[]> {
    try {
      return await this.connection.select<T>(sql);
    } catch (error) {
      throw new BackendUnavailableError(this.failureMessage(action, error), { cause: error });
    }
  }

  private failureMessage(action: string, error: unknown): string {
    if (error instanceof OtlpCaptureError) return error.message;
    return this.connection.describeFailure(`${action} (database ${this.database})`, error).message;
  }

  /**
   * Which failures of a batch write may be about its rows (clickhouse-flusher.ts): rows this side cannot encode, and
   * errors ClickHouse answered with, except those about the server's own state, which no object can cause.
   */
  private classifyFailure(error: unknown): FailureKind {
    if (error instanceof InvalidArgumentError) return 'rows';
    if (error instanceof OtlpCaptureError) return 'retry';
    const failure = this.connection.describeFailure('write index rows', error);
    if (failure.kind !== 'server' || failure.code === undefined || SERVER_STATE_CODES.has(failure.code)) return 'retry';
    return 'server';
  }

  private reportSetAside(key: string, error: unknown): void {
    const why =
      error instanceof InvalidArgumentError
        ? `the index rows of ${key} cannot be written (${error.message})`
        : `ClickHouse refused the index rows of ${key} alone while it took other objects (${this.failureMessage('write index rows', error)})`;
    this.options.logger?.error(
      { outbox: this.outbox?.path, object: key, setAside: this.outbox?.setAsideCount().objects },
      `${why}; they are set aside in the outbox (still readable on this host, not yet in ClickHouse) so that later ` +
        'objects are indexed, and retried at the next start',
    );
  }

  private markAvailable(): void {
    if (!this.available) {
      const queued = this.outbox?.stats().requests ?? 0;
      this.options.logger?.info({ index: this.describe(), queued }, 'ClickHouse index is reachable; writing queued index rows');
    }
    this.available = true;
    this.unreachableReason = null;
  }

  private markFailed(error: unknown): void {
    this.failedFlushes += 1;
    const notReachedYet = this.unreachableReason !== null;
    const message = this.failureMessage(notReachedYet ? 'prepare the index' : 'write index rows', error);
    if (notReachedYet) this.unreachableReason = message;
    // One line per outage, not one per retry.
    if (this.available) {
      this.options.logger?.error({ outbox: this.outbox?.path }, `${message}; index rows are kept in the outbox and retried`);
    }
    this.available = false;
  }

  private writableOutbox(): IndexOutbox {
    if (!this.started || !this.outbox) throw new BackendUnavailableError(`${this.describe()} is not started`);
    return this.outbox;
  }

  private checkStarted(): void {
    if (!this.started) throw new BackendUnavailableError(`${this.describe()} is not started`);
  }
}

/**
 * The buckets of one listing, a window at a time: ClickHouse aggregates bucket counts before it can sort them, so
 * asking for "the next 256 buckets" without bounds would aggregate every bucket ever written (hundreds of thousands of
 * rows at 50 M requests). Each window spans WINDOW_BUCKETS buckets (×4 while windows come back empty) from where the
 * listing is, up to the filter's first or last bucket (one min/max query per listing).
 */
class BucketWindows {
  private extent: { first: string; last: string } | null | undefined;
  private span = WINDOW_BUCKETS;

  constructor(
    private readonly store: ClickHouseIndexStore,
    private readonly filter: RequestFilter,
    private readonly newestFirst: boolean,
  ) {}

  async next(start: BucketStart | null, max: number): Promise<BucketCount[]> {
    this.extent ??= await this.store.bucketExtent(this.filter);
    if (this.extent === null) return [];
    const end = this.newestFirst ? this.extent.first : this.extent.last;
    let from = start ?? { bucket: this.newestFirst ? this.extent.last : this.extent.first, inclusive: true };
    for (;;) {
      const step = this.newestFirst ? -this.span : this.span;
      const boundNumber = bucketNumber(from.bucket) + step;
      const pastEnd = this.newestFirst ? boundNumber <= bucketNumber(end) : boundNumber >= bucketNumber(end);
      const bound = pastEnd ? end : bucketFromNumber(boundNumber);
      const found = await this.store.buckets(this.filter, from, max, this.newestFirst, bound);
      if (found.length > 0 || pastEnd) return found;
      from = { bucket: bound, inclusive: false };
      this.span *= 4;
    }
  }
}

/** Buckets per first window: ~28 h at 17.5 min each. */
const WINDOW_BUCKETS = 96;

/** A row as the outbox holds it; one that is not JSON (damaged) is a row that can never be written. */
function queuedRow<T>(text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new InvalidArgumentError(`a queued index row is not valid JSON (${(error as Error).message}): ${JSON.stringify(text.slice(0, 80))}`);
  }
}

/** Ids and keys are ASCII: code-unit order is ClickHouse's byte order. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
