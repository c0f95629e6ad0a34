// The behaviour every BlobStore adapter must have, tested through the port only. An adapter's test file calls
// describeBlobStoreContract with a factory for a fresh, empty, not yet started store (its own bucket, prefix or dir).

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import type { BlobInfo, BlobStore } from '../../src/storage/blob-store.js';
import { InvalidArgumentError, NotFoundError } from '../../src/errors.js';

export interface BlobStoreFixture {
  /** Empty and not started: the contract calls start(). */
  store: BlobStore;
  /** Removes whatever the fixture created (called after store.close()). */
  dispose(): Promise<void>;
}

async function collect(iterable: AsyncIterable<BlobInfo>): Promise<BlobInfo[]> {
  const out: BlobInfo[] = [];
  for await (const info of iterable) out.push(info);
  return out;
}

async function put(store: BlobStore, key: string, ...chunks: Buffer[]): Promise<number> {
  const writer = store.createWriter(key);
  for (const chunk of chunks) await writer.write(chunk);
  return (await writer.complete()).size;
}

export const HOSTILE_KEYS: readonly string[] = [
  '',
  '/etc/passwd',
  '../outside',
  'a/../../outside',
  'a/..',
  '..',
  './a',
  'a/./b',
  'a//b',
  'a/',
  'a\\..\\b',
  'a\0b',
  '.tmp/x',
];

