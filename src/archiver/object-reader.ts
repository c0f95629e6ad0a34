// Reading archive objects back: one request by its range alone, or the whole manifest from the object alone.
// Only absolute ranges are read (size first, then offsets): suffix ranges are served wrongly by some S3 servers.

import zlib from 'node:zlib';
import type { ArchivedRequest, ObjectMeta } from '../model.js';
import type { BlobStore } from '../storage/blob-store.js';
import { CorruptDataError, NotFoundError } from '../errors.js';
import { decompress, type ZlibPriority } from './codec.js';
import {
  BLOCK_HEADER_SIZE,
  OBJECT_HEADER_SIZE,
  TRAILER_SIZE,
  checkObjectHeader,
  decodeManifest,
  decodeTrailer,
} from './object-format.js';

/**
 * The raw bytes of one archived request: one range read of its block payload, checked by length and CRC-32. A
 * failure names the request, the object and the block's place in it.
 */
export async function readRequestBytes(store: BlobStore, request: ArchivedRequest, priority: ZlibPriority = 'normal'): Promise<Buffer> {
  const where = `request ${request.id}: block at offset ${request.offset} (${request.length} bytes) of ${request.objectKey}`;
  let stored: Buffer;
  try {
    stored = await store.readRange(request.objectKey, request.offset, request.length);
  } catch (error) {
    if (error instanceof NotFoundError) throw new NotFoundError(`${where}: ${error.message}`, { cause: error });
    if (error instanceof CorruptDataError) throw new CorruptDataError(`${where}: ${error.message}`, { cause: error });
    throw error;
  }
  let raw: Buffer;
  try {
    raw = await decompress(request.codec, stored, request.rawBytes, priority);
  } catch (error) {
    if (!(error instanceof CorruptDataError)) throw error;
    throw new CorruptDataError(`${where}: ${error.message}`, { cause: error });
  }
  if (zlib.crc32(raw) !== request.crc32) {
    throw new CorruptDataError(`${where} fails its CRC-32 check`);
  }
  return raw;
}

/** Everything an object says about itself: ObjectMeta and every request's meta and location. */
export async function readObjectManifest(
  store: BlobStore,
  key: string,
): Promise<{ object: ObjectMeta; requests: ArchivedRequest[] }> {
  const info = await store.stat(key);
  if (info === null) throw new NotFoundError(`archive object ${key} does not exist in ${store.describe()}`);
  const size = info.size;
  if (size < OBJECT_HEADER_SIZE + BLOCK_HEADER_SIZE + TRAILER_SIZE) {
    throw new CorruptDataError(
      `${key} is ${size} bytes, too small to be a complete archive object: it is truncated or not an archive object`,
    );
  }
  checkObjectHeader(await store.readRange(key, 0, OBJECT_HEADER_SIZE), key);
  const trailer = decodeTrailer(await store.readRange(key, size - TRAILER_SIZE, TRAILER_SIZE), key, size);
  const manifest = await store.readRange(key, trailer.manifestOffset, trailer.manifestStoredLength);
  return decodeManifest(manifest, trailer, key, size);
}
