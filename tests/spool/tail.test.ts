import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Spool } from '../../src/spool/spool.js';
import { makeTempDir, metaFor, nextOrWaiting, removeDir, take } from './helpers.js';

describe('tail', () => {
  let dir: string;
  let spool: Spool;
  beforeEach(async () => {
    dir = makeTempDir();
    spool = await Spool.open({ dir, segmentBytes: 5000, maxBytes: 10 ** 9, fsync: 'always' });
  });
  afterEach(async () => {
    await spool.close();
    removeDir(dir);
  });

  it('waits when caught up and wakes for the next durable record, across segment rolls', async () => {
    const tail = spool.tail()[Symbol.asyncIterator]();
    let pending = tail.next();
    expect(await nextOrWaiting(pending, 50)).toBe('waiting');
    for (let i = 0; i < 12; i += 1) {
      const payload = randomBytes(2000);
      const ref = await spool.append(metaFor(`t${i}`), payload);
      const got = await nextOrWaiting(pending, 5000);
      if (got === 'waiting' || got.done) throw new Error(`record ${i} did not arrive`);
      expect(got.value.ref).toEqual(ref);
      expect(got.value.payload.equals(payload)).toBe(true);
      pending = tail.next();
    }
    expect(spool.stats().segments).toBeGreaterThan(3);
    expect(await nextOrWaiting(pending, 50)).toBe('waiting');
  });

  it('ends after close()', async () => {
    const tail = spool.tail()[Symbol.asyncIterator]();
    await spool.append(metaFor('a'), Buffer.from('a'));
    await take(tail, 1);
    const pending = tail.next();
    await spool.close();
    expect(await nextOrWaiting(pending, 2000)).toEqual({ done: true, value: undefined });
  });

  it('after endTail(), yields what is durable or being written, then ends; release still works', async () => {
    const tail = spool.tail()[Symbol.asyncIterator]();
    const first = await spool.append(metaFor('e1'), randomBytes(100));
    const inFlight = spool.append(metaFor('e2'), randomBytes(100)); // accepted, not yet durable
    spool.endTail();
    const got = await take(tail, 2);
    expect(got.map((g) => g.ref.meta.id)).toEqual(['e1', 'e2']);
    expect(await nextOrWaiting(tail.next(), 2000)).toEqual({ done: true, value: undefined });
    await inFlight;
    await spool.release([first]);
    expect(spool.stats().unreleasedRecords).toBe(1);
  });

  it('has one consumer only', () => {
    spool.tail();
    expect(() => spool.tail()).toThrow(/consumer/);
  });

  it('yields records appended concurrently in the order the appends were made', async () => {
    const refs = await Promise.all(Array.from({ length: 50 }, (_, i) => spool.append(metaFor(`o${i}`), randomBytes(i * 50))));
    const got = await take(spool.tail()[Symbol.asyncIterator](), 50);
    expect(got.map((g) => g.ref)).toEqual(refs);
    expect(got.map((g) => g.ref.meta.id)).toEqual(refs.map((_, i) => `o${i}`));
  });
});
