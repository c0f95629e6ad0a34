import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';
import { BackendUnavailableError, InvalidArgumentError } from '../../src/errors.js';
import { HOSTILE_KEYS, describeBlobStoreContract } from './blob-store-contract.js';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'fs-blob-store-'));
}

/** Every file under `dir`, relative, sorted. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort();
}

describeBlobStoreContract('FsBlobStore', async () => {
  const dir = tempDir();
  const root = path.join(dir, 'data');
  return {
    store: new FsBlobStore(root),
    dispose: async () => fs.rmSync(dir, { recursive: true, force: true }),
    archiveTargets: [{ dir: path.join(dir, 'cold') }, { dir: path.join(dir, 'colder', 'nested') }],
    unsuitableTargets: [
      {},
      { dir: 'relative/dir' },
      { dir: root },
      { dir: path.join(root, 'inside') },
      { dir }, // contains the store
      { dir: '/' },
      { dir: path.join(dir, 'cold'), storageClass: 'GLACIER' },
      { bucket: 'other-bucket' },
      { prefix: 'cold/' },
      { dir: path.join(dir, 'back\\slash') },
    ],
    partialArchivePrefixes: ['_archive/fs/', '_archive/fs/tm'],
  };
});

describe('FsBlobStore on disk', () => {
  let dir: string;
  let root: string;
  let store: FsBlobStore;

  beforeEach(async () => {
    dir = tempDir();
    root = path.join(dir, 'data');
    store = new FsBlobStore(root);
    await store.start();
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('copies by hard link on one filesystem, into .tmp first; lists an archive dir without the store or unfinished copies', async () => {
    const writer = store.createWriter('acme/logs/a.otlpc');
    await writer.write(Buffer.from('abc'));
    await writer.complete();
    const archived = store.archiveKey('acme/logs/a.otlpc', { dir: path.join(dir, 'cold') });
    expect(archived).toBe(`_archive/fs${dir.split(path.sep).join('/')}/cold/acme/logs/a.otlpc`);
    await store.copy('acme/logs/a.otlpc', archived);
    const copyPath = path.join(dir, 'cold', 'acme', 'logs', 'a.otlpc');
    expect(fs.statSync(copyPath).ino).toBe(fs.statSync(path.join(root, 'acme/logs/a.otlpc')).ino);
    await store.copy('acme/logs/a.otlpc', 'acme/logs/b.otlpc');
    expect(filesUnder(root)).toEqual(['acme/logs/a.otlpc', 'acme/logs/b.otlpc']);
    // A crash mid-copy into the archive dir leaves a temp file there: never listed.
    fs.writeFileSync(path.join(dir, 'cold', 'acme', 'logs', `.${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}.part`), 'x');
    const location = archived.slice(0, -'acme/logs/a.otlpc'.length);
    const keys = async (prefix: string): Promise<string[]> => {
      const out: string[] = [];
      for await (const info of store.list(prefix)) out.push(info.key);
      return out;
    };
    expect(await keys(location)).toEqual([archived]);
    // A prefix naming a directory that holds the store lists the archive, never the store's own files again.
    const parent = location.slice(0, -'cold/'.length);
    expect(await keys(parent)).toEqual([archived]);
    await store.delete(archived);
    expect(fs.existsSync(copyPath)).toBe(false);
    expect(fs.readFileSync(path.join(root, 'acme/logs/a.otlpc'), 'utf8')).toBe('abc');
  });

  it('maps keys to files under the root and streams into .tmp until complete', async () => {
    const writer = store.createWriter('t1/traces/2024/01/02/03/x.otlpc');
    await writer.write(Buffer.from('hello '));
    const pending = filesUnder(root);
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatch(/^\.tmp\//);
    await writer.write(Buffer.from('world'));
    expect(await writer.complete()).toEqual({ size: 11 });
    expect(filesUnder(root)).toEqual(['t1/traces/2024/01/02/03/x.otlpc']);
    expect(fs.readFileSync(path.join(root, 't1/traces/2024/01/02/03/x.otlpc'), 'utf8')).toBe('hello world');
  });

  it('leaves nothing under any key when a writer is abandoned (crash) and sweeps old temp files at start', async () => {
    const abandoned = store.createWriter('crash/object');
    await abandoned.write(Buffer.alloc(50_000, 1));
    const fresh = store.createWriter('crash/fresh');
    await fresh.write(Buffer.alloc(10, 2));

    // A new process on the same directory: nothing is visible, and only temp files older than an hour go away.
    const restarted = new FsBlobStore(root);
    const temps = filesUnder(path.join(root, '.tmp'));
    expect(temps).toHaveLength(2);
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    const abandonedTemp = temps.find((name) => fs.statSync(path.join(root, '.tmp', name)).size === 50_000)!;
    fs.utimesSync(path.join(root, '.tmp', abandonedTemp), old, old);
    await restarted.start();
    expect(filesUnder(path.join(root, '.tmp'))).toHaveLength(1);
    expect(await restarted.stat('crash/object')).toBeNull();
    const listed: string[] = [];
    for await (const info of restarted.list('')) listed.push(info.key);
    expect(listed).toEqual([]);
    expect(filesUnder(root).filter((f) => !f.startsWith('.tmp/'))).toEqual([]);
  });

  it('abort removes the temp file', async () => {
    const writer = store.createWriter('a/b');
    await writer.write(Buffer.alloc(1000));
    await writer.abort();
    expect(filesUnder(root)).toEqual([]);
  });

  it('never creates files outside the root for hostile keys', async () => {
    const before = filesUnder(dir);
    for (const key of HOSTILE_KEYS) {
      expect(() => store.createWriter(key)).toThrow(InvalidArgumentError);
    }
    await expect(store.readRange('../../../../etc/passwd', 0, 1)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(filesUnder(dir)).toEqual(before);
  });

  it('reports a data directory it cannot create or write with a clear BackendUnavailableError', async () => {
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, 'not a directory');
    const broken = new FsBlobStore(path.join(file, 'data'));
    await expect(broken.start()).rejects.toThrow(BackendUnavailableError);
    await expect(broken.start()).rejects.toThrow(/data directory .*a-file\/data is not writable: (ENOTDIR|EEXIST)/);
  });

  it('prunes directories emptied by delete but keeps the root', async () => {
    for (const key of ['x/y/z/1', 'x/y/2']) {
      const writer = store.createWriter(key);
      await writer.write(Buffer.from(key));
      await writer.complete();
    }
    await store.delete('x/y/z/1');
    expect(fs.existsSync(path.join(root, 'x/y/z'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'x/y/2'))).toBe(true);
    await store.delete('x/y/2');
    expect(fs.existsSync(path.join(root, 'x'))).toBe(false);
    expect(fs.existsSync(root)).toBe(true);
  });

  it('writes and copies into a directory that concurrent deletes keep emptying and pruning (retention journal churn)', async () => {
    // Four workers each write, copy and delete keys of one deep directory, so the directory and its parents are
    // pruned and made again under each other's feet (this lost about 1 write in 30 before writes re-made it).
    const failures: string[] = [];
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; i < 150; i++) {
        const key = `_retention/journal/deep/${w}-${i}.json`;
        try {
          const writer = store.createWriter(key);
          await writer.write(Buffer.from(key));
          await writer.complete();
          if (i % 3 === 0) {
            await store.copy(key, `${key}.copy`);
            expect((await store.readRange(`${key}.copy`, 0, key.length)).toString()).toBe(key);
            await store.delete(`${key}.copy`);
          }
          expect((await store.readRange(key, 0, key.length)).toString()).toBe(key);
          await store.delete(key);
        } catch (error) {
          failures.push(`${key}: ${(error as Error).message}`);
        }
      }
    };
    await Promise.all([0, 1, 2, 3].map(worker));
    expect(failures).toEqual([]);
    expect(filesUnder(root).filter((f) => !f.startsWith('.tmp/'))).toEqual([]);
  }, 60_000);

  it('refuses a key that clashes with a key used as a prefix', async () => {
    const writer = store.createWriter('clash');
    await writer.write(Buffer.from('file'));
    await writer.complete();
    const nested = store.createWriter('clash/child');
    await nested.write(Buffer.from('x'));
    await expect(nested.complete()).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(filesUnder(root)).toEqual(['clash']);
  });
});
