// The behaviour every BlobStore adapter must have, tested through the port only. An adapter's test file calls
// describeBlobStoreContract with a factory for a fresh, empty, not yet started store (its own bucket, prefix or dir).

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { ARCHIVE_KEY_PREFIX, type ArchiveTarget, type BlobInfo, type BlobStore } from '../../src/storage/blob-store.js';
import { ConfigError, InvalidArgumentError, NotFoundError } from '../../src/errors.js';

export interface BlobStoreFixture {
  /** Empty and not started: the contract calls start(). */
  store: BlobStore;
  /** Removes whatever the fixture created (called after store.close()). */
  dispose(): Promise<void>;
  /** Archive targets this adapter accepts (each a different location), for retention's archive action. */
  archiveTargets?: ArchiveTarget[];
  /** Targets this adapter must refuse with ConfigError. */
  unsuitableTargets?: ArchiveTarget[];
  /** List prefixes under ARCHIVE_KEY_PREFIX that do not name a location whole (InvalidArgumentError). */
  partialArchivePrefixes?: string[];
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
  'a/b\nc',
  'a\u0001b',
  'tab\tkey',
  'del\u007f',
  'lone\ud800surrogate',
];

/** Keys that look archived but would escape or are malformed. */
export const HOSTILE_ARCHIVE_KEYS: readonly string[] = [
  '_archive/fs/../etc/passwd',
  '_archive/fs/tmp/../../etc/passwd',
  '_archive/s3/../x',
  '_archive/s3/bucket/../../x',
  '_archive/fs//etc/passwd',
  '_archive/fs/tmp/a\0b',
  '_archive/fs/tmp\\..\\x',
  '_archive/s3/bucket/./x',
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


    describe('retention: copy and archive keys', () => {
      it('copy makes an identical object, leaves the source, replaces an earlier copy; a missing source is NotFoundError', async () => {
        const first = randomBytes(300_000);
        await put(store, 'src/obj.otlpc', first);
        expect(await store.copy('src/obj.otlpc', 'dst/copy.otlpc')).toMatchObject({ key: 'dst/copy.otlpc', size: first.length });
        expect((await store.readRange('dst/copy.otlpc', 0, first.length)).equals(first)).toBe(true);
        expect((await store.readRange('src/obj.otlpc', 0, first.length)).equals(first)).toBe(true);
        const second = randomBytes(1234);
        await put(store, 'src/obj.otlpc', second);
        expect((await store.copy('src/obj.otlpc', 'dst/copy.otlpc')).size).toBe(second.length);
        expect((await store.readRange('dst/copy.otlpc', 0, second.length)).equals(second)).toBe(true);
        await expect(store.readRange('dst/copy.otlpc', 0, second.length + 1)).rejects.toBeInstanceOf(NotFoundError);
        // The copy is independent of its source.
        await store.delete('src/obj.otlpc');
        expect((await store.readRange('dst/copy.otlpc', 0, second.length)).equals(second)).toBe(true);
        await expect(store.copy('src/obj.otlpc', 'dst/other.otlpc')).rejects.toBeInstanceOf(NotFoundError);
        await expect(store.copy('dst', 'dst/x')).rejects.toBeInstanceOf(NotFoundError); // a "directory" of keys
        expect(await store.stat('dst/other.otlpc')).toBeNull();
        expect((await collect(store.list(''))).map((info) => info.key)).toEqual(['dst/copy.otlpc']);
        // Copying onto itself keeps the object.
        await store.copy('dst/copy.otlpc', 'dst/copy.otlpc');
        expect((await store.readRange('dst/copy.otlpc', 0, second.length)).equals(second)).toBe(true);
      });

      it('copy and archiveKey refuse hostile keys with InvalidArgumentError', async () => {
        await put(store, 'ok', Buffer.from('x'));
        const target = fixture.archiveTargets?.[0] ?? {};
        for (const key of [...HOSTILE_KEYS, ...HOSTILE_ARCHIVE_KEYS]) {
          await expect(store.copy(key, 'ok2')).rejects.toBeInstanceOf(InvalidArgumentError);
          await expect(store.copy('ok', key)).rejects.toBeInstanceOf(InvalidArgumentError);
          expect(() => store.archiveKey(key, target)).toThrow(InvalidArgumentError);
          await expect(store.stat(key)).rejects.toBeInstanceOf(InvalidArgumentError);
          await expect(store.readRange(key, 0, 1)).rejects.toBeInstanceOf(InvalidArgumentError);
          await expect(store.delete(key)).rejects.toBeInstanceOf(InvalidArgumentError);
          expect(() => store.createWriter(key)).toThrow(InvalidArgumentError);
        }
        expect((await collect(store.list(''))).map((info) => info.key)).toEqual(['ok']);
      });

      it('archiveKey is deterministic, starts with ARCHIVE_KEY_PREFIX, and refuses targets that do not suit the adapter', async () => {
        const targets = fixture.archiveTargets ?? [];
        expect(targets.length).toBeGreaterThan(0);
        const keys = new Set<string>();
        for (const target of targets) {
          const key = store.archiveKey('acme/traces/2026/01/02/03/x.otlpc', target);
          expect(key.startsWith(ARCHIVE_KEY_PREFIX)).toBe(true);
          expect(key.endsWith('/acme/traces/2026/01/02/03/x.otlpc')).toBe(true);
          expect(store.archiveKey('acme/traces/2026/01/02/03/x.otlpc', { ...target })).toBe(key);
          expect(store.archiveKey('acme/traces/2026/01/02/03/y.otlpc', target)).not.toBe(key);
          keys.add(key);
          // An archived object is not archived again.
          expect(() => store.archiveKey(key, target)).toThrow(InvalidArgumentError);
        }
        expect(keys.size).toBe(targets.length);
        for (const target of fixture.unsuitableTargets ?? []) {
          expect(() => store.archiveKey('acme/traces/x.otlpc', target)).toThrow(ConfigError);
        }
      });

      it('archived objects are read by range, stat, listed under their location (never under the store), deleted', async () => {
        const payload = randomBytes(200_000);
        await put(store, 'acme/logs/a.otlpc', payload);
        await put(store, 'acme/logs/b.otlpc', Buffer.from('bee'));
        for (const target of fixture.archiveTargets ?? []) {
          const archived = store.archiveKey('acme/logs/a.otlpc', target);
          const other = store.archiveKey('acme/logs/b.otlpc', target);
          expect((await store.copy('acme/logs/a.otlpc', archived, target.storageClass === undefined ? {} : { storageClass: target.storageClass })).size).toBe(payload.length);
          await store.copy('acme/logs/b.otlpc', other);
          expect(await store.stat(archived)).toMatchObject({ key: archived, size: payload.length });
          for (const [offset, length] of [[0, payload.length], [12_345, 50_000], [payload.length - 1, 1], [payload.length, 0]] as const) {
            expect((await store.readRange(archived, offset, length)).equals(payload.subarray(offset, offset + length))).toBe(true);
          }
          await expect(store.readRange(archived, payload.length, 1)).rejects.toBeInstanceOf(NotFoundError);
          const location = archived.slice(0, archived.length - 'acme/logs/a.otlpc'.length);
          expect(await collect(store.list(location))).toEqual([
            { key: archived, size: payload.length },
            { key: other, size: 3 },
          ]);
          expect(await collect(store.list(`${location}acme/logs/b`))).toEqual([{ key: other, size: 3 }]);
          // The store's own listing (what reindex walks by default) never shows archived objects.
          expect((await collect(store.list(''))).map((info) => info.key)).toEqual(['acme/logs/a.otlpc', 'acme/logs/b.otlpc']);
          expect(await collect(store.list(ARCHIVE_KEY_PREFIX))).toEqual([]);
          // A writer can write under an archive key too (a re-compressed copy), and it is replaced whole.
          const writer = store.createWriter(other);
          await writer.write(Buffer.from('rewritten'));
          await writer.complete();
          expect((await store.readRange(other, 0, 9)).toString()).toBe('rewritten');
          await store.delete(archived);
          await store.delete(archived);
          await store.delete(other);
          expect(await store.stat(archived)).toBeNull();
          await expect(store.readRange(archived, 0, 1)).rejects.toBeInstanceOf(NotFoundError);
          expect(await collect(store.list(location))).toEqual([]);
          expect(await store.stat('acme/logs/a.otlpc')).toMatchObject({ size: payload.length });
        }
      });

      it('list refuses an archive prefix that does not name a location whole', async () => {
        for (const prefix of fixture.partialArchivePrefixes ?? []) {
          await expect(collect(store.list(prefix))).rejects.toBeInstanceOf(InvalidArgumentError);
        }
      });
    });

    it('starts again on a store that already has data, and describes itself', async () => {
      await put(store, 'kept', Buffer.from('kept'));
      await store.start();
      expect(await store.stat('kept')).toEqual({ key: 'kept', size: 4 });
      expect(store.describe()).toMatch(/\S/);
    });
  });
}
