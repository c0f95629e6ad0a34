// IndexStore on ClickHouse (@clickhouse/client over HTTP), valid on Debian's ClickHouse 18.16 and current releases.
//
// Writer (serve, reindex): commitObject queues the object's rows in a local outbox (SQLite, fsync'd) and resolves:
// that is the durability the port promises, and what lets the archiver release the spool. A background flusher
// inserts whole objects into ClickHouse in batches (≥ batchRows rows or batchInterval, whichever first), retries
// with backoff while ClickHouse is down, and deletes outbox rows only once ClickHouse accepted them; leftovers are
// flushed at the next start. Inserts are at-least-once; ReplacingMergeTree + FINAL reads make them count once.
//
// Reads merge the outbox (rows not flushed yet) with ClickHouse, outbox first: a batch leaves the outbox only after
// ClickHouse has it, so reading the outbox before ClickHouse never misses a committed row. Readers without the
// outbox file (another host) see rows once flushed: they lag by up to batchInterval (plus any outage).
//
// The trace index (trace id → request id, with the tenant) travels with its object: queued in the same outbox
// transaction, inserted in the same batch (after the requests, before the object row). findTraceRequests reads the
// request ids of a trace from the outbox and from ClickHouse, then those requests by id.
//
// Start-up: a reader fails with one clear BackendUnavailableError when ClickHouse is unreachable, refuses the
// credentials, or has no index. A writer does too, unless `bufferWhenUnavailable` (serve): then it starts anyway,
// logs one clear error, reports not ready (notReadyReason) until ClickHouse has been reached, and buffers.

import { sleep } from '../archiver/backoff.js';
import { BackendUnavailableError, InvalidArgumentError, OtlpCaptureError } from '../errors.js';
import type { ArchivedRequest, ObjectMeta, RequestFilter } from '../model.js';
import type { Logger } from '../telemetry/logger.js';
import { ClickHouseConnection, type ClickHouseConnectionOptions } from './clickhouse-connection.js';
import { OutboxFlusher } from './clickhouse-flusher.js';
import {
  getObjectQuery,
  getRequestQuery,
  knownIdsQuery,
  listObjectsQuery,
  listRequestsQuery,
  matchesObjectFilter,
  matchesRequestFilter,
  objectFromSelected,
  requestFromSelected,
  requestLocationsQuery,
  requestsByIdQuery,
  retiredKeysQuery,
  schemaVersionQuery,
  tablesQuery,
  traceRequestIdsQuery,
  type ObjectFilter,
} from './clickhouse-queries.js';
import {
  OBJECT_COLUMNS,
  REQUEST_COLUMNS,
  checkTraceId,
  objectFromRow,
  objectRow,
  requestFromRow,
  requestRow,
  traceRows,
  type ObjectRow,
  type RequestRow,
  type TraceRow,
} from './clickhouse-rows.js';
import { MIGRATIONS, SCHEMA_VERSION, bootstrapStatements } from './clickhouse-schema.js';
import { identifier, literal } from './clickhouse-sql.js';
import type { IndexStore, OutboxStatus, QuarantinedRequest } from './index-store.js';
import { IndexOutbox, type OutboxBatch } from './index-outbox.js';

export interface ClickHouseIndexStoreOptions extends ClickHouseConnectionOptions {
  /** Default otlp_capture. Created by a writer if missing. */
  database?: string;
  /** Read only (CLI): never creates or migrates anything, never creates the outbox. */
  readonly?: boolean;
  /** Writer: required. Reader: read when it exists (rows this host has not flushed yet). */
  outboxPath?: string;
  batchRows?: number;
  batchIntervalMs?: number;
  /** Writer: start even when ClickHouse cannot be used yet, buffering in the outbox (serve). Default false. */
  bufferWhenUnavailable?: boolean;
  /** How long close() may spend flushing the outbox; what is left stays queued for the next start. Default 10 s. */
  closeTimeoutMs?: number;
  retryInitialBackoffMs?: number;
  retryMaxBackoffMs?: number;
  logger?: Logger;
}

export type { OutboxStatus } from './index-store.js';

