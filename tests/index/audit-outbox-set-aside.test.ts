// The outbox's side of isolating a refused object (clickhouse-flusher.ts): an object set aside in the middle of the
// queue is left out of batches with its request and trace rows, survives the removal of the batches around it, stays
// readable, is not counted as waiting, and goes back in its place when requeued. Batches can be bounded by objects,
// skip objects, or be one object only. A reader of a file no set-aside-aware writer has opened still works.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IndexOutbox, type OutboxEntry } from '../../src/index/index-outbox.js';

const T = (n: number): string => n.toString(16).padStart(32, '0');

function entry(key: string, ids: string[]): OutboxEntry {
  return {
    objectKey: key,
    objectRow: JSON.stringify({ key }),
    requests: ids.map((id) => ({ id, row: JSON.stringify({ id, key }) })),
    traces: ids.map((id, i) => ({ traceId: T(i + 1), requestId: id, tenant: 't' })),
  };
}

describe('IndexOutbox set-aside objects', () => {
  let dir: string;
  let file: string;
  const open: IndexOutbox[] = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outbox-aside-'));
    file = path.join(dir, 'outbox.sqlite');
  });
  afterEach(() => {
    for (const outbox of open.splice(0)) outbox.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function writer(): IndexOutbox {
    const outbox = IndexOutbox.openForWriting(file);
    open.push(outbox);
    return outbox;
  }

  it('leaves a set-aside object out of batches and removals, keeps it readable, and requeues it in its place', () => {
    const outbox = writer();
    outbox.append(entry('k1', ['a']), 1);
    outbox.append(entry('k2', ['b', 'c']), 2);
    outbox.append(entry('k3', ['d']), 3);
    const all = outbox.takeBatch(100)!;
    expect(all.objectKeys).toEqual(['k1', 'k2', 'k3']);
    const middle = all.seqs[1]!;

    outbox.setAside(middle, 'refused: code 395', 50);
    expect(outbox.stats()).toEqual({ objects: 2, requests: 2, traceRows: 2, oldestAtMs: 1 });
    expect(outbox.setAsideCount()).toEqual({ objects: 1, requests: 2 });
    expect(outbox.setAsideObjects()).toEqual([{ seq: middle, objectKey: 'k2', requests: 2, atMs: 50, reason: 'refused: code 395' }]);

    const batch = outbox.takeBatch(100)!;
    expect(batch.objectKeys).toEqual(['k1', 'k3']);
    expect(batch.requestRows.map((r) => (JSON.parse(r) as { id: string }).id)).toEqual(['a', 'd']);
    expect(batch.traceRows.map((t) => t.requestId).sort()).toEqual(['a', 'd']);
    outbox.remove(batch);

    // Still there, and readable as any queued object.
    expect(outbox.takeBatch(100)).toBeNull();
    expect(outbox.stats()).toEqual({ objects: 0, requests: 0, traceRows: 0, oldestAtMs: null });
    expect(outbox.requestRow('b')).toBe(JSON.stringify({ id: 'b', key: 'k2' }));
    expect(outbox.objectRow('k2')).toBe(JSON.stringify({ key: 'k2' }));
    expect(outbox.traceRequestIds(T(2))).toEqual(['c']);

    expect(outbox.requeueSetAside()).toBe(1);
    expect(outbox.setAsideCount()).toEqual({ objects: 0, requests: 0 });
    const again = outbox.takeBatch(100)!;
    expect(again.objectKeys).toEqual(['k2']);
    expect(again.requestRows.length).toBe(2);
    expect(again.traceRows.length).toBe(2);
  });

  it('bounds a batch by objects, skips objects, or takes one object only', () => {
    const outbox = writer();
    for (const k of ['k1', 'k2', 'k3', 'k4']) outbox.append(entry(k, [`${k}-r`]), 1);
    const seqs = outbox.takeBatch(100)!.seqs;
    expect(outbox.takeBatch(100, { maxObjects: 2 })!.objectKeys).toEqual(['k1', 'k2']);
    expect(outbox.takeBatch(100, { maxObjects: 0 })!.objectKeys).toEqual(['k1']); // at least one
    expect(outbox.takeBatch(100, { skip: [seqs[0]!, seqs[2]!] })!.objectKeys).toEqual(['k2', 'k4']);
    const only = outbox.takeBatch(100, { only: seqs[2]! })!;
    expect([only.objectKeys, only.requestRows.length]).toEqual([['k3'], 1]);
    outbox.setAside(seqs[2]!, 'x', 1);
    expect(outbox.takeBatch(100, { only: seqs[2]! })).toBeNull();
  });

  it('a reader of a file that no set-aside-aware writer has opened counts and hands out as before', () => {
    // An outbox as the previous build left it: version 2, without the set-aside columns.
    const db = new Database(file);
    db.exec(`
      CREATE TABLE outbox_objects (seq INTEGER PRIMARY KEY AUTOINCREMENT, object_key TEXT NOT NULL, row TEXT NOT NULL,
        request_count INTEGER NOT NULL, added_at_ms INTEGER NOT NULL, trace_count INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE outbox_requests (seq INTEGER NOT NULL, id TEXT NOT NULL, row TEXT NOT NULL, PRIMARY KEY (seq, id)) WITHOUT ROWID;
      CREATE TABLE outbox_traces (trace_id TEXT NOT NULL, request_id TEXT NOT NULL, seq INTEGER NOT NULL, tenant TEXT NOT NULL,
        PRIMARY KEY (trace_id, request_id, seq)) WITHOUT ROWID;
      INSERT INTO outbox_objects (object_key, row, request_count, added_at_ms) VALUES ('k1', '{}', 1, 7);
      INSERT INTO outbox_requests VALUES (1, 'a', '{"id":"a"}');
      PRAGMA user_version = 2;
    `);
    db.close();
    const reader = IndexOutbox.openForReading(file)!;
    open.push(reader);
    expect(reader.stats()).toEqual({ objects: 1, requests: 1, traceRows: 0, oldestAtMs: 7 });
    expect(reader.setAsideCount()).toEqual({ objects: 0, requests: 0 });
    expect(reader.setAsideObjects()).toEqual([]);
    expect(reader.takeBatch(10)!.requestRows).toEqual(['{"id":"a"}']);
    // The writer adds the columns in place, keeping what was queued.
    const outbox = writer();
    expect(outbox.stats().objects).toBe(1);
    outbox.setAside(1, 'x', 1);
    expect(outbox.setAsideCount()).toEqual({ objects: 1, requests: 1 });
  });
});
