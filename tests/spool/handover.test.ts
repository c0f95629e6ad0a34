import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { Spool } from '../../src/spool/spool.js';
import { makeTempDir, metaFor, nextOrWaiting, removeDir, take } from './helpers.js';

// The tail takes just-durable payloads from memory while it keeps up, and reads them back when it lags or when
// the handover is off; what it yields is the same either way.
describe('spool handover to the tail', () => {
  let dir: string;
  let spool: Spool | undefined;
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(async () => {
    await spool?.close();
    spool = undefined;
    removeDir(dir);
  });

  it('a tail that keeps up gets the very buffers that were appended, with their CRC', async () => {
    spool = await Spool.open({ dir, segmentBytes: 5000, maxBytes: 10 ** 9, fsync: 'always' });
    const tail = spool.tail()[Symbol.asyncIterator]();
    let pending = tail.next();
    for (let i = 0; i < 8; i += 1) {
      const payload = randomBytes(1500);
      const ref = await spool.append(metaFor(`h${i}`, { rawBytes: payload.length }), payload);
      const got = await nextOrWaiting(pending, 5000);
      if (got === 'waiting' || got.done) throw new Error(`record ${i} did not arrive`);
      expect(got.value.ref).toEqual(ref);
      expect(got.value.payload).toBe(payload);
      expect(got.value.payloadCrc).toBe(crc32(payload));
      expect(got.value.recovered).toBe(false);
      pending = tail.next();
    }
    expect(spool.stats().handedOver).toBe(8);
    // The records are still on disk until released: read() finds each one.
    expect(spool.stats().unreleasedRecords).toBe(8);
  });

  it('past its byte limit the tail reads records back from disk, in order and intact', async () => {
    spool = await Spool.open({ dir, segmentBytes: 50_000, maxBytes: 10 ** 9, fsync: 'always', handoverBytes: 3000 });
    const payloads = Array.from({ length: 6 }, () => randomBytes(1000));
    const refs = [];
    for (const [i, payload] of payloads.entries()) refs.push(await spool.append(metaFor(`l${i}`), payload));
    const got = await take(spool.tail()[Symbol.asyncIterator](), 6);
    expect(got.map((g) => g.ref)).toEqual(refs);
    got.forEach((g, i) => {
      expect(g.payload.equals(payloads[i]!)).toBe(true);
      expect(g.payloadCrc).toBe(crc32(payloads[i]!));
    });
    // Only the first three fitted into 3000 bytes; the others were read back into buffers of their own.
    expect(spool.stats().handedOver).toBe(3);
    expect(got.slice(0, 3).every((g, i) => g.payload === payloads[i])).toBe(true);
    expect(got.slice(3).some((g, i) => g.payload === payloads[i + 3])).toBe(false);
  });

  it('handoverBytes 0 turns it off: every record is read back', async () => {
    spool = await Spool.open({ dir, maxBytes: 10 ** 9, fsync: 'never', handoverBytes: 0 });
    const payload = randomBytes(4000);
    await spool.append(metaFor('off'), payload);
    const [got] = await take(spool.tail()[Symbol.asyncIterator](), 1);
    expect(got!.payload).not.toBe(payload);
    expect(got!.payload.equals(payload)).toBe(true);
    expect(got!.payloadCrc).toBe(crc32(payload));
    expect(spool.stats().handedOver).toBe(0);
  });

  it('a record released before the tail reached it is skipped and its payload let go', async () => {
    spool = await Spool.open({ dir, maxBytes: 10 ** 9, fsync: 'never', handoverBytes: 2500 });
    const first = await spool.append(metaFor('r1'), randomBytes(1000));
    const second = randomBytes(1000);
    await spool.append(metaFor('r2'), second);
    await spool.release([first]);
    const tail = spool.tail()[Symbol.asyncIterator]();
    const [got] = await take(tail, 1);
    expect(got!.ref.meta.id).toBe('r2');
    expect(got!.payload).toBe(second);
    // The skipped record's payload no longer takes room: two more records of 1000 bytes fit the 2500 bytes.
    const more = [randomBytes(1000), randomBytes(1000)];
    for (const [i, p] of more.entries()) await spool.append(metaFor(`r${i + 3}`), p);
    const after = await take(tail, 2);
    expect(after[0]!.payload).toBe(more[0]);
    expect(after[1]!.payload).toBe(more[1]);
    expect(spool.stats().handedOver).toBe(3);
  });

  it('recovered records come from disk after a restart', async () => {
    spool = await Spool.open({ dir, maxBytes: 10 ** 9, fsync: 'always' });
    const payload = randomBytes(2000);
    await spool.append(metaFor('rec'), payload);
    await spool.close();
    spool = await Spool.open({ dir, maxBytes: 10 ** 9, fsync: 'always' });
    const [got] = await take(spool.tail()[Symbol.asyncIterator](), 1);
    expect(got!.recovered).toBe(true);
    expect(got!.payload.equals(payload)).toBe(true);
    expect(got!.payloadCrc).toBe(crc32(payload));
    expect(spool.stats().handedOver).toBe(0);
  });
});
