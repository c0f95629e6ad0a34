// A local, durable queue of index rows on their way to a remote index (ClickHouse): a small SQLite file.
//
// commitObject must be durable when it resolves, but a remote index wants large batches and may be down: so a
// commit lands here (one transaction, synchronous=FULL) and a flusher moves whole objects to the remote index,
// deleting them here only once the remote accepted them. Object and request rows are opaque JSON text to the outbox;
// the caller decides their shape. Trace rows (trace id → request) are columns, keyed by trace id, so that a lookup
// of one trace finds the queued ones too. Several processes may share the file (WAL): a reader sees what a writer
// has queued.
//
// An object whose rows the remote index refuses for good (the flusher isolates it, clickhouse-flusher.ts) is set
// aside: it stays here, readable like any queued object, but batches leave it out, so it no longer holds up every
// object after it. The writer takes set-aside objects back into the queue at its next start (the cause may be fixed).

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

/** Whole objects, oldest first, as queued (set-aside objects, and any the caller skips, left out). */
export interface OutboxBatch {
  firstSeq: number;
  lastSeq: number;
  /** The objects' sequence numbers: what remove() and setAside() name. */
  seqs: number[];
  /** The objects' keys, in the order of seqs. */
  objectKeys: string[];
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

/** An object set aside, and why. */
export interface SetAsideObject {
  seq: number;
  objectKey: string;
  requests: number;
  atMs: number;
  reason: string;
}

export interface TakeOptions {
  /** At most this many objects (at least one). */
  maxObjects?: number;
  /** Leave these objects out. */
  skip?: readonly number[];
  /** Only this object (if queued and not set aside). */
  only?: number;
}

// Version 2 added the trace rows (outbox_traces, outbox_objects.trace_count). An older build refuses a newer file
// rather than flushing objects without their trace rows and leaving those queued forever. The set-aside columns came
// later without a new version: a build that does not know them simply keeps retrying those objects, as it always did.
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
    if (!columns.includes('set_aside_at_ms')) {
      db.exec('ALTER TABLE outbox_objects ADD COLUMN set_aside_at_ms INTEGER');
      db.exec('ALTER TABLE outbox_objects ADD COLUMN set_aside_reason TEXT');
    }
    db.pragma(`user_version = ${OUTBOX_VERSION}`);
  }).immediate();
}

export class IndexOutbox {
  /**
   * `hasTraces`: false for a version-1 file opened read-only (no trace rows can be queued in it); `hasSetAside`: false
   * for a file opened read-only that no writer with set-aside support has opened yet.
   */
  private constructor(
    readonly path: string,
    private readonly db: Database.Database,
    private readonly hasTraces = true,
    private readonly hasSetAside = true,
  ) {}

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
      const columns = (db.pragma('table_info(outbox_objects)') as { name: string }[]).map((c) => c.name);
      return new IndexOutbox(file, db, Number(db.pragma('user_version', { simple: true })) >= 2, columns.includes('set_aside_at_ms'));
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

  /**
   * Bytes of the file in use (pages not on the free list). The file itself does not shrink as batches are flushed;
   * freed pages are used again first, so it stays about the largest this has been.
   */
  usedBytes(): number {
    return this.guard('read outbox size', () => {
      const pages = this.db.pragma('page_count', { simple: true }) as number;
      const free = this.db.pragma('freelist_count', { simple: true }) as number;
      return (pages - free) * (this.db.pragma('page_size', { simple: true }) as number);
    });
  }

  /** What waits to be flushed: set-aside objects are not counted (setAsideCount). */
  stats(): OutboxStats {
    const traces = this.hasTraces ? 'coalesce(sum(trace_count), 0)' : '0';
    const queued = this.hasSetAside ? ' WHERE set_aside_at_ms IS NULL' : '';
    const row = this.guard('read outbox size', () =>
      this.db
        .prepare(
          'SELECT count(*) AS objects, coalesce(sum(request_count), 0) AS requests, ' +
            `${traces} AS traceRows, min(added_at_ms) AS oldest FROM outbox_objects${queued}`,
        )
        .get() as { objects: number; requests: number; traceRows: number; oldest: number | null },
    );
    return { objects: row.objects, requests: row.requests, traceRows: row.traceRows, oldestAtMs: row.oldest };
  }