export const DEFAULT_DATABASE = 'otlp_capture';
export const DEFAULT_LIST_LIMIT = 1000;
/** knownRequestIds asks about this many ids per query (max_query_size is 256 KiB on 18.16). */
const ID_CHUNK = 1000;
/** Largest insert when catching up; far below max_insert_block_size (1,048,576), so one insert is one part. */
const MAX_BATCH_ROWS = 100_000;

function checkLimit(limit: number | undefined): number {
  const value = limit ?? DEFAULT_LIST_LIMIT;
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError(`limit must be a positive integer: got ${limit}`);
  return value;
}

export class ClickHouseIndexStore implements IndexStore {
  readonly database: string;
  private readonly readonly: boolean;
  private readonly connection: ClickHouseConnection;
  private outbox: IndexOutbox | null = null;
  private flusher: OutboxFlusher | null = null;
  private started = false;
  /** Why ClickHouse has not been usable since start; null once it has been reached. */
  private unreachableReason: string | null = null;
  private available = false;
  private failedFlushes = 0;

  constructor(private readonly options: ClickHouseIndexStoreOptions) {
    this.database = identifier(options.database ?? DEFAULT_DATABASE);
    this.readonly = options.readonly ?? false;
    if (!this.readonly && !options.outboxPath) throw new InvalidArgumentError('a writing ClickHouse index needs an outbox path');
    this.connection = new ClickHouseConnection(options);
  }

