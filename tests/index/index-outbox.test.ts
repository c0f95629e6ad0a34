import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { IndexOutbox, type OutboxEntry, type OutboxTraceRow } from '../../src/index/index-outbox.js';

function entry(key: string, ids: string[]): OutboxEntry {
  return { objectKey: key, objectRow: JSON.stringify({ key }), requests: ids.map((id) => ({ id, row: JSON.stringify({ id, key }) })) };
}

describe('IndexOutbox', () => {
  let dir: string;
  let file: string;
  const open: IndexOutbox[] = [];
  const writer = (): IndexOutbox => {
    const outbox = IndexOutbox.openForWriting(file);
    open.push(outbox);
    return outbox;
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outbox-'));
    file = path.join(dir, 'nested', 'outbox.sqlite');
  });
  afterEach(() => {
    for (const outbox of open.splice(0)) outbox.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps queued rows across reopening, and reports size and age', () => {
    const outbox = writer();
    expect(outbox.stats()).toEqual({ objects: 0, requests: 0, traceRows: 0, oldestAtMs: null });
    outbox.append(entry('k1', ['a', 'b']), 1000);
    outbox.append(entry('k2', ['c']), 2000);
    outbox.close();
    const again = writer();
    expect(again.stats()).toEqual({ objects: 2, requests: 3, traceRows: 0, oldestAtMs: 1000 });
    expect(again.knownIds(['a', 'c', 'zz'])).toEqual(new Set(['a', 'c']));
  });

  it('hands out whole objects, oldest first, and forgets a batch only when told', () => {
    const outbox = writer();
    outbox.append(entry('k1', ['a', 'b', 'c']), 1);
    outbox.append(entry('k2', ['d', 'e']), 2);
    outbox.append(entry('k3', ['f']), 3);
    const batch = outbox.takeBatch(4)!;
    // k1 (3) fits; k2 would make 5 > 4: not split, left for the next batch.
    expect(batch.objectRows).toEqual([JSON.stringify({ key: 'k1' })]);
    expect(batch.requestRows.map((row) => JSON.parse(row).id)).toEqual(['a', 'b', 'c']);
    expect(outbox.takeBatch(4)!.firstSeq).toBe(batch.firstSeq); // not removed yet: handed out again
    outbox.remove(batch);
    const rest = outbox.takeBatch(1)!; // one object at least, even above the limit
    expect(rest.objectRows).toEqual([JSON.stringify({ key: 'k2' })]);
    outbox.remove(rest);
    outbox.remove(outbox.takeBatch(100)!);
    expect(outbox.takeBatch(100)).toBeNull();
    expect(outbox.stats().objects).toBe(0);
  });

  it('reads the latest row per id and per key, in order, from a given cursor', () => {
    const outbox = writer();
    outbox.append(entry('k2', ['b', 'a']), 1);
    outbox.append({ objectKey: 'k1', objectRow: '"k1-new"', requests: [{ id: 'a', row: '"a-new"' }] }, 2);
    expect([...outbox.requestRows()]).toEqual(['"a-new"', JSON.stringify({ id: 'b', key: 'k2' })]);
    expect([...outbox.requestRows('a')]).toEqual([JSON.stringify({ id: 'b', key: 'k2' })]);
    expect(outbox.requestRow('a')).toBe('"a-new"');
    expect(outbox.requestRow('nope')).toBeUndefined();
    expect([...outbox.objectRows()]).toEqual(['"k1-new"', JSON.stringify({ key: 'k2' })]);
  });

  const T1 = 'aa'.repeat(16);
  const T2 = 'bb'.repeat(16);
  const trace = (traceId: string, requestId: string, tenant = 'acme'): OutboxTraceRow => ({ traceId, requestId, tenant });

  it('queues trace rows with their object: found by trace id (and tenant), handed out and removed with it', () => {
    const outbox = writer();
    outbox.append({ ...entry('k1', ['a', 'b']), traces: [trace(T1, 'a'), trace(T2, 'a'), trace(T1, 'b'), trace(T1, 'b')] }, 1);
    outbox.append({ ...entry('k2', ['c']), traces: [trace(T1, 'c', 'globex')] }, 2);
    expect(outbox.stats()).toMatchObject({ objects: 2, requests: 3, traceRows: 5 });
    expect(outbox.traceRequestIds(T1).sort()).toEqual(['a', 'b', 'c']);
    expect(outbox.traceRequestIds(T1, 'globex')).toEqual(['c']);
    expect(outbox.traceRequestIds(T2, 'globex')).toEqual([]);
    expect(outbox.traceRequestIds('cc'.repeat(16))).toEqual([]);
    // Trace rows weigh in a batch's size: k1 is 2 requests + 3 distinct trace rows = 5 rows, k2 is 2.
    const first = outbox.takeBatch(6)!;
    expect(first.objectRows).toEqual([JSON.stringify({ key: 'k1' })]);
    expect(first.traceRows).toEqual(expect.arrayContaining([trace(T1, 'a'), trace(T2, 'a'), trace(T1, 'b')]));
    expect(first.traceRows).toHaveLength(3);
    outbox.remove(first);
    expect(outbox.traceRequestIds(T1)).toEqual(['c']);
    const second = outbox.takeBatch(100)!;
    expect(second.traceRows).toEqual([trace(T1, 'c', 'globex')]);
    outbox.remove(second);
    expect(outbox.traceRequestIds(T1)).toEqual([]);
    expect(outbox.stats()).toEqual({ objects: 0, requests: 0, traceRows: 0, oldestAtMs: null });
  });

  it('upgrades a version-1 outbox in place, keeping what it had queued; a reader of a version-1 file finds no trace rows', () => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const old = new Database(file);
    old.exec(`
      CREATE TABLE outbox_objects (seq INTEGER PRIMARY KEY AUTOINCREMENT, object_key TEXT NOT NULL, row TEXT NOT NULL,
        request_count INTEGER NOT NULL, added_at_ms INTEGER NOT NULL);
      CREATE TABLE outbox_requests (seq INTEGER NOT NULL, id TEXT NOT NULL, row TEXT NOT NULL, PRIMARY KEY (seq, id)) WITHOUT ROWID;
      INSERT INTO outbox_objects (object_key, row, request_count, added_at_ms) VALUES ('k0', '"k0"', 1, 5);
      INSERT INTO outbox_requests (seq, id, row) VALUES (1, 'old', '"old"');
    `);
    old.pragma('user_version = 1');
    old.close();
    const legacyReader = IndexOutbox.openForReading(file)!;
    open.push(legacyReader);
    expect(legacyReader.traceRequestIds(T1)).toEqual([]);
    expect(legacyReader.stats()).toEqual({ objects: 1, requests: 1, traceRows: 0, oldestAtMs: 5 });

    const outbox = writer();
    outbox.append({ ...entry('k1', ['a']), traces: [trace(T1, 'a')] }, 6);
    expect(outbox.stats()).toEqual({ objects: 2, requests: 2, traceRows: 1, oldestAtMs: 5 });
    const batch = outbox.takeBatch(100)!;
    expect(batch.objectRows).toEqual(['"k0"', JSON.stringify({ key: 'k1' })]);
    expect(batch.requestRows[0]).toBe('"old"');
    expect(batch.traceRows).toEqual([trace(T1, 'a')]);
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(2);
    check.close();
  });

  it('refuses an outbox written by a newer build', () => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const future = new Database(file);
    future.pragma('user_version = 99');
    future.close();
    expect(() => writer()).toThrow(/outbox format 99 is newer/);
  });

  it('a reader opens an existing outbox read-only and never creates one', () => {
    expect(IndexOutbox.openForReading(file)).toBeNull();
    expect(fs.existsSync(file)).toBe(false);
    writer().append(entry('k1', ['a']), 1);
    const reader = IndexOutbox.openForReading(file)!;
    open.push(reader);
    expect(reader.knownIds(['a'])).toEqual(new Set(['a']));
    expect(() => reader.append(entry('k9', ['z']), 1)).toThrow(/readonly/i);
  });
});
