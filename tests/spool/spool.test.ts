import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { randomBytes, randomInt } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConfigError,
  CorruptDataError,
  NotFoundError,
  ShuttingDownError,
  SpoolFullError,
} from '../../src/errors.js';
import { SEGMENT_HEADER_BYTES } from '../../src/spool/segment-format.js';
import { Spool } from '../../src/spool/spool.js';
import type { SpoolRef } from '../../src/spool/spool.js';
import { makeTempDir, metaFor, removeDir, take } from './helpers.js';

function segmentFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.spool')).sort();
}

function bytesOfSegmentFiles(dir: string): number {
  return segmentFiles(dir).reduce((sum, n) => sum + statSync(join(dir, n)).size, 0);
}

describe('Spool', () => {
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

  it('round-trips many records of random sizes, empty and multi-MiB ones included, in append order', async () => {
    spool = await Spool.open({ dir, segmentBytes: 4 * 1024 * 1024, maxBytes: 1024 ** 3, fsync: 'always' });
    const sizes = Array.from({ length: 300 }, (_, i) => {
      if (i % 37 === 0) return 0;
      if (i % 97 === 5) return randomInt(2 * 1024 * 1024, 5 * 1024 * 1024);
      return randomInt(1, 20_000);
    });
    const payloads = sizes.map((n) => randomBytes(n));
    const metas = payloads.map((_, i) =>
      metaFor(`req-${String(i).padStart(4, '0')}`, { startNs: BigInt(i) * 10n ** 15n, services: [`svc-${i}`] }),
    );
    const refs: SpoolRef[] = [];
    for (let i = 0; i < payloads.length; i += 25) {
      // Concurrent waves: order of the calls must be the order on disk.
      const wave = payloads.slice(i, i + 25).map((p, j) => spool!.append(metas[i + j]!, p));
      refs.push(...(await Promise.all(wave)));
    }
    expect(spool.stats().appends).toBe(300);
    expect(spool.stats().unreleasedRecords).toBe(300);

    const tailed = await take(spool.tail()[Symbol.asyncIterator](), 300);
    tailed.forEach((t, i) => {
      expect(t.recovered).toBe(false);
      expect(t.ref).toEqual(refs[i]);
      expect(t.ref.meta).toEqual(metas[i]);
      expect(t.payload.equals(payloads[i]!)).toBe(true);
    });
    for (const i of [0, 5, 102, 299]) expect((await spool.read(refs[i]!)).equals(payloads[i]!)).toBe(true);
    expect(segmentFiles(dir).length).toBeGreaterThan(1);
    expect(spool.stats().bytesOnDisk).toBe(bytesOfSegmentFiles(dir));
  });

  it('rolls to a new segment before a record would take the active one past segmentBytes', async () => {
    spool = await Spool.open({ dir, segmentBytes: 10_000, maxBytes: 10 ** 9, fsync: 'never' });
    const refs: SpoolRef[] = [];
    for (let i = 0; i < 20; i += 1) refs.push(await spool.append(metaFor(`r${i}`), randomBytes(3000)));
    const big = await spool.append(metaFor('big'), randomBytes(25_000));
    const after = await spool.append(metaFor('after'), randomBytes(10));
    const files = segmentFiles(dir);
    expect(files.length).toBe(spool.stats().segments);
    expect(files.length).toBeGreaterThanOrEqual(8);
    for (const name of files.slice(0, -2)) expect(statSync(join(dir, name)).size).toBeLessThanOrEqual(10_000);
    // A record larger than a segment gets a segment of its own; the next record starts another one.
    expect(big.offset).toBe(SEGMENT_HEADER_BYTES);
    expect(after.segment).toBe(big.segment + 1);
    expect(after.offset).toBe(SEGMENT_HEADER_BYTES);
    expect(new Set(refs.map((r) => r.segment)).size).toBeGreaterThanOrEqual(7);
  });

  it('group-commits concurrent appends: 100 appends take far fewer fsyncs', async () => {
    spool = await Spool.open({ dir, maxBytes: 10 ** 9, fsync: 'always' });
    const before = spool.stats().fsyncs;
    await Promise.all(Array.from({ length: 100 }, (_, i) => spool!.append(metaFor(`c${i}`), randomBytes(1024))));
    const concurrentFsyncs = spool.stats().fsyncs - before;
    expect(spool.stats().appends).toBe(100);
    expect(concurrentFsyncs).toBeGreaterThanOrEqual(1);
    expect(concurrentFsyncs).toBeLessThanOrEqual(5);

    // The counter is real: appends awaited one by one cannot share an fsync.
    const start = spool.stats().fsyncs;
    for (let i = 0; i < 10; i += 1) await spool.append(metaFor(`s${i}`), randomBytes(1024));
    expect(spool.stats().fsyncs - start).toBe(10);
  });

  it('with fsync never, acknowledges without any fsync', async () => {
    spool = await Spool.open({ dir, maxBytes: 10 ** 9, fsync: 'never' });
    await Promise.all(Array.from({ length: 20 }, (_, i) => spool!.append(metaFor(`n${i}`), randomBytes(100))));
    expect(spool.stats()).toMatchObject({ fsyncs: 0, appends: 20, unreleasedRecords: 20 });
  });

  it('refuses with SpoolFullError, writing nothing, when a record would pass maxBytes', async () => {
    spool = await Spool.open({ dir, maxBytes: 20_000, fsync: 'always' });
    for (let i = 0; i < 5; i += 1) await spool.append(metaFor(`f${i}`), randomBytes(3000));
    const before = spool.stats();
    const filesBefore = bytesOfSegmentFiles(dir);
    expect(spool.hasRoomFor(1000)).toBe(true);
    expect(spool.hasRoomFor(6000)).toBe(false);

    await expect(spool.append(metaFor('too-big'), randomBytes(6000))).rejects.toBeInstanceOf(SpoolFullError);
    expect(bytesOfSegmentFiles(dir)).toBe(filesBefore);
    expect(spool.stats()).toMatchObject({ appends: before.appends, bytesOnDisk: before.bytesOnDisk });

    // Concurrent appends count against the limit while still queued: never more than maxBytes on disk.
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => spool!.append(metaFor(`g${i}`), randomBytes(1000))),
    );
    const full = results.filter((r) => r.status === 'rejected');
    expect(full.length).toBeGreaterThan(0);
    for (const r of full) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(SpoolFullError);
    expect(bytesOfSegmentFiles(dir)).toBeLessThanOrEqual(20_000);
    expect(spool.stats().bytesOnDisk).toBe(bytesOfSegmentFiles(dir));
  });

  it('flushes queued appends on close, then refuses new ones', async () => {
    spool = await Spool.open({ dir, maxBytes: 10 ** 9, fsync: 'always' });
    const queued = Array.from({ length: 10 }, (_, i) => spool!.append(metaFor(`q${i}`), randomBytes(500)));
    const closed = spool.close();
    await expect(spool.append(metaFor('late'), Buffer.alloc(1))).rejects.toBeInstanceOf(ShuttingDownError);
    await closed;
    const refs = await Promise.all(queued);
    expect(refs).toHaveLength(10);
    await expect(spool.append(metaFor('later'), Buffer.alloc(1))).rejects.toBeInstanceOf(ShuttingDownError);
    await spool.close(); // twice is fine
    const segments = new Set(refs.map((r) => r.segment)).size;
    expect(bytesOfSegmentFiles(dir)).toBe(segments * SEGMENT_HEADER_BYTES + refs.reduce((sum, r) => sum + r.length, 0));
  });

  it('read() verifies the CRC and reports a deleted segment as not found', async () => {
    spool = await Spool.open({ dir, segmentBytes: 2000, maxBytes: 10 ** 9, fsync: 'always' });
    const payload = randomBytes(1500);
    const ref = await spool.append(metaFor('r1'), payload);
    await spool.append(metaFor('r2'), randomBytes(1500)); // rolls: r1's segment is sealed
    expect((await spool.read(ref)).equals(payload)).toBe(true);

    const path = join(dir, segmentFiles(dir)[0]!);
    const original = readFileSync(path);
    const damaged = Buffer.from(original);
    const inPayload = ref.offset + ref.length - 700;
    damaged[inPayload] = damaged[inPayload]! ^ 0x40;
    writeFileSync(path, damaged);
    await expect(spool.read(ref)).rejects.toBeInstanceOf(CorruptDataError);
    writeFileSync(path, original);
    expect((await spool.read(ref)).equals(payload)).toBe(true);

    const tail = spool.tail()[Symbol.asyncIterator]();
    await take(tail, 2);
    const filesBefore = segmentFiles(dir).length;
    await spool.release([ref]);
    expect(segmentFiles(dir).length).toBe(filesBefore - 1);
    await expect(spool.read(ref)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('explains which directory it cannot use', async () => {
    const notADir = join(dir, 'plain-file');
    writeFileSync(notADir, 'x');
    const attempt = Spool.open({ dir: join(notADir, 'spool'), maxBytes: 1000, fsync: 'always' });
    await expect(attempt).rejects.toBeInstanceOf(ConfigError);
    await expect(attempt).rejects.toThrow(join(notADir, 'spool'));
  });

  it('reports the age of the oldest unreleased record', async () => {
    spool = await Spool.open({ dir, maxBytes: 10 ** 9, fsync: 'never' });
    expect(spool.stats().oldestUnreleasedAgeMs).toBe(0);
    const old = await spool.append(metaFor('old', { receivedAtMs: Date.now() - 60_000 }), Buffer.alloc(1));
    await spool.append(metaFor('new', { receivedAtMs: Date.now() - 1_000 }), Buffer.alloc(1));
    expect(spool.stats().oldestUnreleasedAgeMs).toBeGreaterThanOrEqual(60_000);
    await spool.release([old]);
    const age = spool.stats().oldestUnreleasedAgeMs;
    expect(age).toBeGreaterThanOrEqual(1_000);
    expect(age).toBeLessThan(60_000);
  });
});
