// Reads archived requests ahead of the sender, in order: up to `maxRequests` range reads in flight or waiting, and
// no more than `maxBytes` of them (at least one), so a slow or paced target never makes the archive wait, and large
// requests cannot pile up in memory.
import type { IndexStore } from '../index/index-store.js';
import type { ArchivedRequest } from '../model.js';
import { readArchivedRequest } from '../query/read-archived.js';
import type { BlobStore } from '../storage/blob-store.js';

export interface ReadItem {
  request: ArchivedRequest;
  /** The raw request bytes; rejects with the read's error (CorruptDataError, NotFoundError, …). */
  bytes: Promise<Buffer>;
}

export async function* readAhead(
  source: { index: IndexStore; blobs: BlobStore },
  requests: AsyncIterable<ArchivedRequest>,
  maxRequests: number,
  maxBytes: number,
): AsyncGenerator<ReadItem> {
  const window: ReadItem[] = [];
  let windowBytes = 0;
  const iterator = requests[Symbol.asyncIterator]();
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && window.length < maxRequests && (window.length === 0 || windowBytes < maxBytes)) {
        const next = await iterator.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        const request = next.value;
        const bytes = readArchivedRequest(source.index, source.blobs, request);
        // The consumer awaits it later; until then, a failure must not count as unhandled.
        bytes.catch(() => undefined);
        window.push({ request, bytes });
        windowBytes += request.rawBytes;
      }
      const item = window.shift();
      if (item === undefined) return;
      windowBytes -= item.request.rawBytes;
      yield item;
    }
  } finally {
    await iterator.return?.();
  }
}
