import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import {
  appendReleases,
  readReleases,
  releaseLogPath,
  removeOrphanReleaseLogs,
} from '../../src/spool/release-log.js';
import { makeTempDir, removeDir } from './helpers.js';

describe('release log', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(() => removeDir(dir));

  it('reads back what was appended, offsets beyond 4 GiB included', async () => {
    expect(await readReleases(dir, 7)).toEqual([]);
    await appendReleases(dir, 7, [0, 1234, 2 ** 33 + 5]);
    await appendReleases(dir, 7, [99]);
    expect(await readReleases(dir, 7)).toEqual([0, 1234, 2 ** 33 + 5, 99]);
  });

  it('ignores torn entries, zeros and garbage', async () => {
    await appendReleases(dir, 3, [100]);
    appendFileSync(releaseLogPath(dir, 3), Buffer.alloc(12)); // zeros, as a crash can leave them
    appendFileSync(releaseLogPath(dir, 3), Buffer.from('garbage-garbage!'));
    await appendReleases(dir, 3, [200]); // no longer on a 12-byte boundary
    expect(await readReleases(dir, 3)).toEqual([100, 200]);
    appendFileSync(releaseLogPath(dir, 3), Buffer.alloc(7, 0xff)); // a torn entry at the end
    await appendReleases(dir, 3, [300]);
    expect(await readReleases(dir, 3)).toEqual([100, 200, 300]);
  });

  it('removes logs whose segment is gone', async () => {
    writeFileSync(releaseLogPath(dir, 1), '');
    writeFileSync(releaseLogPath(dir, 2), '');
    await removeOrphanReleaseLogs(dir, new Set([2]));
    expect(existsSync(releaseLogPath(dir, 1))).toBe(false);
    expect(existsSync(releaseLogPath(dir, 2))).toBe(true);
  });
});
