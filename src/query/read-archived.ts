// One archived request's bytes for the read paths (get, find-trace, replay). When the read fails on a request that
// `verify --repair` quarantined (its block damaged, its object missing), the error also says what verify found and
// when; otherwise it is the read's own error, which names the request, the object and the block's offset.
import { readRequestBytes } from '../archiver/object-reader.js';
import type { ZlibPriority } from '../archiver/codec.js';
import { CorruptDataError, NotFoundError } from '../errors.js';
import type { IndexStore } from '../index/index-store.js';
import type { ArchivedRequest } from '../model.js';
import type { BlobStore } from '../storage/blob-store.js';

export async function readArchivedRequest(
  index: IndexStore,
  blobs: BlobStore,
  request: ArchivedRequest,
  priority?: ZlibPriority,
): Promise<Buffer> {
  try {
    return await readRequestBytes(blobs, request, priority);
  } catch (error) {
    if (!(error instanceof CorruptDataError || error instanceof NotFoundError)) throw error;
    const quarantined = (await index.quarantinedRequests([request.id]).catch(() => null))?.get(request.id);
    if (quarantined === undefined) throw error;
    const message = `${error.message} (quarantined by verify on ${new Date(quarantined.atMs).toISOString()}: ${quarantined.reason})`;
    throw error instanceof NotFoundError ? new NotFoundError(message, { cause: error }) : new CorruptDataError(message, { cause: error });
  }
}