  /** How many objects (and their requests) are set aside. */
  setAsideCount(): { objects: number; requests: number } {
    if (!this.hasSetAside) return { objects: 0, requests: 0 };
    return this.guard('read outbox size', () =>
      this.db
        .prepare('SELECT count(*) AS objects, coalesce(sum(request_count), 0) AS requests FROM outbox_objects WHERE set_aside_at_ms IS NOT NULL')
        .get() as { objects: number; requests: number },
    );
  }

  /**
   * The oldest whole objects whose rows (requests and trace rows) add up to at most maxRows — at least one object,
   * however large — set-aside ones left out; null if there are none.
   */
  takeBatch(maxRows: number, options: TakeOptions = {}): OutboxBatch | null {
    return this.guard('read outbox', () => {
      const queued = this.hasSetAside ? ' AND set_aside_at_ms IS NULL' : '';
      const only = options.only === undefined ? '' : ` AND seq = ${Math.trunc(options.only)}`;
      const objects = this.db
        .prepare(`SELECT seq, object_key, row, request_count + trace_count AS rows FROM outbox_objects WHERE 1${queued}${only} ORDER BY seq`)
        .iterate() as IterableIterator<{ seq: number; object_key: string; row: string; rows: number }>;
      const skip = new Set(options.skip ?? []);
      const maxObjects = Math.max(1, options.maxObjects ?? Number.POSITIVE_INFINITY);
      const objectRows: string[] = [];
      const seqs: number[] = [];
      const objectKeys: string[] = [];
      let rows = 0;
      for (const object of objects) {
        if (skip.has(object.seq)) continue;
        if (objectRows.length > 0 && (rows + object.rows > maxRows || objectRows.length >= maxObjects)) break;
        seqs.push(object.seq);
        objectKeys.push(object.object_key);
        objectRows.push(object.row);
        rows += object.rows;
      }
      if (objectRows.length === 0) return null;
      const list = JSON.stringify(seqs);
      const requestRows = this.db
        .prepare('SELECT row FROM outbox_requests WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq, id')
        .pluck()
        .all(list) as string[];
      const traceRows = (
        this.db
          .prepare('SELECT trace_id, request_id, tenant FROM outbox_traces WHERE seq IN (SELECT value FROM json_each(?))')
          .raw()
          .all(list) as [string, string, string][]
      ).map(([traceId, requestId, tenant]) => ({ traceId, requestId, tenant }));
      return { firstSeq: seqs[0]!, lastSeq: seqs[seqs.length - 1]!, seqs, objectKeys, objectRows, requestRows, traceRows };
    });
  }

  /** Drops a batch once the remote index has it. */
  remove(batch: Pick<OutboxBatch, 'seqs'>): void {
    const list = JSON.stringify(batch.seqs);
    this.guard('remove flushed rows from the outbox', () =>
      this.db
        .transaction(() => {
          for (const table of ['outbox_requests', 'outbox_traces', 'outbox_objects']) {
            this.db.prepare(`DELETE FROM ${table} WHERE seq IN (SELECT value FROM json_each(?))`).run(list);
          }
        })
        .immediate(),
    );
  }

  /** Leaves an object out of batches from now on (it stays readable here); `reason` says why, for people. */
  setAside(seq: number, reason: string, nowMs: number): void {
    this.guard('set an object aside in the outbox', () =>
      this.db.prepare('UPDATE outbox_objects SET set_aside_at_ms = ?, set_aside_reason = ? WHERE seq = ?').run(nowMs, reason, seq),
    );
  }

  /** The objects set aside, oldest first. */
  setAsideObjects(): SetAsideObject[] {
    if (!this.hasSetAside) return [];
    return this.guard('read outbox', () =>
      (
        this.db
          .prepare(
            'SELECT seq, object_key, request_count, set_aside_at_ms, set_aside_reason FROM outbox_objects ' +
              'WHERE set_aside_at_ms IS NOT NULL ORDER BY seq',
          )
          .all() as { seq: number; object_key: string; request_count: number; set_aside_at_ms: number; set_aside_reason: string | null }[]
      ).map((r) => ({ seq: r.seq, objectKey: r.object_key, requests: r.request_count, atMs: r.set_aside_at_ms, reason: r.set_aside_reason ?? '' })),
    );
  }

  /** Puts every set-aside object back in the queue (in its place, by age); how many there were. */
  requeueSetAside(): number {
    return this.guard('requeue set-aside objects', () =>
      this.db.prepare('UPDATE outbox_objects SET set_aside_at_ms = NULL, set_aside_reason = NULL WHERE set_aside_at_ms IS NOT NULL').run().changes,
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
