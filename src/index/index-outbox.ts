// A local, durable queue of index rows on their way to a remote index (ClickHouse): a small SQLite file.
//
// commitObject must be durable when it resolves, but a remote index wants large batches and may be down: so a
// commit lands here (one transaction, synchronous=FULL) and a flusher moves whole objects to the remote index,
// deleting them here only once the remote accepted them. Object and request rows are opaque JSON text to the outbox;
// the caller decides their shape. Trace rows (trace id → request) are columns, keyed by trace id, so that a lookup
// of one trace finds the queued ones too. Several processes may share the file (WAL): a reader sees what a writer
// has queued.

import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { BackendUnavailableError } from '../errors.js';

/** One (trace, request) pair of the trace index; traceId is 32 lowercase hex digits. */
export interface OutboxTraceRow {
  traceId: string;
  requestId: string;
  tenant: string;
}

export interface OutboxEntry {
  objectKey: string;
  objectRow: string;
  requests: readonly { id: string; row: string }[];
  /** The object's trace rows; none when omitted. */
  traces?: readonly OutboxTraceRow[];
}

/** A run of whole objects, oldest first, as queued. */
export interface OutboxBatch {
  firstSeq: number;
  lastSeq: number;
  objectRows: string[];
  requestRows: string[];
  traceRows: OutboxTraceRow[];
}

export interface OutboxStats {
  objects: number;
  requests: number;
  traceRows: number;
  /** When the oldest queued object was committed; null when empty. */
  oldestAtMs: number | null;
}

