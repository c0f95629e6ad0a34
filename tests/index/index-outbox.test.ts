import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IndexOutbox, type OutboxEntry } from '../../src/index/index-outbox.js';

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
    expect(outbox.stats()).toEqual({ objects: 0, requests: 0, oldestAtMs: null });
    outbox.append(entry('k1', ['a', 'b']), 1000);
    outbox.append(entry('k2', ['c']), 2000);
    outbox.close();
    const again = writer();
    expect(again.stats()).toEqual({ objects: 2, requests: 3, oldestAtMs: 1000 });
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