  describe(): string {
    const outbox = this.options.outboxPath ? `, outbox ${this.options.outboxPath}` : '';
    return `clickhouse ${this.connection.location} database ${this.database}${this.readonly ? ' (read-only)' : ''}${outbox}`;
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
    this.outbox = outbox;
    this.flusher = new OutboxFlusher(
      outbox,
      { prepare: () => this.migrate(), write: (batch) => this.insertBatch(batch) },
      {
        batchRows: this.options.batchRows ?? 1000,
        batchIntervalMs: this.options.batchIntervalMs ?? 1000,
        maxBatchRows: Math.max(this.options.batchRows ?? 1000, MAX_BATCH_ROWS),
        retryInitialBackoffMs: this.options.retryInitialBackoffMs ?? 250,
        retryMaxBackoffMs: this.options.retryMaxBackoffMs ?? 5000,
      },
      { onAvailable: () => this.markAvailable(), onFailure: (error) => this.markFailed(error) },
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
    this.flusher = null;
    this.outbox?.close();
    this.outbox = null;
    if (this.started) await this.connection.close();
    this.started = false;
  }

  async commitObject(object: ObjectMeta, requests: ArchivedRequest[]): Promise<void> {
    if (this.readonly) throw new InvalidArgumentError(`${this.describe()} is read-only`);
    const outbox = this.writableOutbox();
    const traces = traceRows(requests).map((row) => ({ traceId: row.trace_id, requestId: row.request_id, tenant: row.tenant }));
    outbox.append(
      {
        objectKey: object.key,
        objectRow: JSON.stringify(objectRow(object)),
        requests: requests.map((r) => ({ id: r.id, row: JSON.stringify(requestRow(r)) })),
        traces,
      },
      Date.now(),
    );
    this.flusher?.wake();
  }

  async findTraceRequests(traceId: string, filter: { tenant?: string } = {}): Promise<ArchivedRequest[]> {
    checkTraceId(traceId);
    this.checkStarted();
    const { tenant } = filter;
    // Outbox first (see the header): an object moving to ClickHouse meanwhile is then found in one place or both.
    const ids = new Set(this.outbox?.traceRequestIds(traceId, tenant) ?? []);
    const stored = await this.select<{ request_id: string }>('find trace', traceRequestIdsQuery(this.database, traceId, tenant));
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
    for (let i = 0; i < rest.length; i += ID_CHUNK) {
      const rows = await this.select('find trace', requestsByIdQuery(this.database, rest.slice(i, i + ID_CHUNK), tenant));
      for (const row of rows) {
        const request = requestFromSelected(row);
        byId.set(request.id, request);
      }
    }
    return [...byId.keys()].sort(compareText).map((id) => requestFromRow(byId.get(id)!));
  }

  async knownRequestIds(ids: readonly string[]): Promise<Set<string>> {
    this.checkStarted();
    const known = this.outbox?.knownIds(ids) ?? new Set<string>();
    const rest = [...new Set(ids.filter((id) => !known.has(id)))];
    for (let i = 0; i < rest.length; i += ID_CHUNK) {
      const rows = await this.select<{ id: string }>('look up request ids', knownIdsQuery(this.database, rest.slice(i, i + ID_CHUNK)));
      for (const row of rows) known.add(row.id);
    }
    return known;
  }

  async listRequests(filter: RequestFilter): Promise<ArchivedRequest[]> {
    const limit = checkLimit(filter.limit);
    this.checkStarted();
    // Outbox first (see the header): a row moving to ClickHouse meanwhile is then seen in one place or both.
    const queued: RequestRow[] = [];
    if (this.outbox) {
      for (const text of this.outbox.requestRows(filter.afterId)) {
        const row = JSON.parse(text) as RequestRow;
        if (!matchesRequestFilter(row, filter)) continue;
        queued.push(row);
        if (queued.length >= limit) break;
      }
    }
    const stored = await this.select('list requests', listRequestsQuery(this.database, filter, limit));
    const byId = new Map<string, RequestRow>();
    for (const row of stored) {
      const request = requestFromSelected(row);
      byId.set(request.id, request);
    }
    for (const row of queued) byId.set(row.id, row); // queued rows are the newer commit
    return [...byId.keys()]
      .sort(compareText)
      .slice(0, limit)
      .map((id) => requestFromRow(byId.get(id)!));
  }

  async getRequest(id: string): Promise<ArchivedRequest | null> {
    this.checkStarted();
    const queued = this.outbox?.requestRow(id);
    if (queued !== undefined) return requestFromRow(JSON.parse(queued) as RequestRow);
    const [row] = await this.select('get request', getRequestQuery(this.database, id));
    return row ? requestFromRow(requestFromSelected(row)) : null;
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
    const stored = await this.select('list objects', listObjectsQuery(this.database, filter, limit));
    const byKey = new Map<string, ObjectRow>();
    for (const row of stored) {
      const object = objectFromSelected(row);
      byKey.set(object.key, object);
    }
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
    const [row] = await this.select('get object', getObjectQuery(this.database, key));
    return row ? objectFromRow(objectFromSelected(row)) : null;
  }

  // Retention writes go straight to ClickHouse, not through the outbox: the caller deletes a blob right after, and
  // a reader on another host must already see the rows gone or moved by then. Deleting is retiring the key (see
  // clickhouse-queries.ts): one row, whatever the object's size, and immune to a late re-insert of its rows.
  async deleteObject(key: string, _requestIds?: readonly string[]): Promise<void> {
    this.checkRetentionWrite(key);
    await this.write('retire object', 'retired_objects', [{ key, retired_at_ms: String(Date.now()) }]);
  }

  // Order matters for a crash half-way: the new object row first (retention's journal takes it as "the switch has
  // begun, finish it"), then the request rows at their new location in one insert (one part: readers see all of
  // them moved or none), then the old key retired.
  async replaceObject(oldKey: string, newObject: ObjectMeta, requests: readonly ArchivedRequest[]): Promise<void> {
    this.checkRetentionWrite(oldKey);
    for (const r of requests) {
      if (r.objectKey !== newObject.key) {
        throw new InvalidArgumentError(`request ${r.id} is located in ${r.objectKey}, not in the new object ${newObject.key}`);
      }
    }
    if ((await this.retiredKeys([newObject.key])).size > 0) {
      throw new InvalidArgumentError(`${newObject.key} was deleted or replaced by retention; its key cannot take an object again`);
    }
    await this.write('record moved object', 'objects', [pick({ ...objectRow(newObject) }, OBJECT_COLUMNS)]);
    const ids = requests.map((r) => r.id);
    const current = new Map<string, string>();
    for (let i = 0; i < ids.length; i += ID_CHUNK) {
      const rows = await this.select<{ id: string; object_key: string }>(
        'look up request locations',
        requestLocationsQuery(this.database, ids.slice(i, i + ID_CHUNK)),
      );
      for (const row of rows) current.set(row.id, row.object_key);
    }
    // Rows that point elsewhere (a request also archived under another object after a crash) stay where they are.
    const moved = requests.filter((r) => current.get(r.id) === oldKey || current.get(r.id) === newObject.key);
    // Also when the object was rewritten in place (same key): its requests' offsets and codec change.
    await this.write('move request rows', 'requests', moved.map((r) => pick({ ...requestRow(r) }, REQUEST_COLUMNS)));
    if (oldKey === newObject.key) return;
    await this.write('retire object', 'retired_objects', [{ key: oldKey, retired_at_ms: String(Date.now()) }]);
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
        `SELECT id, reason, toString(at_ms) AS at_ms FROM ${identifier(this.database)}.quarantined_requests FINAL WHERE id IN (${list})`,
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
      const rows = await this.select<{ key: string }>('look up retired objects', retiredKeysQuery(this.database, unique.slice(i, i + ID_CHUNK)));
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

  /** Rows of an object still queued here would reach ClickHouse after retention's change and undo it. */
  private checkRetentionWrite(key: string): void {
    if (this.readonly) throw new InvalidArgumentError(`${this.describe()} is read-only`);
    this.checkStarted();
    if (this.outbox?.objectRow(key) !== undefined) {
      throw new BackendUnavailableError(`index rows of ${key} are still queued for ClickHouse in ${this.outbox.path}; retry once they are written`);
    }
  }

  private async write(action: string, table: string, rows: readonly object[]): Promise<void> {
    try {
      await this.connection.insert(`${this.database}.${table}`, rows);
    } catch (error) {
      throw new BackendUnavailableError(this.failureMessage(action, error), { cause: error });
    }
  }

  /** For /readyz: why this index is not usable yet; null once ClickHouse has been reached since start. */
  notReadyReason(): string | null {
    return this.unreachableReason;
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
    };
  }

  /** Creates the database and tables if needed and applies pending migrations. Idempotent; safe to race. */
  private async migrate(): Promise<void> {
    for (const statement of bootstrapStatements(this.database)) await this.connection.command(statement);
    const current = await this.schemaVersion();
    if (current > SCHEMA_VERSION) throw this.newerSchema(current);
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      for (const statement of migration.statements(this.database)) await this.connection.command(statement);
      await this.connection.insert(`${this.database}.schema_migrations`, [
        { version: migration.version, description: migration.description, applied_at_ms: String(Date.now()) },
      ]);
    }
  }

