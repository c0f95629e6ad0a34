// Damage on disk costs the damaged record only: recovery and the tail resynchronise on the next intact record and
// move the damaged bytes to quarantine. Format-1 segments (written before the segment header) keep their old rule.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { segmentPath } from '../../src/spool/segment-files.js';
import { SEGMENT_HEADER_BYTES, encodeSegmentHeader } from '../../src/spool/segment-format.js';
import { Spool } from '../../src/spool/spool.js';
import type { QuarantinedRange, SpoolRef, TailedRecord } from '../../src/spool/spool.js';
import { segmentBytes } from './frames.js';
import { makeTempDir, metaFor, nextOrWaiting, removeDir, take } from './helpers.js';

interface Written {
  ref: SpoolRef;
  payload: Buffer;
}

async function everything(spool: Spool): Promise<TailedRecord[]> {
  const tail = spool.tail()[Symbol.asyncIterator]();
  const records = await take(tail, spool.stats().unreleasedRecords);
  expect(await nextOrWaiting(tail.next(), 100)).toBe('waiting');
  return records;
}

function flip(path: string, at: number, mask = 0x20): void {
  const bytes = readFileSync(path);
  bytes[at] = bytes[at]! ^ mask;
  writeFileSync(path, bytes);
}

describe('resynchronising after damage', () => {
  let dir: string;
  let spool: Spool | undefined;
  let quarantined: QuarantinedRange[];
  beforeEach(() => {
    dir = makeTempDir();
    quarantined = [];
  });
  afterEach(async () => {
    await spool?.close();
    spool = undefined;
    removeDir(dir);
  });

  const reopen = async (): Promise<Spool> => {
    spool = await Spool.open({ dir, maxBytes: 10 ** 9, fsync: 'always', onQuarantine: (q) => quarantined.push(q) });
    return spool;
  };

  /** `n` records over segments of `segmentBytes`, then closed. */
  async function write(n: number, segmentBytes = 10 ** 6): Promise<Written[]> {
    const s = await Spool.open({ dir, segmentBytes, maxBytes: 10 ** 9, fsync: 'always' });
    const written: Written[] = [];
    for (let i = 0; i < n; i += 1) {
      const payload = randomBytes(300 + i * 41);
      written.push({ ref: await s.append(metaFor(`r${String(i).padStart(3, '0')}`), payload), payload });
    }
    await s.close();
    return written;
  }

  const ids = (records: { ref: SpoolRef }[]): string[] => records.map((r) => r.ref.meta.id);
  const without = (written: Written[], ...lost: number[]): string[] => ids(written.filter((_, i) => !lost.includes(i)));

  it('costs one record for a flip inside its header, found again by the next sync marker', async () => {
    const written = await write(8);
    const fourth = written[3]!.ref;
    flip(segmentPath(dir, fourth.segment), fourth.offset + 30); // inside the meta JSON
    const got = await everything(await reopen());
    expect(ids(got)).toEqual(without(written, 3));
    got.forEach((g) => expect(g.payload.equals(written.find((w) => w.ref.meta.id === g.ref.meta.id)!.payload)).toBe(true));
    expect(quarantined).toEqual([
      expect.objectContaining({ offset: fourth.offset, length: fourth.length, reason: 'header CRC mismatch', source: 'recovery' }),
    ]);
    expect(quarantined[0]!.requestId).toBeUndefined(); // the header did not survive
  });

  it('costs one record for a flip in a length field or the sync marker', async () => {
    for (const [field, at] of [['payload length', 13], ['header length', 10], ['magic', 1]] as const) {
      const written = await write(6);
      const second = written[1]!.ref;
      flip(segmentPath(dir, second.segment), second.offset + at, 0x40);
      quarantined = [];
      const got = await everything(await reopen());
      expect({ field, ids: ids(got) }).toEqual({ field, ids: without(written, 1) });
      expect(quarantined.map((q) => [q.offset, q.length])).toEqual([[second.offset, second.length]]);
      await spool!.close();
      spool = undefined;
      removeDir(dir);
      dir = makeTempDir();
    }
  });

  it('tells a damaged header length in the last record of the last segment from a write cut by a crash', async () => {
    const written = await write(5);
    const last = written[4]!.ref;
    const path = segmentPath(dir, last.segment);
    const bytes = readFileSync(path);
    const original = Buffer.from(bytes.subarray(last.offset));
    // Header length + 1024: the frame now claims to run past the end of the file, as a torn one would.
    bytes.writeUInt32BE(bytes.readUInt32BE(last.offset + 8) + 1024, last.offset + 8);
    writeFileSync(path, bytes);
    const got = await everything(await reopen());
    expect(ids(got)).toEqual(without(written, 4));
    expect(quarantined).toEqual([
      expect.objectContaining({ offset: last.offset, length: last.length, reason: 'header length field damaged', requestId: 'r004' }),
    ]);
    // A write cut inside the header of the last record is an interrupted append: cut off, not quarantined.
    await spool!.close();
    quarantined = [];
    writeFileSync(path, Buffer.concat([bytes.subarray(0, last.offset), original.subarray(0, 60)]));
    const again = await everything(await reopen());
    expect(ids(again)).toEqual(without(written, 4));
    expect(quarantined).toEqual([]);
    expect(readFileSync(path).length).toBe(last.offset);
  });

  it('keeps every record when the segment header is damaged', async () => {
    const written = await write(5);
    const path = segmentPath(dir, written[0]!.ref.segment);
    flip(path, 2);
    const got = await everything(await reopen());
    expect(ids(got)).toEqual(ids(written));
    expect(quarantined.map((q) => [q.offset, q.length])).toEqual([[0, SEGMENT_HEADER_BYTES]]);
  });

  it('in a sealed segment, quarantines a zero-filled range (without copying zeros) and a truncated end', async () => {
    const written = await write(30, 4000);
    const bySegment = new Map<number, Written[]>();
    for (const w of written) bySegment.set(w.ref.segment, [...(bySegment.get(w.ref.segment) ?? []), w]);
    const [first, second, third] = [...bySegment.keys()];
    expect(bySegment.size).toBeGreaterThan(3);
    // Zeros over the second and third records of the first segment.
    const zeroed = bySegment.get(first!)!.slice(1, 3);
    const path1 = segmentPath(dir, first!);
    const bytes = readFileSync(path1);
    bytes.fill(0, zeroed[0]!.ref.offset, zeroed[1]!.ref.offset + zeroed[1]!.ref.length);
    writeFileSync(path1, bytes);
    // The second segment ends in the middle of its last record; the third is all zeros.
    const lastOfSecond = bySegment.get(second!)!.at(-1)!.ref;
    truncateSync(segmentPath(dir, second!), lastOfSecond.offset + 25);
    const path3 = segmentPath(dir, third!);
    writeFileSync(path3, Buffer.alloc(readFileSync(path3).length));

    const got = await everything(await reopen());
    const lost = new Set([...zeroed.map((w) => w.ref.meta.id), lastOfSecond.meta.id, ...bySegment.get(third!)!.map((w) => w.ref.meta.id)]);
    expect(ids(got)).toEqual(ids(written).filter((id) => !lost.has(id)));
    const bySeq = (seq: number): QuarantinedRange[] => quarantined.filter((q) => q.segment === seq);
    expect(bySeq(first!).map((q) => [q.offset, q.length, q.bytesSaved])).toEqual([
      [zeroed[0]!.ref.offset, zeroed[0]!.ref.length + zeroed[1]!.ref.length, false],
    ]);
    expect(JSON.parse(readFileSync(bySeq(first!)[0]!.sidecar, 'utf8'))).toMatchObject({ allZero: true, bytesFile: null });
    expect(bySeq(second!).map((q) => [q.offset, q.length, q.bytesSaved])).toEqual([[lastOfSecond.offset, 25, true]]);
    expect(bySeq(third!).map((q) => [q.offset, q.bytesSaved])).toEqual([[0, false]]);
  });

  it('reads format-1 segments, and cuts one at its first bad record as before', async () => {
    const records = [0, 1, 2, 3].map((i) => ({ meta: metaFor(`old-${i}`), payload: randomBytes(200 + i) }));
    const intact = segmentBytes(1, records, 1);
    const damaged = segmentBytes(2, records.map((r) => ({ ...r, meta: { ...r.meta, id: `${r.meta.id}b` } })), 1);
    const at = damaged.frames[2]!.offset + 40;
    damaged.bytes[at] = damaged.bytes[at]! ^ 0x01;
    writeFileSync(segmentPath(dir, 1), intact.bytes);
    writeFileSync(segmentPath(dir, 2), damaged.bytes);
    const s = await reopen();
    const got = await everything(s);
    expect(ids(got)).toEqual(['old-0', 'old-1', 'old-2', 'old-3', 'old-0b', 'old-1b']);
    got.slice(0, 4).forEach((g, i) => expect(g.payload.equals(records[i]!.payload)).toBe(true));
    expect(readFileSync(segmentPath(dir, 2)).length).toBe(damaged.frames[2]!.offset);
    expect(quarantined).toEqual([]);
    // Reading back by ref works in both formats, and new records go to a new format-2 segment.
    expect((await s.read(got[1]!.ref)).equals(records[1]!.payload)).toBe(true);
    const fresh = await s.append(metaFor('new'), Buffer.from('x'));
    expect(fresh).toMatchObject({ segment: 3, offset: SEGMENT_HEADER_BYTES });
    expect(readFileSync(segmentPath(dir, 3)).subarray(0, SEGMENT_HEADER_BYTES).equals(encodeSegmentHeader())).toBe(true);
  });

  it('refuses to guess at a segment written in a newer format', async () => {
    const header = encodeSegmentHeader();
    header.writeUInt16BE(3, 4);
    const { crc32 } = await import('node:zlib');
    header.writeUInt32BE(crc32(header.subarray(0, 12)), 12);
    writeFileSync(segmentPath(dir, 1), Buffer.concat([header, randomBytes(100)]));
    await expect(reopen()).rejects.toThrow(ConfigError);
    await expect(reopen()).rejects.toThrow(/format 3.*newer/);
    spool = undefined;
  });

  it('the tail quarantines a record damaged after it was written and goes on', async () => {
    spool = await Spool.open({ dir, maxBytes: 10 ** 9, fsync: 'always', handoverBytes: 0, onQuarantine: (q) => quarantined.push(q) });
    const written: Written[] = [];
    for (let i = 0; i < 6; i += 1) {
      const payload = randomBytes(500);
      written.push({ ref: await spool.append(metaFor(`t${i}`), payload), payload });
    }
    const bad = written[2]!.ref;
    flip(segmentPath(dir, bad.segment), bad.offset + bad.length - 2);
    const tail = spool.tail()[Symbol.asyncIterator]();
    const got = await take(tail, 5);
    expect(ids(got)).toEqual(without(written, 2));
    expect(quarantined).toEqual([
      expect.objectContaining({ offset: bad.offset, length: bad.length, source: 'tail', requestId: 't2', reason: 'payload CRC mismatch' }),
    ]);
    expect(spool.stats().unreleasedRecords).toBe(5); // the quarantined one is released
    await spool.release(got.map((g) => g.ref));
    expect(spool.stats().unreleasedRecords).toBe(0);
  });

  it('the tail gives up on a record it cannot read at all (I/O errors) after a few tries, records why, and goes on', async () => {
    spool = await Spool.open({ dir, segmentBytes: 2000, maxBytes: 10 ** 9, fsync: 'always', handoverBytes: 0, onQuarantine: (q) => quarantined.push(q) });
    const written: Written[] = [];
    for (let i = 0; i < 4; i += 1) written.push({ ref: await spool.append(metaFor(`io${i}`), randomBytes(1500)), payload: Buffer.alloc(0) });
    // The first record's segment becomes unreadable (here: gone), the others are in later segments.
    const lost = written[0]!.ref;
    expect(written[1]!.ref.segment).not.toBe(lost.segment);
    rmSync(segmentPath(dir, lost.segment));
    const got = await take(spool.tail()[Symbol.asyncIterator](), 3);
    expect(ids(got)).toEqual(['io1', 'io2', 'io3']);
    expect(quarantined).toEqual([expect.objectContaining({ segment: lost.segment, offset: lost.offset, source: 'tail', bytesSaved: false })]);
    expect(quarantined[0]!.reason).toMatch(/^read failed: ENOENT/);
    expect(JSON.parse(readFileSync(quarantined[0]!.sidecar, 'utf8'))).toMatchObject({ bytesFile: null, readError: expect.stringMatching(/ENOENT/) });
  });

  it('quarantine() takes a record the archiver gives up on, with its reason, and releases it', async () => {
    spool = await Spool.open({ dir, maxBytes: 10 ** 9, fsync: 'always', onQuarantine: (q) => quarantined.push(q) });
    const payload = randomBytes(100);
    const ref = await spool.append(metaFor('poison'), payload);
    await spool.append(metaFor('fine'), randomBytes(10));
    await spool.quarantine(ref, 'the archiver rejected it: too large');
    expect(spool.stats().unreleasedRecords).toBe(1);
    expect(quarantined).toEqual([expect.objectContaining({ source: 'archiver', requestId: 'poison', reason: 'the archiver rejected it: too large' })]);
    const files = readdirSync(join(dir, 'quarantine')).sort();
    expect(files).toHaveLength(2);
    expect(readFileSync(join(dir, 'quarantine', files[0]!)).subarray(-100).equals(payload)).toBe(true);
    // After a restart it is not yielded again.
    await spool.close();
    spool = await reopen();
    expect(ids(await everything(spool))).toEqual(['fine']);
    expect(existsSync(join(dir, 'quarantine', files[1]!))).toBe(true);
  });
});
