// Rebuilds index rows from the archive objects alone: every object is self-describing (its manifest lists its
// requests and where each lives), so BlobStore.list + readObjectManifest + IndexStore.commitObject is all it takes.
// Works with any pair of adapters, and is idempotent because commitObject is: run it again and nothing changes.
// It adds what is missing; it does not remove rows of objects that no longer exist.

import { readObjectManifest } from '../archiver/object-reader.js';
import { OBJECT_KEY_SUFFIX } from '../archiver/object-key.js';
import { CorruptDataError, NotFoundError } from '../errors.js';
import type { BlobInfo, BlobStore } from '../storage/blob-store.js';
import type { IndexStore } from './index-store.js';

export interface ReindexProgress {
  objects: number;
  totalObjects: number;
  requests: number;
  /** Stored bytes of the objects done so far, and of all listed. */
  bytes: number;
  totalBytes: number;
  /** Objects that could not be read as archive objects (listed in the result). */
  skipped: number;
  elapsedMs: number;
}

export interface ReindexResult extends ReindexProgress {
  skippedObjects: { key: string; reason: string }[];
}

export interface ReindexOptions {
  /** Only objects whose key starts with this (e.g. `acme/traces/2026/`). */
  prefix?: string;
  /** Manifests read at once; commits stay in key order. Default 4. */
  readConcurrency?: number;
  onProgress?(progress: ReindexProgress): void;
}

type Manifest = Awaited<ReturnType<typeof readObjectManifest>>;
type Read = { ok: true; manifest: Manifest } | { ok: false; reason: string };

export async function reindex(blobs: BlobStore, index: IndexStore, options: ReindexOptions = {}): Promise<ReindexResult> {
  const started = Date.now();
  const objects: BlobInfo[] = [];
  for await (const info of blobs.list(options.prefix ?? '')) {
    if (info.key.endsWith(OBJECT_KEY_SUFFIX)) objects.push(info);
  }
  objects.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));

  const progress: ReindexProgress = {
    objects: 0,
    totalObjects: objects.length,
    requests: 0,
    bytes: 0,
    totalBytes: objects.reduce((sum, o) => sum + o.size, 0),
    skipped: 0,
    elapsedMs: 0,
  };
  const skippedObjects: ReindexResult['skippedObjects'] = [];
  const report = (): void => options.onProgress?.({ ...progress, elapsedMs: Date.now() - started });
  report();

  // Reads run ahead of the commits by up to readConcurrency objects; commits happen in key order.
  const window = Math.max(1, options.readConcurrency ?? 4);
  const reads: Promise<Read>[] = [];
  const startRead = (i: number): void => {
    const info = objects[i];
    if (info === undefined || reads[i] !== undefined) return;
    reads[i] = readObjectManifest(blobs, info.key).then(
      (manifest): Read => ({ ok: true, manifest }),
      (error: unknown): Read => {
        // A damaged or vanished object is reported and skipped; anything else (backend down) stops the run.
        if (error instanceof CorruptDataError || error instanceof NotFoundError) return { ok: false, reason: error.message };
        throw error;
      },
    );
    // Handled here so that reads started ahead of a failure never end as unhandled rejections; awaited below.
    reads[i].catch(() => undefined);
  };
  for (let i = 0; i < objects.length; i++) {
    for (let ahead = i; ahead < Math.min(objects.length, i + window); ahead++) startRead(ahead);
    const info = objects[i]!;
    const read = await reads[i]!;
    delete reads[i];
    if (read.ok) {
      await index.commitObject(read.manifest.object, read.manifest.requests);
      progress.requests += read.manifest.requests.length;
    } else {
      progress.skipped += 1;
      skippedObjects.push({ key: info.key, reason: read.reason });
    }
    progress.objects += 1;
    progress.bytes += info.size;
    report();
  }
  return { ...progress, elapsedMs: Date.now() - started, skippedObjects };
}