  private async checkReadable(): Promise<void> {
    try {
      const tables = new Set((await this.connection.select<{ name: string }>(tablesQuery(this.database))).map((t) => t.name));
      if (!tables.has('schema_migrations')) {
        throw new BackendUnavailableError(
          `ClickHouse at ${this.connection.location} has no otlp-capture index in database ${this.database} ` +
            '(nothing captured there yet: is CLICKHOUSE_DATABASE right?)',
        );
      }
      const version = await this.schemaVersion();
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

  private async schemaVersion(): Promise<number> {
    const [row] = await this.connection.select<{ version: string }>(schemaVersionQuery(this.database));
    return Number(row?.version ?? 0);
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
   * object just before it was moved): inserted, they would win FINAL's collapse over the rows retention moved to
   * the object's new location, and hide those requests. (Their trace rows are harmless: reads skip retired rows.)
   */
  private async insertBatch(batch: OutboxBatch): Promise<void> {
    const objects = batch.objectRows.map((text) => pick(JSON.parse(text), OBJECT_COLUMNS));
    const retired = await this.retiredKeys(objects.map((o) => String(o.key)));
    const requests = batch.requestRows
      .map((text) => pick(JSON.parse(text), REQUEST_COLUMNS))
      .filter((r) => !retired.has(String(r.object_key)));
    await this.connection.insert(`${this.database}.requests`, requests);
    await this.connection.insert(
      `${this.database}.trace_requests`,
      batch.traceRows.map((t): TraceRow => ({ trace_id: t.traceId, request_id: t.requestId, tenant: t.tenant })),
    );
    await this.connection.insert(`${this.database}.objects`, objects.filter((o) => !retired.has(String(o.key))));
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

/** Ids and keys are ASCII: code-unit order is ClickHouse's byte order. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Only the table's columns: rows queued by an older build may carry fewer, never unknown ones. */
function pick(row: Record<string, unknown>, columns: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const column of columns) if (column in row) out[column] = row[column];
  return out;
}
