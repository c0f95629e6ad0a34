// The spool as a second process reads it beside a running writer: records appear as they are written, a record
// whose bytes are not all there yet (torn or still growing) is not shown until they are, release logs mark what is
// archived, damage costs the damaged record only, and a segment that came and went between two reads is reported.
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { appendFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { Spool } from '../../src/spool/spool.js';
import { SpoolReader } from '../../src/spool/spool-reader.js';
import { listSegmentSeqs, segmentPath } from '../../src/spool/segment-files.js';
import { makeTempDir, metaFor, removeDir, take } from './helpers.js';

const ids = (reader: SpoolReader): string[] => [...reader.records()].map((r) => r.ref.meta.id);
const id = (n: number): string => `01J0000000000000000000${String(n).padStart(4, '0')}`;

describe('SpoolReader', () => {
  let dir: string;
  let spool: Spool;

  beforeEach(async () => {
    dir = makeTempDir();
    spool = await Spool.open({ dir, maxBytes: 64 * 2 ** 20, fsync: 'never', segmentBytes: 4096 });
  });
  afterEach(async () => {
    await spool.close();
    removeDir(dir);
  });

  test('sees what was appended, incrementally, with payloads read back byte-identical', async () => {
    const reader = new SpoolReader(dir);
    await reader.refresh();
    expect(ids(reader)).toEqual([]);
    const payloads = [Buffer.from('first request'), Buffer.alloc(3000, 7)];
    await spool.append(metaFor(id(1), { rawBytes: payloads[0]!.length }), payloads[0]!);
    await reader.refresh();
    expect(ids(reader)).toEqual([id(1)]);
    await spool.append(metaFor(id(2), { rawBytes: payloads[1]!.length }), payloads[1]!);
    await spool.append(metaFor(id(3)), Buffer.alloc(3000, 9)); // rolls to a second segment (4 KiB segments)
    await reader.refresh();
    expect(ids(reader)).toEqual([id(1), id(2), id(3)]);
    expect(await reader.read(reader.get(id(2))!.ref)).toEqual(payloads[1]);
    const first = reader.get(id(1))!.ref;
    expect([...reader.recordsAfter(first.segment, first.offset)].map((r) => r.ref.meta.id)).toEqual([id(2), id(3)]);
  });

  test('a record whose bytes are not all written yet is not shown; once complete it is', async () => {
    await spool.append(metaFor(id(1)), Buffer.from('whole'));
    await spool.append(metaFor(id(2)), Buffer.alloc(500, 1));
    const [seq] = await listSegmentSeqs(dir);
    const path = segmentPath(dir, seq!);
    const whole = readFileSync(path);
    const second = new SpoolReader(dir);
    await second.refresh();
    const cut = second.get(id(2))!.ref.offset + 100;
    // A copy of the directory state mid-write: the second record cut inside its payload, then inside its header.
    const copyDir = makeTempDir();
    try {
      const copy = segmentPath(copyDir, seq!);
      writeFileSync(copy, whole.subarray(0, cut));
      const reader = new SpoolReader(copyDir);
      await reader.refresh();
      expect(ids(reader)).toEqual([id(1)]);
      truncateSync(copy, second.get(id(2))!.ref.offset + 10);
      await reader.refresh();
      expect(ids(reader)).toEqual([id(1)]);
      appendFileSync(copy, whole.subarray(second.get(id(2))!.ref.offset + 10));
      await reader.refresh();
      expect(ids(reader)).toEqual([id(1), id(2)]);
    } finally {
      removeDir(copyDir);
    }
  });

  test('a damaged record in the middle costs that record only', async () => {
    for (let n = 1; n <= 3; n++) await spool.append(metaFor(id(n)), Buffer.alloc(200, n));
    const probe = new SpoolReader(dir);
    await probe.refresh();
    const damaged = probe.get(id(2))!.ref;
    const [seq] = await listSegmentSeqs(dir);
    const bytes = readFileSync(segmentPath(dir, seq!));
    bytes[damaged.offset + 25] = bytes[damaged.offset + 25]! ^ 0xff; // inside the header: its CRC fails
    const copyDir = makeTempDir();
    try {
      writeFileSync(segmentPath(copyDir, seq!), bytes);
      const reader = new SpoolReader(copyDir);
      await reader.refresh();
      expect(ids(reader)).toEqual([id(1), id(3)]);
    } finally {
      removeDir(copyDir);
    }
  });

  test('release logs mark archived records; a segment gone before it was read to its end is reported', async () => {
    const reader = new SpoolReader(dir);
    await spool.append(metaFor(id(1)), Buffer.alloc(3000, 1));
    await reader.refresh();
    const ref = reader.get(id(1))!.ref;
    expect(reader.get(id(1))!.released).toBe(false);
    await spool.release([ref]);
    expect((await reader.refresh()).missedSome).toBe(false);
    expect(reader.get(id(1))?.released ?? true).toBe(true);
    // Two more segments' worth, each released before the reader looks: the first is removed unseen.
    const tail = spool.tail()[Symbol.asyncIterator]();
    for (let n = 2; n <= 4; n++) await spool.append(metaFor(id(n)), Buffer.alloc(3000, n));
    const tailed = await take(tail, 3, 5000); // id(1) is released already: the tail skips it
    await spool.release(tailed.map((t) => t.ref));
    const outcome = await reader.refresh();
    expect(outcome.missedSome).toBe(true);
    expect(ids(reader)).not.toContain(id(2));
  });
});
