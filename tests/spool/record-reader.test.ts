import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import { RecordReader } from '../../src/spool/record-reader.js';
import type { SegmentIdentity } from '../../src/spool/record-reader.js';
import { frameAt, segmentBytes } from './frames.js';
import { makeTempDir, metaFor, removeDir } from './helpers.js';

const SEG: SegmentIdentity = { seq: 3, format: 2 };

describe('RecordReader', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(() => removeDir(dir));

  // A tiny chunk size puts records on every side of the window boundaries.
  const sizes = [0, 1, 50, 299, 300, 301, 1000, 5000, 0, 7];
  const payloads = sizes.map((n) => randomBytes(n));
  // Laid out from offset 0 (a reader does not care where the records start).
  const frames: Buffer[] = [];
  let at = 0;
  for (const [i, p] of payloads.entries()) {
    frames.push(frameAt(metaFor(`id-${i}`), p, SEG.seq, at));
    at += frames[i]!.length;
  }
  const file = Buffer.concat(frames);
  const offsetOf = (i: number): number => frames.slice(0, i).reduce((sum, f) => sum + f.length, 0);

  it('reads every record back, whatever its size relative to the read window', async () => {
    const path = join(dir, 'seg');
    writeFileSync(path, file);
    const handle = await open(path, 'r');
    try {
      for (const chunk of [300, 1024, 64 * 1024]) {
        const reader = new RecordReader(handle, SEG, chunk);
        let offset = 0;
        for (let i = 0; i < payloads.length; i += 1) {
          const outcome = await reader.readAt(offset, file.length);
          if (outcome.kind !== 'record') throw new Error(`record ${i}: ${JSON.stringify(outcome)}`);
          expect(outcome.meta.id).toBe(`id-${i}`);
          expect(outcome.payload.equals(payloads[i]!)).toBe(true);
          offset += outcome.length;
        }
        expect(await reader.readAt(offset, file.length)).toEqual({ kind: 'end' });
        const checker = new RecordReader(handle, SEG, chunk);
        offset = 0;
        for (let i = 0; i < payloads.length; i += 1) {
          const outcome = await checker.checkAt(offset, file.length);
          expect(outcome.kind).toBe('checked');
          if (outcome.kind === 'checked') offset += outcome.length;
        }
        expect(offset).toBe(file.length);
      }
    } finally {
      await handle.close();
    }
  });

  it('gives each payload its own CRC, and reads a record of known length in one go or falls back when it is wrong', async () => {
    const path = join(dir, 'seg');
    writeFileSync(path, file);
    const handle = await open(path, 'r');
    try {
      for (const hinted of [true, false]) {
        const reader = new RecordReader(handle, SEG, 1024);
        let offset = 0;
        for (let i = 0; i < payloads.length; i += 1) {
          // A wrong length (here: one byte short of the frame) must not change what is read.
          const hint = hinted ? frames[i]!.length : frames[i]!.length - 1;
          const outcome = await reader.readAt(offset, file.length, hint);
          if (outcome.kind !== 'record') throw new Error(`record ${i}: ${JSON.stringify(outcome)}`);
          expect(outcome.payload.equals(payloads[i]!)).toBe(true);
          expect(outcome.payloadCrc).toBe(crc32(payloads[i]!));
          expect(outcome.length).toBe(frames[i]!.length);
          offset += outcome.length;
        }
      }
      const flipped = frameAt(metaFor('id-7'), payloads[7]!, SEG.seq, 0);
      flipped[flipped.length - 3] = flipped[flipped.length - 3]! ^ 0x01;
      writeFileSync(path, flipped);
      expect(await new RecordReader(handle, SEG, 1024).readAt(0, flipped.length, flipped.length)).toMatchObject({
        kind: 'corrupt',
        length: flipped.length,
        meta: { id: 'id-7' },
      });
    } finally {
      await handle.close();
    }
  });

  it('payloads handed out stay intact while the reader moves on', async () => {
    const path = join(dir, 'seg');
    writeFileSync(path, file);
    const handle = await open(path, 'r');
    try {
      const reader = new RecordReader(handle, SEG, 1024);
      const got: Buffer[] = [];
      let offset = 0;
      for (let i = 0; i < payloads.length; i += 1) {
        const outcome = await reader.readAt(offset, file.length);
        if (outcome.kind !== 'record') throw new Error('not a record');
        got.push(outcome.payload);
        offset += outcome.length;
      }
      got.forEach((p, i) => expect(p.equals(payloads[i]!)).toBe(true));
    } finally {
      await handle.close();
    }
  });

  it('tells a torn end from a corrupt record, for large records checked in chunks too', async () => {
    const big = frameAt(metaFor('id-7'), payloads[7]!, SEG.seq, 0); // 5000-byte payload: checked chunk by chunk with a 300-byte window
    const path = join(dir, 'seg');
    for (const chunk of [300, 64 * 1024]) {
      writeFileSync(path, big.subarray(0, big.length - 1));
      let handle = await open(path, 'r');
      expect((await new RecordReader(handle, SEG, chunk).checkAt(0, big.length - 1)).kind).toBe('torn');
      // The limit says the record is whole, but the file is shorter.
      expect((await new RecordReader(handle, SEG, chunk).checkAt(0, big.length)).kind).toBe('torn');
      await handle.close();

      const flipped = Buffer.from(big);
      flipped[big.length - 10] = flipped[big.length - 10]! ^ 0xff;
      writeFileSync(path, flipped);
      handle = await open(path, 'r');
      expect((await new RecordReader(handle, SEG, chunk).checkAt(0, big.length)).kind).toBe('corrupt');
      expect((await new RecordReader(handle, SEG, chunk).readAt(0, big.length)).kind).toBe('corrupt');
      await handle.close();
    }
    writeFileSync(path, Buffer.from('0123456789abcdef0123456789abcdef'));
    const handle = await open(path, 'r');
    expect((await new RecordReader(handle, SEG).checkAt(0, 32)).kind).toBe('corrupt');
    expect((await new RecordReader(handle, SEG).checkAt(0, 9)).kind).toBe('torn');
    await handle.close();
  });

  it('says how long a damaged record is when its header checks out, and nothing when the header is damaged', async () => {
    const path = join(dir, 'seg');
    const third = offsetOf(3);
    for (const chunk of [300, 64 * 1024]) {
      const payloadFlip = Buffer.from(file);
      payloadFlip[third + frames[3]!.length - 1] = payloadFlip[third + frames[3]!.length - 1]! ^ 0x04;
      writeFileSync(path, payloadFlip);
      let handle = await open(path, 'r');
      for (const outcome of [
        await new RecordReader(handle, SEG, chunk).checkAt(third, file.length),
        await new RecordReader(handle, SEG, chunk).readAt(third, file.length),
      ]) {
        expect(outcome).toMatchObject({ kind: 'corrupt', reason: 'payload CRC mismatch', length: frames[3]!.length, meta: { id: 'id-3' } });
      }
      await handle.close();
      const headerFlip = Buffer.from(file);
      headerFlip[third + 25] = headerFlip[third + 25]! ^ 0x04; // inside the meta JSON
      writeFileSync(path, headerFlip);
      handle = await open(path, 'r');
      const outcome = await new RecordReader(handle, SEG, chunk).checkAt(third, file.length);
      expect(outcome).toEqual({ kind: 'corrupt', reason: 'header CRC mismatch' });
      // ...but the next record is found by its sync marker and header CRC.
      expect(await new RecordReader(handle, SEG, chunk).findNextRecord(third + 1, file.length)).toBe(offsetOf(4));
      await handle.close();
    }
  });

  it('does not take a frame inside a payload, or one written elsewhere, for a record when resynchronising', async () => {
    const path = join(dir, 'seg');
    // A payload that is itself a well-formed frame (as it would be at offset 0 of this segment).
    const inner = frameAt(metaFor('fake'), Buffer.from('not a record'), SEG.seq, 0);
    const outer = frameAt(metaFor('real'), Buffer.concat([Buffer.alloc(10), inner, Buffer.alloc(10)]), SEG.seq, 0);
    const after = frameAt(metaFor('after'), Buffer.from('x'), SEG.seq, outer.length);
    const bytes = Buffer.concat([outer, after]);
    bytes[4] = bytes[4]! ^ 0xff; // the outer frame's header CRC
    writeFileSync(path, bytes);
    const handle = await open(path, 'r');
    try {
      expect(await new RecordReader(handle, SEG, 64).findNextRecord(1, bytes.length)).toBe(outer.length);
      // In another segment, not even the intact frame is one.
      expect(await new RecordReader(handle, { seq: SEG.seq + 1, format: 2 }).findNextRecord(1, bytes.length)).toBeNull();
    } finally {
      await handle.close();
    }
  });

  it('reads format-1 segments and tells zero-filled space', async () => {
    const path = join(dir, 'seg');
    const laid = segmentBytes(1, [0, 1, 2].map((i) => ({ meta: metaFor(`v1-${i}`), payload: randomBytes(100 * i) })), 1);
    writeFileSync(path, Buffer.concat([laid.bytes, Buffer.alloc(500)]));
    const handle = await open(path, 'r');
    try {
      const reader = new RecordReader(handle, { seq: 1, format: 1 });
      for (const [i, f] of laid.frames.entries()) {
        const outcome = await reader.readAt(f.offset, laid.bytes.length);
        expect(outcome).toMatchObject({ kind: 'record', length: f.length, meta: { id: `v1-${i}` } });
      }
      expect(await reader.isZeroFilled(laid.bytes.length, laid.bytes.length + 500)).toBe(true);
      expect(await reader.isZeroFilled(laid.bytes.length - 1, laid.bytes.length + 500)).toBe(false);
    } finally {
      await handle.close();
    }
  });
});
