// What a restart finds: exactly the unreleased records, every one whole, torn and corrupt tails cut off.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, readdirSync, statSync, truncateSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { Spool } from '../../src/spool/spool.js';
import type { QuarantinedRange, SpoolRef, TailedRecord } from '../../src/spool/spool.js';
import { SEGMENT_HEADER_BYTES } from '../../src/spool/segment-format.js';
import { releaseLogPath } from '../../src/spool/release-log.js';
import { segmentPath } from '../../src/spool/segment-files.js';
import { makeTempDir, metaFor, nextOrWaiting, removeDir, take } from './helpers.js';

interface Written {
  ref: SpoolRef;
  payload: Buffer;
}

function captureLogs(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** Everything the spool yields at open, checking it then waits for more (nothing is left over). */
async function recoveredRecords(spool: Spool): Promise<TailedRecord[]> {
  const tail = spool.tail()[Symbol.asyncIterator]();
  const records = await take(tail, spool.stats().unreleasedRecords);
  expect(await nextOrWaiting(tail.next(), 100)).toBe('waiting');
  return records;
}

describe('recovery at open', () => {
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

  async function writeRecords(n: number, segmentBytes = 10_000): Promise<Written[]> {
    const s = await Spool.open({ dir, segmentBytes, maxBytes: 10 ** 9, fsync: 'always' });
    const written: Written[] = [];
    for (let i = 0; i < n; i += 1) {
      const payload = randomBytes(i % 4 === 0 ? 0 : 500 + i * 37);
      written.push({ ref: await s.append(metaFor(`w${String(i).padStart(3, '0')}`), payload), payload });
    }
    spool = s;
    return written;
  }

  it('yields exactly the unreleased records, marked recovered, before new ones', async () => {
    const written = await writeRecords(30);
    const tail = spool!.tail()[Symbol.asyncIterator]();
    await take(tail, 30);
    const firstSegment = written.filter((w) => w.ref.segment === written[0]!.ref.segment);
    const scattered = written.filter((w, i) => i % 3 === 1 && w.ref.segment !== written[0]!.ref.segment);
    await spool!.release([...firstSegment, ...scattered].map((w) => w.ref));
    await spool!.close();
    const released = new Set([...firstSegment, ...scattered].map((w) => w.ref.meta.id));
    const expected = written.filter((w) => !released.has(w.ref.meta.id));

    spool = await Spool.open({ dir, segmentBytes: 10_000, maxBytes: 10 ** 9, fsync: 'always' });
    expect(spool.stats().unreleasedRecords).toBe(expected.length);
    const tail2 = spool.tail()[Symbol.asyncIterator]();
    const got = await take(tail2, expected.length);
    expect(got.map((g) => g.ref.meta.id)).toEqual(expected.map((w) => w.ref.meta.id));
    got.forEach((g, i) => {
      expect(g.recovered).toBe(true);
      expect(g.ref.meta).toEqual(expected[i]!.ref.meta);
      expect(g.payload.equals(expected[i]!.payload)).toBe(true);
    });
    const fresh = await spool.append(metaFor('fresh'), Buffer.from('new'));
    const [next] = await take(tail2, 1);
    expect(next!.recovered).toBe(false);
    expect(next!.ref).toEqual(fresh);
  });

  it('always starts a new segment and never appends to an old file', async () => {
    const written = await writeRecords(3, 10 ** 6);
    await spool!.close();
    const oldPath = segmentPath(dir, written[0]!.ref.segment);
    const oldSize = statSync(oldPath).size;
    spool = await Spool.open({ dir, maxBytes: 10 ** 9, fsync: 'always' });
    const ref = await spool.append(metaFor('new'), randomBytes(100));
    expect(ref.segment).toBeGreaterThan(written[0]!.ref.segment);
    expect(ref.offset).toBe(SEGMENT_HEADER_BYTES);
    expect(statSync(oldPath).size).toBe(oldSize);
  });

  it('cuts a record torn mid-write, keeping the good ones', async () => {
    const written = await writeRecords(6, 10 ** 6);
    await spool!.close();
    const path = segmentPath(dir, written[0]!.ref.segment);
    const last = written[5]!.ref;
    truncateSync(path, last.offset + Math.floor(last.length / 2));
    const { logger, lines } = captureLogs();
    spool = await Spool.open({ dir, maxBytes: 10 ** 9, fsync: 'always', logger });
    const got = await recoveredRecords(spool);
    expect(got.map((g) => g.ref.meta.id)).toEqual(written.slice(0, 5).map((w) => w.ref.meta.id));
    got.forEach((g, i) => expect(g.payload.equals(written[i]!.payload)).toBe(true));
    expect(statSync(path).size).toBe(last.offset);
    const warning = lines.find((l) => l.level === 40);
    expect(warning).toMatchObject({ path, goodBytes: last.offset, problem: 'torn' });
  });

  it('cuts what a crash leaves after the last record of the last segment: a short remainder, zeros, a torn record', async () => {
    for (const garbage of [randomBytes(7), Buffer.alloc(4096), 'torn' as const]) {
      const written = await writeRecords(4, 10 ** 6);
      await spool!.close();
      const path = segmentPath(dir, written[0]!.ref.segment);
      const goodSize = statSync(path).size;
      if (garbage === 'torn') {
        const bytes = readFileSync(path);
        appendFileSync(path, bytes.subarray(written[1]!.ref.offset, written[1]!.ref.offset + 40)); // a prefix and a bit
      } else {
        appendFileSync(path, garbage);
      }
      spool = await Spool.open({ dir, maxBytes: 10 ** 9, fsync: 'always' });
      const got = await recoveredRecords(spool);
      expect(got.map((g) => g.ref.meta.id)).toEqual(written.map((w) => w.ref.meta.id));
      expect(statSync(path).size).toBe(goodSize);
      expect(existsSync(join(dir, 'quarantine'))).toBe(false);
      await spool.close();
      removeDir(dir);
      dir = makeTempDir();
    }
  });

  it('quarantines bytes after the last record that are not an interrupted write, keeping every record', async () => {
    const written = await writeRecords(4, 10 ** 6);
    await spool!.close();
    const path = segmentPath(dir, written[0]!.ref.segment);
    const goodSize = statSync(path).size;
    const garbage = randomBytes(5000);
    appendFileSync(path, garbage);
    spool = await Spool.open({ dir, maxBytes: 10 ** 9, fsync: 'always' });
    const got = await recoveredRecords(spool);
    expect(got.map((g) => g.ref.meta.id)).toEqual(written.map((w) => w.ref.meta.id));
    const name = `${String(written[0]!.ref.segment).padStart(16, '0')}-${String(goodSize).padStart(16, '0')}`;
    expect(readFileSync(join(dir, 'quarantine', `${name}.bad`)).equals(garbage)).toBe(true);
  });

  it('moves a damaged record to quarantine and keeps every intact record after it', async () => {
    const written = await writeRecords(6, 10 ** 6);
    await spool!.close();
    const path = segmentPath(dir, written[0]!.ref.segment);
    const bytes = readFileSync(path);
    const third = written[2]!.ref;
    const original = Buffer.from(bytes.subarray(third.offset, third.offset + third.length));
    bytes[third.offset + third.length - 1] = bytes[third.offset + third.length - 1]! ^ 0x10;
    writeFileSync(path, bytes);
    const quarantined: QuarantinedRange[] = [];
    spool = await Spool.open({ dir, maxBytes: 10 ** 9, fsync: 'always', onQuarantine: (q) => quarantined.push(q) });
    const got = await recoveredRecords(spool);
    expect(got.map((g) => g.ref.meta.id)).toEqual(['w000', 'w001', 'w003', 'w004', 'w005']);
    got.forEach((g) => expect(g.payload.equals(written.find((w) => w.ref.meta.id === g.ref.meta.id)!.payload)).toBe(true));
    expect(quarantined).toEqual([
      expect.objectContaining({ segment: third.segment, offset: third.offset, length: third.length, source: 'recovery', requestId: 'w002', bytesSaved: true }),
    ]);
    const sidecar = JSON.parse(readFileSync(quarantined[0]!.sidecar, 'utf8'));
    expect(sidecar).toMatchObject({
      segment: third.segment,
      offset: third.offset,
      length: third.length,
      reason: 'payload CRC mismatch',
      requestId: 'w002',
      source: 'recovery',
      bytesFile: expect.stringMatching(/\.bad$/),
    });
    expect(Date.parse(sidecar.time)).toBeGreaterThan(Date.now() - 60_000);
    const saved = readFileSync(join(dir, 'quarantine', sidecar.bytesFile));
    expect(saved.length).toBe(third.length);
    expect(saved.equals(original)).toBe(false); // the damaged bytes, as they were on disk
    saved[third.length - 1] = saved[third.length - 1]! ^ 0x10;
    expect(saved.equals(original)).toBe(true);

    // The next start neither yields it nor quarantines it again.
    await spool.close();
    const again: QuarantinedRange[] = [];
    spool = await Spool.open({ dir, maxBytes: 10 ** 9, fsync: 'always', onQuarantine: (q) => again.push(q) });
    expect((await recoveredRecords(spool)).map((g) => g.ref.meta.id)).toEqual(['w000', 'w001', 'w003', 'w004', 'w005']);
    expect(again).toEqual([]);
  });

  it('deletes segments with nothing left to archive, and their release logs', async () => {
    const written = await writeRecords(6, 10 ** 6);
    await spool!.close();
    const seq = written[0]!.ref.segment;
    truncateSync(segmentPath(dir, seq), 10); // not even one whole record left
    writeFileSync(releaseLogPath(dir, 999), 'orphan');
    spool = await Spool.open({ dir, maxBytes: 10 ** 9, fsync: 'always' });
    expect(spool.stats()).toMatchObject({ unreleasedRecords: 0, segments: 1 });
    expect(readdirSync(dir).filter((n) => !n.startsWith('.')).sort()).toEqual([
      `${String(seq + 1).padStart(16, '0')}.spool`,
    ]);
  });

  it('survives a damaged release log: unreadable entries only mean records come back', async () => {
    const written = await writeRecords(6, 10 ** 6);
    await take(spool!.tail()[Symbol.asyncIterator](), 6);
    await spool!.release([written[1]!.ref]);
    await spool!.close();
    appendFileSync(releaseLogPath(dir, written[0]!.ref.segment), randomBytes(29));
    spool = await Spool.open({ dir, maxBytes: 10 ** 9, fsync: 'always' });
    const got = await recoveredRecords(spool);
    expect(got.map((g) => g.ref.meta.id)).toEqual(['w000', 'w002', 'w003', 'w004', 'w005']);
  });
});

describe('reopening an empty directory', () => {
  it('holds nothing and takes appends', async () => {
    const dir = makeTempDir();
    try {
      const spool = await Spool.open({ dir: join(dir, 'nested', 'spool'), maxBytes: 10 ** 6, fsync: 'always' });
      expect(spool.stats()).toMatchObject({ bytesOnDisk: SEGMENT_HEADER_BYTES, segments: 1, unreleasedRecords: 0 });
      await spool.append(metaFor('a'), Buffer.from('x'));
      await spool.close();
    } finally {
      removeDir(dir);
    }
  });
});
