// Reindex after retention ran: an archived object (moved under ARCHIVE_KEY_PREFIX to another directory) is rebuilt
// at its current key, a deleted one is not resurrected, and reindexing the retained index changes nothing.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readObjectManifest, readRequestBytes } from '../../src/archiver/object-reader.js';
import { reindex } from '../../src/index/reindex.js';
import { SqliteIndexStore } from '../../src/index/sqlite-index-store.js';
import type { IndexStore } from '../../src/index/index-store.js';
import type { ObjectMeta, Signal } from '../../src/model.js';
import { ARCHIVE_KEY_PREFIX } from '../../src/storage/blob-store.js';
import { buildArchive, type BuiltArchive } from '../helpers/archive-builder.js';
import { payloadFor } from '../helpers/otlp-payloads.js';

const SIGNALS: Signal[] = ['traces', 'logs', 'metrics'];

/** Everything an index answers about its objects and requests, for comparing two indexes. */
async function snapshot(index: IndexStore): Promise<unknown> {
  const objects = await index.listObjects({ limit: 10_000 });
  const requests = await index.listRequests({ limit: 10_000 });
  return { objects, requests };
}

describe('reindex after retention', () => {
  let dir: string;
  let built: BuiltArchive;
  const opened: IndexStore[] = [];

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reindex-retention-'));
    // 12 requests, 3 per object, of one tenant and three signals: 6 objects.
    const entries = Array.from({ length: 12 }, (_, i) => ({ signal: SIGNALS[Math.floor(i / 3) % 3]!, bytes: payloadFor(SIGNALS[Math.floor(i / 3) % 3]!, i + 1).proto, tenant: 'acme' }));
    built = await buildArchive(dir, entries, 3);
  });

  afterEach(async () => {
    for (const index of opened.splice(0)) await index.close();
    await built.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function freshIndex(name: string): Promise<SqliteIndexStore> {
    const index = new SqliteIndexStore(path.join(dir, name));
    opened.push(index);
    await index.start();
    return index;
  }

  it('rebuilds archived objects at their archive keys and leaves deleted ones out', async () => {
    const { blobs, index } = built;
    const objects = await index.listObjects({});
    expect(objects).toHaveLength(4);
    const [archivedObject, deletedObject, compressedObject] = objects as [ObjectMeta, ObjectMeta, ObjectMeta, ObjectMeta];
    const archiveDir = path.join(dir, 'cold');

    // Retention's archive action: copy, read the copy's manifest (it names the copy's key), switch the index, delete.
    const archivedKey = blobs.archiveKey(archivedObject.key, { dir: archiveDir });
    expect(archivedKey.startsWith(ARCHIVE_KEY_PREFIX)).toBe(true);
    await blobs.copy(archivedObject.key, archivedKey);
    const manifest = await readObjectManifest(blobs, archivedKey);
    expect(manifest.object).toEqual({ ...archivedObject, key: archivedKey });
    expect(manifest.requests.every((r) => r.objectKey === archivedKey)).toBe(true);
    await index.replaceObject(archivedObject.key, manifest.object, manifest.requests);
    await blobs.delete(archivedObject.key);
    // Delete action: index first, then the blob.
    const deletedIds = (await index.listRequests({ limit: 10_000 })).filter((r) => r.objectKey === deletedObject.key).map((r) => r.id);
    expect(deletedIds).toHaveLength(3);
    await index.deleteObject(deletedObject.key, deletedIds);
    await blobs.delete(deletedObject.key);
    // An object copied to another key in the store itself (as a compress action writes its output): switched too.
    const rewrittenKey = compressedObject.key.replace(/\.otlpc$/, '-z.otlpc');
    await blobs.copy(compressedObject.key, rewrittenKey);
    const rewritten = await readObjectManifest(blobs, rewrittenKey);
    await index.replaceObject(compressedObject.key, rewritten.object, rewritten.requests);
    await blobs.delete(compressedObject.key);

    const retained = await snapshot(index);
    const requests = await index.listRequests({ limit: 10_000 });
    expect(requests).toHaveLength(9);
    expect(requests.filter((r) => r.objectKey === archivedKey)).toHaveLength(3);
    // The archived requests still read back, at their new location.
    for (const r of requests) expect((await readRequestBytes(blobs, r)).length).toBe(r.rawBytes);

    // A fresh index from the store alone, then from the archive location: exactly what retention left.
    const fresh = await freshIndex('fresh.sqlite');
    const own = await reindex(blobs, fresh);
    expect(own).toMatchObject({ objects: 2, requests: 6, skipped: 0 });
    const location = archivedKey.slice(0, archivedKey.length - archivedObject.key.length);
    const cold = await reindex(blobs, fresh, { prefix: location });
    expect(cold).toMatchObject({ objects: 1, requests: 3, skipped: 0 });
    expect(await snapshot(fresh)).toEqual(retained);
    for (const id of deletedIds) expect(await fresh.getRequest(id)).toBeNull();
    // Reindexing the retained index (the store and the archive) resurrects nothing and moves nothing back.
    await reindex(blobs, index);
    await reindex(blobs, index, { prefix: location });
    expect(await snapshot(index)).toEqual(retained);
    expect(await index.getObject(archivedObject.key)).toBeNull();
    expect(await index.getObject(deletedObject.key)).toBeNull();
  });

  it('a reindex that read an object just before retention moved it does not bring the old key back', async () => {
    const { blobs, index } = built;
    const [object] = (await index.listObjects({})) as [ObjectMeta];
    const stale = await readObjectManifest(blobs, object.key); // what a concurrent reindex read
    const archivedKey = blobs.archiveKey(object.key, { dir: path.join(dir, 'cold') });
    await blobs.copy(object.key, archivedKey);
    const moved = await readObjectManifest(blobs, archivedKey);
    await index.replaceObject(object.key, moved.object, moved.requests);
    await blobs.delete(object.key);
    const before = await snapshot(index);
    await index.commitObject(stale.object, stale.requests); // the reindex's late commit
    expect(await snapshot(index)).toEqual(before);
    expect(await index.getObject(object.key)).toBeNull();
    for (const r of moved.requests) expect((await index.getRequest(r.id))?.objectKey).toBe(archivedKey);
  });
});
