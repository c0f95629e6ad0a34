// The deletion rule, through the real Spool: a segment file goes only when sealed, fully tailed and fully released.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { Spool } from '../../src/spool/spool.js';
import type { SpoolRef } from '../../src/spool/spool.js';
import { segmentPath } from '../../src/spool/segment-files.js';
import { SEGMENT_HEADER_BYTES } from '../../src/spool/segment-format.js';
import { makeTempDir, metaFor, removeDir, take } from './helpers.js';

describe('segment deletion', () => {
  let dir: string;
  let spool: Spool;
  let refs: SpoolRef[];
  beforeEach(async () => {
    dir = makeTempDir();
    // Three ~1.2 KB records per segment.
    spool = await Spool.open({ dir, segmentBytes: 3900, maxBytes: 10 ** 9, fsync: 'always' });
    refs = [];
    for (let i = 0; i < 9; i += 1) refs.push(await spool.append(metaFor(`d${i}`), randomBytes(1000)));
  });
  afterEach(async () => {
    await spool.close();
    removeDir(dir);
  });

  const exists = (seq: number): boolean => existsSync(segmentPath(dir, seq));

  it('keeps a fully released segment until the tail has passed it, then deletes it', async () => {
    const [s1, s2, s3] = [refs[0]!.segment, refs[3]!.segment, refs[6]!.segment];
    expect(new Set(refs.map((r) => r.segment))).toEqual(new Set([s1, s2, s3]));
    await spool.release(refs.slice(0, 3));
    expect(exists(s1)).toBe(true); // released from the append refs, but never tailed
    expect(spool.stats().unreleasedRecords).toBe(6);

    const tail = spool.tail()[Symbol.asyncIterator]();
    const [first] = await take(tail, 1);
    expect(first!.ref.meta.id).toBe('d3'); // released records are not yielded
    expect(exists(s1)).toBe(false);
  });

  it('deletes a sealed segment only once every record in it is released; twice is harmless', async () => {
    const [s1, s2] = [refs[0]!.segment, refs[3]!.segment];
    const tailed = await take(spool.tail()[Symbol.asyncIterator](), 9);
    expect(tailed.map((t) => t.ref.meta.id)).toEqual(refs.map((r) => r.meta.id));

    await spool.release([refs[0]!, refs[2]!]);
    expect(exists(s1)).toBe(true);
    await spool.release([refs[0]!, refs[2]!]);
    expect(spool.stats().unreleasedRecords).toBe(7);
    await spool.release([refs[1]!, refs[4]!]);
    expect(exists(s1)).toBe(false);
    expect(exists(s2)).toBe(true);
    expect(spool.stats().unreleasedRecords).toBe(5);
    await spool.release(refs.slice(0, 3)); // its segment is gone: ignored
    expect(spool.stats().unreleasedRecords).toBe(5);
  });

  it('keeps the active segment until it is sealed by a roll', async () => {
    const s3 = refs[8]!.segment;
    await take(spool.tail()[Symbol.asyncIterator](), 9);
    await spool.release(refs);
    expect(exists(s3)).toBe(true); // still the active segment
    expect(spool.stats().segments).toBe(1);
    const next = await spool.append(metaFor('d9'), randomBytes(1000));
    expect(next.segment).toBe(s3 + 1);
    expect(exists(s3)).toBe(false);
    expect(spool.stats()).toMatchObject({ segments: 1, unreleasedRecords: 1, bytesOnDisk: SEGMENT_HEADER_BYTES + next.length });
  });

  it('remembers releases of a kept segment on disk and forgets them with it', async () => {
    const s2 = refs[3]!.segment;
    await take(spool.tail()[Symbol.asyncIterator](), 9);
    await spool.release([refs[3]!]);
    expect(readdirSync(dir)).toContain(`${String(s2).padStart(16, '0')}.released`);
    await spool.release([refs[4]!, refs[5]!]);
    expect(readdirSync(dir).filter((n) => n.startsWith(String(s2).padStart(16, '0')))).toEqual([]);
  });
});