// Version 2 added the trace rows (outbox_traces, outbox_objects.trace_count). An older build refuses a newer file
// rather than flushing objects without their trace rows and leaving those queued forever.
const OUTBOX_VERSION = 2;
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS outbox_objects (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: a batch is a seq range
    object_key    TEXT    NOT NULL,
    row           TEXT    NOT NULL,
    request_count INTEGER NOT NULL,
    added_at_ms   INTEGER NOT NULL,
    trace_count   INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE IF NOT EXISTS outbox_requests (
    seq INTEGER NOT NULL,
    id  TEXT    NOT NULL,
    row TEXT    NOT NULL,
    PRIMARY KEY (seq, id)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS outbox_requests_id ON outbox_requests (id, seq);
  CREATE INDEX IF NOT EXISTS outbox_objects_key ON outbox_objects (object_key, seq);
  CREATE TABLE IF NOT EXISTS outbox_traces (
    trace_id   TEXT    NOT NULL,
    request_id TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    tenant     TEXT    NOT NULL,
    PRIMARY KEY (trace_id, request_id, seq)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS outbox_traces_seq ON outbox_traces (seq);
`;
const ID_BATCH = 500;

/** Brings a file of any older version to OUTBOX_VERSION, in one transaction. */
function migrate(db: Database.Database): void {
  db.transaction(() => {
    db.exec(SCHEMA);
    // A version-1 file: its outbox_objects predates trace_count (CREATE TABLE IF NOT EXISTS left it as it was).
    const columns = (db.pragma('table_info(outbox_objects)') as { name: string }[]).map((c) => c.name);
    if (!columns.includes('trace_count')) db.exec('ALTER TABLE outbox_objects ADD COLUMN trace_count INTEGER NOT NULL DEFAULT 0');
    db.pragma(`user_version = ${OUTBOX_VERSION}`);
  }).immediate();
}

export class IndexOutbox {
  /** `hasTraces`: false for a version-1 file opened read-only (no trace rows can be queued in it). */
  private constructor(readonly path: string, private readonly db: Database.Database, private readonly hasTraces = true) {}

  /** Opens (creating) the outbox for writing. */
  static openForWriting(file: string): IndexOutbox {
    let db: Database.Database | undefined;
    try {
      mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      db = new Database(file);
      db.pragma('busy_timeout = 5000');
      db.pragma('journal_mode = WAL');
      // The archiver releases spool data once a commit resolves: the commit must be on disk by then.
      db.pragma('synchronous = FULL');
      const version = Number(db.pragma('user_version', { simple: true }));
      if (version > OUTBOX_VERSION) throw new Error(`outbox format ${version} is newer than this build knows (${OUTBOX_VERSION})`);
      migrate(db);
      return new IndexOutbox(file, db);
    } catch (error) {
      db?.close();
      throw new BackendUnavailableError(`cannot open index outbox ${file}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Opens an existing outbox for reading only; null when there is none (nothing is created). */
  static openForReading(file: string): IndexOutbox | null {
    if (!existsSync(file)) return null;
    try {
      const db = new Database(file, { readonly: true, fileMustExist: true });
      db.pragma('busy_timeout = 5000');
      return new IndexOutbox(file, db, Number(db.pragma('user_version', { simple: true })) >= 2);
    } catch (error) {
      throw new BackendUnavailableError(`cannot read index outbox ${file}: ${(error as Error).message}`, { cause: error });
    }
  }

  append(entry: OutboxEntry, nowMs: number): void {
    const traces = entry.traces ?? [];
    const insertObject = this.db.prepare(
      'INSERT INTO outbox_objects (object_key, row, request_count, added_at_ms, trace_count) VALUES (?, ?, ?, ?, ?)',
    );
    const insertRequest = this.db.prepare('INSERT OR REPLACE INTO outbox_requests (seq, id, row) VALUES (?, ?, ?)');
    const insertTrace = this.db.prepare('INSERT OR IGNORE INTO outbox_traces (trace_id, request_id, seq, tenant) VALUES (?, ?, ?, ?)');
    this.guard('queue index rows', () =>
      this.db
        .transaction(() => {
          const seq = insertObject.run(entry.objectKey, entry.objectRow, entry.requests.length, nowMs, traces.length).lastInsertRowid;
          for (const request of entry.requests) insertRequest.run(seq, request.id, request.row);
          for (const trace of traces) insertTrace.run(trace.traceId, trace.requestId, seq, trace.tenant);
        })
        .immediate(),
    );
  }

  stats(): OutboxStats {
    const traces = this.hasTraces ? 'coalesce(sum(trace_count), 0)' : '0';
    const row = this.guard('read outbox size', () =>
      this.db
        .prepare(
          'SELECT count(*) AS objects, coalesce(sum(request_count), 0) AS requests, ' +
            `${traces} AS traceRows, min(added_at_ms) AS oldest FROM outbox_objects`,
        )
        .get() as { objects: number; requests: number; traceRows: number; oldest: number | null },
    );
    return { objects: row.objects, requests: row.requests, traceRows: row.traceRows, oldestAtMs: row.oldest };
  }

  /**
   * The oldest whole objects whose rows (requests and trace rows) add up to at most maxRows — at least one object,
   * however large; null if empty.
   */
  takeBatch(maxRows: number): OutboxBatch | null {
    return this.guard('read outbox', () => {
      const objects = this.db
        .prepare('SELECT seq, row, request_count + trace_count AS rows FROM outbox_objects ORDER BY seq')
        .iterate() as IterableIterator<{ seq: number; row: string; rows: number }>;
      const objectRows: string[] = [];
      let firstSeq = -1;
      let lastSeq = -1;
      let rows = 0;
      for (const object of objects) {
        if (objectRows.length > 0 && rows + object.rows > maxRows) break;
        if (firstSeq < 0) firstSeq = object.seq;
        lastSeq = object.seq;
        objectRows.push(object.row);
        rows += object.rows;
      }
      if (objectRows.length === 0) return null;
      const requestRows = this.db
        .prepare('SELECT row FROM outbox_requests WHERE seq BETWEEN ? AND ? ORDER BY seq, id')
        .pluck()
        .all(firstSeq, lastSeq) as string[];
      const traceRows = (
        this.db
          .prepare('SELECT trace_id, request_id, tenant FROM outbox_traces WHERE seq BETWEEN ? AND ?')
          .raw()
          .all(firstSeq, lastSeq) as [string, string, string][]
      ).map(([traceId, requestId, tenant]) => ({ traceId, requestId, tenant }));
      return { firstSeq, lastSeq, objectRows, requestRows, traceRows };
    });
  }

  /** Drops a batch once the remote index has it. */
  remove(batch: Pick<OutboxBatch, 'firstSeq' | 'lastSeq'>): void {
    this.guard('remove flushed rows from the outbox', () =>
      this.db
        .transaction(() => {
          this.db.prepare('DELETE FROM outbox_requests WHERE seq BETWEEN ? AND ?').run(batch.firstSeq, batch.lastSeq);
          this.db.prepare('DELETE FROM outbox_traces WHERE seq BETWEEN ? AND ?').run(batch.firstSeq, batch.lastSeq);
          this.db.prepare('DELETE FROM outbox_objects WHERE seq BETWEEN ? AND ?').run(batch.firstSeq, batch.lastSeq);
        })
        .immediate(),
    );
  }

  /** The latest queued row of a request. */
  requestRow(id: string): string | undefined {
    return this.guard('read outbox', () =>
      this.db.prepare('SELECT row FROM outbox_requests WHERE id = ? ORDER BY seq DESC LIMIT 1').pluck().get(id) as string | undefined,
    );
  }

  /** Queued request rows past afterId (id > afterId, or id < afterId newest first), in that order, the latest row per id. */
  *requestRows(afterId?: string, newestFirst = false): Generator<string> {
    const rows = (
      newestFirst
        ? this.db.prepare('SELECT id, row FROM outbox_requests WHERE id < ? ORDER BY id DESC, seq DESC').iterate(afterId ?? '\uffff')
        : this.db.prepare('SELECT id, row FROM outbox_requests WHERE id > ? ORDER BY id, seq DESC').iterate(afterId ?? '')
    ) as IterableIterator<{ id: string; row: string }>;
    let previous: string | undefined;
    for (const { id, row } of rows) {
      if (id === previous) continue;
      previous = id;
      yield row;
    }
  }

  /** The latest queued row of an object, if it is still queued. */
  objectRow(key: string): string | undefined {
    return this.guard('read outbox', () =>
      this.db.prepare('SELECT row FROM outbox_objects WHERE object_key = ? ORDER BY seq DESC LIMIT 1').pluck().get(key) as string | undefined,
    );
  }

  /** Queued object rows with key > afterKey, in key order, the latest row per key. */
  *objectRows(afterKey?: string): Generator<string> {
    const rows = this.db
      .prepare('SELECT object_key, row FROM outbox_objects WHERE object_key > ? ORDER BY object_key, seq DESC')
      .iterate(afterKey ?? '') as IterableIterator<{ object_key: string; row: string }>;
    let previous: string | undefined;
    for (const { object_key: key, row } of rows) {
      if (key === previous) continue;
      previous = key;
      yield row;
    }
  }

  /** Ids of queued requests holding spans of a trace (of one tenant, when given). */
  traceRequestIds(traceId: string, tenant?: string): string[] {
    if (!this.hasTraces) return [];
    const byTenant = tenant === undefined ? '' : ' AND tenant = ?';
    const query = this.db.prepare(`SELECT DISTINCT request_id FROM outbox_traces WHERE trace_id = ?${byTenant}`).pluck();
    return this.guard('read outbox', () => (tenant === undefined ? query.all(traceId) : query.all(traceId, tenant)) as string[]);
  }

  knownIds(ids: readonly string[]): Set<string> {
    const query = this.db.prepare('SELECT DISTINCT id FROM outbox_requests WHERE id IN (SELECT value FROM json_each(?))').pluck();
    const known = new Set<string>();
    for (let i = 0; i < ids.length; i += ID_BATCH) {
      const batch = JSON.stringify(ids.slice(i, i + ID_BATCH));
      for (const id of this.guard('read outbox', () => query.all(batch) as string[])) known.add(id);
    }
    return known;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private guard<T>(action: string, run: () => T): T {
    try {
      return run();
    } catch (error) {
      throw new BackendUnavailableError(`cannot ${action} (${this.path}): ${(error as Error).message}`, { cause: error });
    }
  }
}
