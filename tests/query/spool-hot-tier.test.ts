// The hot tier answers what the spool holds and the archiver has not released. A released record is the index's to
// answer: retention may have deleted it since, and a deleted request must not come back from a segment still on disk.
import { afterEach, beforeEach, expect, test } from '@jest/globals';
import { Spool } from '../../src/spool/spool.js';
import type { SpoolRef } from '../../src/spool/spool-ref.js';
import { SpoolHotTier } from '../../src/query/spool-hot-tier.js';
import { makeTempDir, metaFor, removeDir } from '../spool/helpers.js';

const id = (n: number): string => `01J0000000000000000000${String(n).padStart(4, '0')}`;

let dir: string;
let spool: Spool;

beforeEach(async () => {
  dir = makeTempDir();
  spool = await Spool.open({ dir, maxBytes: 64 * 2 ** 20, fsync: 'never', segmentBytes: 1 << 20 });
});
afterEach(async () => {
  await spool.close();
  removeDir(dir);
});

test('released records are neither listed, fetched nor counted, though their segment is still on disk', async () => {
  const refs: SpoolRef[] = [];
  for (const n of [1, 2, 3]) refs.push(await spool.append(metaFor(id(n)), Buffer.from(`request ${n}`)));
  const hot = new SpoolHotTier(dir);
  expect((await hot.list({})).map((r) => r.id)).toEqual([id(1), id(2), id(3)]);
  expect((await hot.get(id(2)))?.tier).toBe('hot');

  await spool.release([refs[1]!]);
  expect((await hot.list({})).map((r) => r.id)).toEqual([id(1), id(3)]);
  expect(await hot.get(id(2))).toBeNull();
  expect(hot.stats().requests).toBe(2);
  await hot.close();
});
