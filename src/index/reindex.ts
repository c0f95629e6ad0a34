// Rebuilds index rows from the archive objects alone: every object is self-describing (its manifest lists its
// requests and where each lives), so BlobStore.list + readObjectManifest + IndexStore.commitObject is all it takes.
// Works with any pair of adapters, and is idempotent because commitObject is: run it again and nothing changes.
// It adds what is missing; it does not remove rows of objects that no longer exist.
//
// Trace rows come from the manifest too (each trace request's span trace ids, manifest version 2). For a trace
// request whose manifest entry lacks them (an object written before version 2), its block is read and its trace ids
// computed with spanTraceIds, as the archiver does: slower (every such block is read), but find-trace then finds
// those requests again. A block that cannot be read or walked leaves that one request without trace rows; it is
// reported, and the object's other rows are still indexed.

import { readObjectManifest, readRequestBytes } from '../archiver/object-reader.js';
import { OBJECT_KEY_SUFFIX } from '../archiver/object-key.js';
import { CorruptDataError, MalformedPayloadError, NotFoundError } from '../errors.js';
import type { ArchivedRequest } from '../model.js';
import { spanTraceIds } from '../otlp/trace-filter.js';
import type { BlobInfo, BlobStore } from '../storage/blob-store.js';
import { pushAll } from '../util/arrays.js';
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
  /** Trace requests whose trace ids were read from their blocks (their manifest did not list them). */
  traceIdsFromBlocks: number;
  elapsedMs: number;
}

export interface ReindexResult extends ReindexProgress {
  skippedObjects: { key: string; reason: string }[];
  /** Trace requests indexed without trace rows: their manifest had no trace ids and their block could not be read. */
  untracedRequests: { key: string; id: string; reason: string }[];
}

export interface ReindexOptions {
  /** Only objects whose key starts with this (e.g. `acme/traces/2026/`). */
  prefix?: string;
  /** Manifests read at once; commits stay in key order. Default 4. Also: blocks read at once per such object. */
  readConcurrency?: number;
  onProgress?(progress: ReindexProgress): void;
}

type Manifest = Awaited<ReturnType<typeof readObjectManifest>>;
type Untraced = ReindexResult['untracedRequests'][number];
type Read = { ok: true; manifest: Manifest; fromBlocks: number; untraced: Untraced[] } | { ok: false; reason: string };

/** A damaged or vanished object or block: reported and skipped. Anything else (backend down) stops the run. */
function isUnreadable(error: unknown): error is CorruptDataError | NotFoundError | MalformedPayloadError {
  return error instanceof CorruptDataError || error instanceof NotFoundError || error instanceof MalformedPayloadError;
}

/**
 * The manifest's requests, each trace request with its trace ids: from the manifest, or else read from its block.
 * Blocks are read `concurrency` at a time. Also what `verify --repair` indexes an object with.
 */
export async function withTraceIds(blobs: BlobStore, manifest: Manifest, concurrency: number): Promise<Read> {
  const missing = manifest.requests.flatMap((r, i) => (r.signal === 'traces' && r.traceIds === undefined ? [i] : []));
  if (missing.length === 0) return { ok: true, manifest, fromBlocks: 0, untraced: [] };
  const requests: ArchivedRequest[] = [...manifest.requests];
  const untraced: Untraced[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let at = next++; at < missing.length; at = next++) {
      const request = requests[missing[at]!]!;
      try {
        requests[missing[at]!] = { ...request, traceIds: spanTraceIds(await readRequestBytes(blobs, request)) };
      } catch (error) {
        if (!isUnreadable(error)) throw error;
        untraced.push({ key: request.objectKey, id: request.id, reason: error.message });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, missing.length) }, worker));
  untraced.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { ok: true, manifest: { ...manifest, requests }, fromBlocks: missing.length - untraced.length, untraced };
}

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
    traceIdsFromBlocks: 0,
    elapsedMs: 0,
  };
  const skippedObjects: ReindexResult['skippedObjects'] = [];
  const untracedRequests: ReindexResult['untracedRequests'] = [];
  const report = (): void => options.onProgress?.({ ...progress, elapsedMs: Date.now() - started });
  report();

  // Reads run ahead of the commits by up to readConcurrency objects; commits happen in key order.
  const window = Math.max(1, options.readConcurrency ?? 4);
  const reads: Promise<Read>[] = [];
  const startRead = (i: number): void => {
    const info = objects[i];
    if (info === undefined || reads[i] !== undefined) return;
    reads[i] = readObjectManifest(blobs, info.key).then(
      (manifest): Promise<Read> => withTraceIds(blobs, manifest, window),
      (error: unknown): Read => {
        if (isUnreadable(error)) return { ok: false, reason: error.message };
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
      progress.traceIdsFromBlocks += read.fromBlocks;
      pushAll(untracedRequests, read.untraced);
    } else {
      progress.skipped += 1;
      skippedObjects.push({ key: info.key, reason: read.reason });
    }
    progress.objects += 1;
    progress.bytes += info.size;
    report();
  }
  return { ...progress, elapsedMs: Date.now() - started, skippedObjects, untracedRequests };
}
