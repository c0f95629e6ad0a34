// Fault injection: one damaged byte at each of 100 random places of the spool's segment files. Each time the spool is
// reopened (recovery) or, for half of them, the byte is damaged under a running spool before its tail reads the
// record back. Every time: nothing throws, every record that does not contain the damaged byte comes back byte for
// byte, at most the record holding it is lost, and whatever is lost is in the quarantine.
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listSegmentSeqs, segmentPath } from '../../src/spool/segment-files.js';
import { Spool } from '../../src/spool/spool.js';
import type { QuarantinedRange, SpoolRef, TailedRecord } from '../../src/spool/spool.js';
import { waitFor } from '../helpers/wait.js';
import { makeTempDir, metaFor, nextOrWaiting, removeDir, take } from '../spool/helpers.js';

const PLACES = 100;
const RECORDS = 20;

/** A small seeded generator (mulberry32): the same 100 places on every run, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Written {
  ref: SpoolRef;
  payload: Buffer;
}

async function drain(spool: Spool, expected: number): Promise<TailedRecord[]> {
  const tail = spool.tail()[Symbol.asyncIterator]();
  const got = await take(tail, expected, 20_000);
  expect(await nextOrWaiting(tail.next(), 50)).toBe('waiting');
  return got;
}

test(`a damaged byte at ${PLACES} random places costs at most the record holding it, which goes to quarantine`, async () => {
  const next = random(0x13_2026);
  let lostRecords = 0;
  let quarantinedRanges = 0;
  for (let place = 0; place < PLACES; place += 1) {
    const dir = makeTempDir();
    const underRunningSpool = place % 2 === 1;
    try {
      const quarantined: QuarantinedRange[] = [];
      const onQuarantine = (q: QuarantinedRange): number => quarantined.push(q);
      let spool = await Spool.open({ dir, segmentBytes: 24_000, maxBytes: 10 ** 9, fsync: 'never', handoverBytes: 0, onQuarantine });
      const written: Written[] = [];
      for (let i = 0; i < RECORDS; i += 1) {
        const payload = randomBytes(50 + Math.floor(next() * 4000));
        written.push({ ref: await spool.append(metaFor(`p${place}-r${String(i).padStart(2, '0')}`), payload), payload });
      }
      if (!underRunningSpool) await spool.close();

      // One byte of one segment file (headers included), weighted by size.
      const files = (await listSegmentSeqs(dir)).map((seq) => ({ seq, size: statSync(segmentPath(dir, seq)).size })).filter((f) => f.size > 0);
      let at = Math.floor(next() * files.reduce((sum, f) => sum + f.size, 0));
      const file = files.find((f) => (at < f.size ? true : ((at -= f.size), false)))!;
      const bytes = readFileSync(segmentPath(dir, file.seq));
      bytes[at] = bytes[at]! ^ (1 + Math.floor(next() * 255));
      writeFileSync(segmentPath(dir, file.seq), bytes);
      const holder = written.find((w) => w.ref.segment === file.seq && at >= w.ref.offset && at < w.ref.offset + w.ref.length);

      if (!underRunningSpool) spool = await Spool.open({ dir, maxBytes: 10 ** 9, fsync: 'never', onQuarantine });
      const expected = written.filter((w) => w !== holder);
      const got = await drain(spool, underRunningSpool ? expected.length : spool.stats().unreleasedRecords);
      // The tail retries a record that reads back damaged a few times before it gives up on it.
      if (holder !== undefined) await waitFor('the damaged record quarantined', async () => (quarantined.length > 0 ? true : undefined), 10_000, 20);
      await spool.close();

      const context = { place, underRunningSpool, segment: file.seq, at, holder: holder?.ref.meta.id };
      const byId = new Map(got.map((g) => [g.ref.meta.id, g]));
      // Every record but the one holding the byte, byte for byte; nothing else, nothing twice.
      expect({ ...context, ids: got.map((g) => g.ref.meta.id) }).toEqual({ ...context, ids: expected.map((w) => w.ref.meta.id) });
      for (const w of expected) expect(byId.get(w.ref.meta.id)!.payload.equals(w.payload)).toBe(true);
      if (holder !== undefined) {
        lostRecords += 1;
        const covering = quarantined.filter((q) => q.segment === file.seq && q.offset <= holder.ref.offset && holder.ref.offset + holder.ref.length <= q.offset + q.length);
        expect({ ...context, covering: covering.length }).toEqual({ ...context, covering: 1 });
        expect(readdirSync(join(dir, 'quarantine')).some((name) => name.endsWith('.json'))).toBe(true);
      } else if (!underRunningSpool) {
        // The segment header: no record lost, the damaged header itself is in the quarantine.
        expect({ ...context, quarantined: quarantined.map((q) => [q.offset, q.length]) }).toEqual({ ...context, quarantined: [[0, 16]] });
      }
      quarantinedRanges += quarantined.length;
    } finally {
      removeDir(dir);
    }
  }
  // The places fell on records (nearly all bytes are record bytes), and each such loss was quarantined.
  expect(lostRecords).toBeGreaterThan(PLACES * 0.9);
  expect(quarantinedRanges).toBeGreaterThanOrEqual(lostRecords);
}, 180_000);
