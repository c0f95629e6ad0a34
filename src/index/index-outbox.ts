// A local, durable queue of index rows on their way to a remote index (ClickHouse): a small SQLite file.
//
// commitObject must be durable when it resolves, but a remote index wants large batches and may be down: so a
// commit lands here (one transaction, synchronous=FULL) and a flusher moves whole objects to the remote index,
// deleting them here only once the remote accepted them. Rows are opaque JSON text to the outbox; the caller
// decides their shape. Several processes may share the file (WAL): a reader sees what a writer has queued.

import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { BackendUnavailableError } from '../errors.js';

export interface OutboxEntry {
  objectKey: string;
  objectRow: string;
  requests: readonly { id: string; row: string }[];
}

/** A run of whole objects, oldest first, as queued. */
export interface OutboxBatch {
  firstSeq: number;
  lastSeq: number;
  objectRows: string[];
  requestRows: string[];
}

export interface OutboxStats {
  objects: number;
  requests: number;
  /** When the oldest queued object was committed; null when empty. */
  oldestAtMs: number | null;
}

const OUTBOX_VERSION = 1;
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS outbox_objects (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: a batch is a seq range
    object_key    TEXT    NOT NULL,
    row           TEXT    NOT NULL,
    request_count INTEGER NOT NULL,
    added_at_ms   INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS outbox_requests (
    seq INTEGER NOT NULL,
    id  TEXT    NOT NULL,
    row TEXT    NOT NULL,
    PRIMARY KEY (seq, id)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS outbox_requests_id ON outbox_requests (id, seq);
  CREATE INDEX IF NOT EXISTS outbox_objects_key ON outbox_objects (object_key, seq);
`;
const ID_BATCH = 500;

export class IndexOutbox {
  private constructor(readonly path: string, private readonly db: Database.Database) {}

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
      db.exec(SCHEMA);
      const version = Number(db.pragma('user_version', { simple: true }));
      if (version > OUTBOX_VERSION) throw new Error(`outbox format ${version} is newer than this build knows (${OUTBOX_VERSION})`);
      db.pragma(`user_version = ${OUTBOX_VERSION}`);
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
      return new IndexOutbox(file, db);
    } catch (error) {
      throw new BackendUnavailableError(`cannot read index outbox ${file}: ${(error as Error).message}`, { cause: error });
    }
  }

  append(entry: OutboxEntry, nowMs: number): void {
    const insertObject = this.db.prepare(
      'INSERT INTO outbox_objects (object_key, row, request_count, added_at_ms) VALUES (?, ?, ?, ?)',
    );
    const insertRequest = this.db.prepare('INSERT OR REPLACE INTO outbox_requests (seq, id, row) VALUES (?, ?, ?)');
    this.guard('queue index rows', () =>
      this.db
        .transaction(() => {
          const seq = insertObject.run(entry.objectKey, entry.objectRow, entry.requests.length, nowMs).lastInsertRowid;
          for (const request of entry.requests) insertRequest.run(seq, request.id, request.row);
        })
        .immediate(),
    );
  }

  stats(): OutboxStats {
    const row = this.guard('read outbox size', () =>
      this.db
        .prepare('SELECT count(*) AS objects, coalesce(sum(request_count), 0) AS requests, min(added_at_ms) AS oldest FROM outbox_objects')
        .get() as { objects: number; requests: number; oldest: number | null },
    );
    return { objects: row.objects, requests: row.requests, oldestAtMs: row.oldest };
  }

  /** The oldest whole objects whose requests add up to at least maxRequests (at least one object); null if empty. */
  takeBatch(maxRequests: number): OutboxBatch | null {
    return this.guard('read outbox', () => {
      const objects = this.db.prepare('SELECT seq, row, request_count FROM outbox_objects ORDER BY seq').iterate() as IterableIterator<{
        seq: number;
        row: string;
        request_count: number;
      }>;
      const objectRows: string[] = [];
      let firstSeq = -1;
      let lastSeq = -1;
      let requests = 0;
      for (const object of objects) {
        if (objectRows.length > 0 && requests + object.request_count > maxRequests) break;
        if (firstSeq < 0) firstSeq = object.seq;
        lastSeq = object.seq;
        objectRows.push(object.row);
        requests += object.request_count;
      }
      if (objectRows.length === 0) return null;
      const requestRows = this.db
        .prepare('SELECT row FROM outbox_requests WHERE seq BETWEEN ? AND ? ORDER BY seq, id')
        .pluck()
        .all(firstSeq, lastSeq) as string[];
      return { firstSeq, lastSeq, objectRows, requestRows };
    });
  }

  /** Drops a batch once the remote index has it. */
  remove(batch: Pick<OutboxBatch, 'firstSeq' | 'lastSeq'>): void {
    this.guard('remove flushed rows from the outbox', () =>
      this.db
        .transaction(() => {
          this.db.prepare('DELETE FROM outbox_requests WHERE seq BETWEEN ? AND ?').run(batch.firstSeq, batch.lastSeq);
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

  /** Queued request rows with id > afterId, in id order, the latest row per id. */
  *requestRows(afterId?: string): Generator<string> {
    const rows = this.db
      .prepare('SELECT id, row FROM outbox_requests WHERE id > ? ORDER BY id, seq DESC')
      .iterate(afterId ?? '') as IterableIterator<{ id: string; row: string }>;
    let previous: string | undefined;
    for (const { id, row } of rows) {
      if (id === previous) continue;
      previous = id;
      yield row;
    }
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