export function describeBlobStoreContract(name: string, makeStore: () => Promise<BlobStoreFixture>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let fixture: BlobStoreFixture;
    let store: BlobStore;

    beforeEach(async () => {
      fixture = await makeStore();
      store = fixture.store;
      await store.start();
    });

    afterEach(async () => {
      await store.close();
      await fixture.dispose();
    });

    it('streams chunks into an object and reads back any absolute range', async () => {
      const chunks = [randomBytes(1), randomBytes(70_000), Buffer.alloc(0), randomBytes(1 << 20), randomBytes(333)];
      const whole = Buffer.concat(chunks);
      expect(await put(store, 'tenant/traces/obj-1', ...chunks)).toBe(whole.length);
      expect(await store.stat('tenant/traces/obj-1')).toEqual({ key: 'tenant/traces/obj-1', size: whole.length });
      for (const [offset, length] of [
        [0, whole.length],
        [0, 1],
        [1, 70_000],
        [12_345, 600_000],
        [whole.length - 1, 1],
        [whole.length, 0],
        [500, 0],
      ] as const) {
        expect((await store.readRange('tenant/traces/obj-1', offset, length)).equals(whole.subarray(offset, offset + length))).toBe(true);
      }
    });

    it('keeps an object larger than an upload part intact', async () => {
      const hash = createHash('sha256');
      const writer = store.createWriter('big/object');
      let size = 0;
      for (let i = 0; i < 13; i++) {
        const chunk = randomBytes(i % 2 === 0 ? 1 << 20 : 777_777);
        hash.update(chunk);
        size += chunk.length;
        await writer.write(chunk);
      }
      expect((await writer.complete()).size).toBe(size);
      const readBack = createHash('sha256');
      for (let offset = 0; offset < size; offset += 3 << 20) {
        readBack.update(await store.readRange('big/object', offset, Math.min(3 << 20, size - offset)));
      }
      expect(readBack.digest('hex')).toBe(hash.digest('hex'));
    });

    it('shows nothing under the key before complete() resolves', async () => {
      const writer = store.createWriter('pending/object');
      await writer.write(randomBytes(4096));
      expect(await store.stat('pending/object')).toBeNull();
      expect(await collect(store.list(''))).toEqual([]);
      await expect(store.readRange('pending/object', 0, 1)).rejects.toBeInstanceOf(NotFoundError);
      await writer.complete();
      expect(await store.stat('pending/object')).toEqual({ key: 'pending/object', size: 4096 });
    });

    it('abort() drops everything written, is safe twice, and refuses later writes', async () => {
      const writer = store.createWriter('aborted/object');
      await writer.write(randomBytes(100_000));
      await writer.abort();
      await writer.abort();
      expect(await store.stat('aborted/object')).toBeNull();
      expect(await collect(store.list(''))).toEqual([]);
      await expect(writer.write(Buffer.from('x'))).rejects.toThrow();
      await expect(writer.complete()).rejects.toThrow();
      expect(await store.stat('aborted/object')).toBeNull();
    });

    it('stores an empty object', async () => {
      expect(await put(store, 'empty')).toBe(0);
      expect(await store.stat('empty')).toEqual({ key: 'empty', size: 0 });
      expect((await store.readRange('empty', 0, 0)).length).toBe(0);
      await expect(store.readRange('empty', 0, 1)).rejects.toBeInstanceOf(NotFoundError);
    });

    it('replaces an object written again under the same key', async () => {
      await put(store, 'same/key', Buffer.from('first version'));
      await put(store, 'same/key', Buffer.from('second'));
      expect((await store.readRange('same/key', 0, 6)).toString()).toBe('second');
      expect(await store.stat('same/key')).toEqual({ key: 'same/key', size: 6 });
    });

    it('throws NotFoundError for a missing key or a range past the end', async () => {
      await put(store, 'present', Buffer.alloc(10, 7));
      await expect(store.readRange('absent', 0, 1)).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.readRange('present', 0, 11)).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.readRange('present', 10, 1)).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.readRange('present', 11, 0)).rejects.toBeInstanceOf(NotFoundError);
      expect((await store.readRange('present', 9, 1))[0]).toBe(7);
      expect(await store.stat('absent')).toBeNull();
      expect(await store.stat('pres')).toBeNull();
    });

    it('lists keys by plain string prefix, in byte order, with sizes', async () => {
      const keys = ['a/b/1', 'a/b/2', 'a/c', 'a-b', 'ab', 'b/x/y/z'];
      for (const [i, key] of [...keys].reverse().entries()) await put(store, key, Buffer.alloc(i + 1));
      const keysOf = async (prefix: string) => (await collect(store.list(prefix))).map((info) => info.key);
      expect(await keysOf('')).toEqual(['a-b', 'a/b/1', 'a/b/2', 'a/c', 'ab', 'b/x/y/z']);
      expect(await keysOf('a/')).toEqual(['a/b/1', 'a/b/2', 'a/c']);
      expect(await keysOf('a')).toEqual(['a-b', 'a/b/1', 'a/b/2', 'a/c', 'ab']);
      expect(await keysOf('a/b')).toEqual(['a/b/1', 'a/b/2']);
      expect(await keysOf('b/x/')).toEqual(['b/x/y/z']);
      expect(await keysOf('zzz')).toEqual([]);
      expect(await collect(store.list('a/c'))).toEqual([{ key: 'a/c', size: 4 }]);
    });

    it('deletes idempotently without touching other keys', async () => {
      await put(store, 'd/one', Buffer.from('1'));
      await put(store, 'd/two', Buffer.from('22'));
      await store.delete('d/one');
      await store.delete('d/one');
      await store.delete('never/existed');
      expect(await store.stat('d/one')).toBeNull();
      expect(await collect(store.list(''))).toEqual([{ key: 'd/two', size: 2 }]);
      await store.delete('d/two');
      expect(await collect(store.list(''))).toEqual([]);
      await put(store, 'd/two', Buffer.from('again'));
      expect(await store.stat('d/two')).toEqual({ key: 'd/two', size: 5 });
    });

    it('rejects hostile keys with InvalidArgumentError everywhere', async () => {
      for (const key of HOSTILE_KEYS) {
        expect(() => store.createWriter(key)).toThrow(InvalidArgumentError);
        await expect(store.readRange(key, 0, 1)).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(store.stat(key)).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(store.delete(key)).rejects.toBeInstanceOf(InvalidArgumentError);
      }
      expect(await collect(store.list(''))).toEqual([]);
    });

    it('keeps concurrent writers to different keys apart', async () => {
      const payloads = Array.from({ length: 8 }, (_, i) => randomBytes(10_000 * (i + 1)));
      const writers = payloads.map((_, i) => store.createWriter(`concurrent/${i}`));
      for (let offset = 0; offset < 80_000; offset += 5_000) {
        await Promise.all(
          writers.map((writer, i) => writer.write(payloads[i]!.subarray(offset, Math.min(offset + 5_000, payloads[i]!.length)))),
        );
      }
      await Promise.all(writers.map((writer) => writer.complete()));
      for (const [i, payload] of payloads.entries()) {
        expect((await store.readRange(`concurrent/${i}`, 0, payload.length)).equals(payload)).toBe(true);
      }
    });

    it('starts again on a store that already has data, and describes itself', async () => {
      await put(store, 'kept', Buffer.from('kept'));
      await store.start();
      expect(await store.stat('kept')).toEqual({ key: 'kept', size: 4 });
      expect(store.describe()).toMatch(/\S/);
    });
  });
}
