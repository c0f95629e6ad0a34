import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import { encodeRecord } from '../../src/spool/record-codec.js';
import { RecordReader } from '../../src/spool/record-reader.js';
import { makeTempDir, metaFor, removeDir } from './helpers.js';

describe('RecordReader', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(() => removeDir(dir));

  // A tiny chunk size puts records on every side of the window boundaries.
  const sizes = [0, 1, 50, 299, 300, 301, 1000, 5000, 0, 7];
  const payloads = sizes.map((n) => randomBytes(n));
  const frames = payloads.map((p, i) => {
    const r = encodeRecord(metaFor(`id-${i}`), p);
    return Buffer.concat([r.head, r.payload]);
  });
  const file = Buffer.concat(frames);

  it('reads every record back, whatever its size relative to the read window', async () => {
    const path = join(dir, 'seg');
    writeFileSync(path, file);
    const handle = await open(path, 'r');
    try {
      for (const chunk of [300, 1024, 64 * 1024]) {
        const reader = new RecordReader(handle, chunk);
        let offset = 0;
        for (let i = 0; i < payloads.length; i += 1) {
          const outcome = await reader.readAt(offset, file.length);
          if (outcome.kind !== 'record') throw new Error(`record ${i}: ${JSON.stringify(outcome)}`);
          expect(outcome.meta.id).toBe(`id-${i}`);
          expect(outcome.payload.equals(payloads[i]!)).toBe(true);
          offset += outcome.length;
        }
        expect(await reader.readAt(offset, file.length)).toEqual({ kind: 'end' });
        const checker = new RecordReader(handle, chunk);
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
        const reader = new RecordReader(handle, 1024);
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
      const flipped = Buffer.from(frames[7]!);
      flipped[flipped.length - 3] = flipped[flipped.length - 3]! ^ 0x01;
      writeFileSync(path, flipped);
      expect((await new RecordReader(handle, 1024).readAt(0, flipped.length, flipped.length)).kind).toBe('corrupt');
    } finally {
      await handle.close();
    }
  });

  it('payloads handed out stay intact while the reader moves on', async () => {
    const path = join(dir, 'seg');
    writeFileSync(path, file);
    const handle = await open(path, 'r');
    try {
      const reader = new RecordReader(handle, 1024);
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
    const big = frames[7]!; // 5000-byte payload: checked chunk by chunk with a 300-byte window
    const path = join(dir, 'seg');
    for (const chunk of [300, 64 * 1024]) {
      writeFileSync(path, big.subarray(0, big.length - 1));
      let handle = await open(path, 'r');
      expect((await new RecordReader(handle, chunk).checkAt(0, big.length - 1)).kind).toBe('torn');
      // The limit says the record is whole, but the file is shorter.
      expect((await new RecordReader(handle, chunk).checkAt(0, big.length)).kind).toBe('torn');
      await handle.close();

      const flipped = Buffer.from(big);
      flipped[big.length - 10] = flipped[big.length - 10]! ^ 0xff;
      writeFileSync(path, flipped);
      handle = await open(path, 'r');
      expect((await new RecordReader(handle, chunk).checkAt(0, big.length)).kind).toBe('corrupt');
      expect((await new RecordReader(handle, chunk).readAt(0, big.length)).kind).toBe('corrupt');
      await handle.close();
    }
    writeFileSync(path, Buffer.from('0123456789abcdef0123456789'));
    const handle = await open(path, 'r');
    expect((await new RecordReader(handle).checkAt(0, 26)).kind).toBe('corrupt');
    expect((await new RecordReader(handle).checkAt(0, 9)).kind).toBe('torn');
    await handle.close();
  });
});
