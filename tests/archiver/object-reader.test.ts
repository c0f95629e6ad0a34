import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import { ObjectBuilder } from '../../src/archiver/object-builder.js';
import { readObjectManifest, readRequestBytes } from '../../src/archiver/object-reader.js';
import { TRAILER_SIZE } from '../../src/archiver/object-format.js';
import { CODECS } from '../../src/model.js';
import type { ArchivedRequest, Codec, ObjectMeta } from '../../src/model.js';
import { CorruptDataError, NotFoundError } from '../../src/errors.js';
import { payload, requestMeta, tempStore } from './fixtures.js';
import type { TempStore } from './fixtures.js';

describe('object reader', () => {
  let temp: TempStore;

  beforeEach(async () => {
    temp = await tempStore();
  });
  afterEach(() => temp.cleanup());

  async function build(key: string, codec: Codec, sizes = [1000, 20_000, 5]): Promise<{ object: ObjectMeta; requests: ArchivedRequest[] }> {
    const b = new ObjectBuilder({ key, tenant: 'acme', signal: 'traces', codec, writer: temp.store.createWriter(key), nowMs: 1 });
    for (const size of sizes) await b.append(requestMeta(payload(size)), payload(size));
    return b.finish(2);
  }

  function mutate(key: string, change: (bytes: Buffer) => Buffer): void {
    const file = temp.store.pathOf(key);
    fs.writeFileSync(file, change(fs.readFileSync(file)));
  }

  for (const codec of CODECS) {
    it(`${codec}: a flipped byte inside a block is CorruptDataError`, async () => {
      const { requests } = await build(`flip-${codec}`, codec);
      const target = requests[1]!;
      mutate(`flip-${codec}`, (bytes) => {
        bytes[target.offset + Math.floor(target.length / 2)]! ^= 0x20;
        return bytes;
      });
      await expect(readRequestBytes(temp.store, target)).rejects.toThrow(CorruptDataError);
      await expect(readRequestBytes(temp.store, target)).rejects.toThrow(new RegExp(target.id));
      // Its neighbours are untouched and still read.
      await expect(readRequestBytes(temp.store, requests[0]!)).resolves.toHaveLength(1000);
      await expect(readRequestBytes(temp.store, requests[2]!)).resolves.toHaveLength(5);
    });
  }

  it('a location that disagrees with the block is CorruptDataError, a range past the end NotFoundError', async () => {
    const { requests } = await build('wrong', 'gzip');
    const r = requests[0]!;
    await expect(readRequestBytes(temp.store, { ...r, crc32: (r.crc32 + 1) >>> 0 })).rejects.toBeInstanceOf(CorruptDataError);
    await expect(readRequestBytes(temp.store, { ...r, rawBytes: r.rawBytes + 1 })).rejects.toBeInstanceOf(CorruptDataError);
    await expect(readRequestBytes(temp.store, { ...r, offset: r.offset + 1 })).rejects.toBeInstanceOf(CorruptDataError);
    await expect(readRequestBytes(temp.store, { ...r, offset: 10 ** 9 })).rejects.toBeInstanceOf(NotFoundError);
    await expect(readRequestBytes(temp.store, { ...r, objectKey: 'gone' })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('a flipped byte in the manifest is CorruptDataError', async () => {
    const { object } = await build('manifest-flip', 'brotli');
    mutate('manifest-flip', (bytes) => {
      bytes[object.storedBytes - TRAILER_SIZE - 10]! ^= 0x01;
      return bytes;
    });
    await expect(readObjectManifest(temp.store, 'manifest-flip')).rejects.toBeInstanceOf(CorruptDataError);
  });

  it('a truncated object is a clear CorruptDataError', async () => {
    const { object } = await build('truncated', 'gzip');
    for (const cut of [1, TRAILER_SIZE, Math.floor(object.storedBytes / 2), object.storedBytes - 3]) {
      const full = fs.readFileSync(temp.store.pathOf('truncated'));
      mutate('truncated', (bytes) => bytes.subarray(0, bytes.length - cut));
      const error = (await readObjectManifest(temp.store, 'truncated').catch((e: unknown) => e)) as Error;
      expect(error).toBeInstanceOf(CorruptDataError);
      expect(error.message).toMatch(/truncated/);
      fs.writeFileSync(temp.store.pathOf('truncated'), full);
    }
    // Restored to its full length it reads again: the failures above were about the cut alone.
    expect((await readObjectManifest(temp.store, 'truncated')).object).toEqual(object);
  });

  it('a blob that is not an archive object, or of another version, is CorruptDataError', async () => {
    const { object } = await build('versioned', 'none');
    mutate('versioned', (bytes) => {
      bytes.writeUInt16BE(99, 4);
      return bytes;
    });
    await expect(readObjectManifest(temp.store, 'versioned')).rejects.toThrow(/version 99/);
    mutate('versioned', (bytes) => {
      bytes.writeUInt16BE(99, object.storedBytes - 8);
      bytes.writeUInt16BE(1, 4);
      return bytes;
    });
    await expect(readObjectManifest(temp.store, 'versioned')).rejects.toThrow(/version 99/);

    const writer = temp.store.createWriter('random');
    await writer.write(payload(5000));
    await writer.complete();
    await expect(readObjectManifest(temp.store, 'random')).rejects.toThrow(/not an otlp-capture archive object/);
  });

  it('a missing object is NotFoundError', async () => {
    await expect(readObjectManifest(temp.store, 'nope/x.otlpc')).rejects.toBeInstanceOf(NotFoundError);
  });
});
