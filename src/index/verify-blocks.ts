// Checks the blocks of one archive object against where the index says its requests are: block header (magic,
// codec, lengths, CRC as recorded), then the payload decompressed and its CRC-32. The object is read in windows of
// consecutive blocks (one range read each), not one read per block: a scrub of 200,000 small requests is then a few
// dozen reads of an object, not 200,000.
import zlib from 'node:zlib';
import { decompress } from '../archiver/codec.js';
import { BLOCK_HEADER_SIZE, OBJECT_HEADER_SIZE, decodeBlockHeader } from '../archiver/object-format.js';
import { CorruptDataError } from '../errors.js';
import type { ArchivedRequest } from '../model.js';
import type { BlobStore } from '../storage/blob-store.js';

/** What the index (or the manifest) says about one request's block. */
export type BlockLocation = Pick<ArchivedRequest, 'id' | 'offset' | 'length' | 'rawBytes' | 'crc32' | 'codec'>;

export interface DamagedBlock {
  requestId: string;
  offset: number;
  length: number;
  reason: string;
}

const WINDOW_BYTES = 8 * 1024 * 1024;

/** The blocks among `locations` that are damaged or not where they are said to be, in offset order. */
export async function checkBlocks(
  blobs: BlobStore,
  key: string,
  objectSize: number,
  locations: readonly BlockLocation[],
): Promise<DamagedBlock[]> {
  const damaged: DamagedBlock[] = [];
  const inside: BlockLocation[] = [];
  for (const at of locations) {
    if (at.offset < OBJECT_HEADER_SIZE + BLOCK_HEADER_SIZE || at.offset + at.length > objectSize) {
      damaged.push(problem(at, `lies outside the object (${objectSize} bytes)`));
    } else {
      inside.push(at);
    }
  }
  inside.sort((a, b) => a.offset - b.offset);
  for (let i = 0; i < inside.length; ) {
    const start = inside[i]!.offset - BLOCK_HEADER_SIZE;
    let end = inside[i]!.offset + inside[i]!.length;
    let j = i + 1;
    while (j < inside.length && inside[j]!.offset + inside[j]!.length - start <= WINDOW_BYTES) {
      end = Math.max(end, inside[j]!.offset + inside[j]!.length);
      j += 1;
    }
    const window = await blobs.readRange(key, start, end - start);
    for (const at of inside.slice(i, j)) {
      const reason = await checkBlock(window, at.offset - start, at);
      if (reason !== null) damaged.push(problem(at, reason));
    }
    i = j;
  }
  return damaged.sort((a, b) => a.offset - b.offset);
}

/** Why the block at `at` (its payload at `payloadAt` in `window`) is not what it should be; null when it is. */
async function checkBlock(window: Buffer, payloadAt: number, at: BlockLocation): Promise<string | null> {
  let header;
  try {
    header = decodeBlockHeader(window.subarray(payloadAt - BLOCK_HEADER_SIZE, payloadAt));
  } catch (error) {
    return `block header: ${(error as Error).message}`;
  }
  const disagreements = [
    header.codec !== at.codec ? `codec ${header.codec}, the index says ${at.codec}` : null,
    header.storedLength !== at.length ? `stored length ${header.storedLength}, the index says ${at.length}` : null,
    header.rawLength !== at.rawBytes ? `raw length ${header.rawLength}, the index says ${at.rawBytes}` : null,
    header.crc32 !== at.crc32 >>> 0 ? `CRC-32 ${hex(header.crc32)}, the index says ${hex(at.crc32)}` : null,
  ].filter((d): d is string => d !== null);
  if (disagreements.length > 0) return `block header disagrees with the index: ${disagreements.join('; ')}`;
  let raw: Buffer;
  try {
    raw = await decompress(at.codec, window.subarray(payloadAt, payloadAt + at.length), at.rawBytes, 'background');
  } catch (error) {
    if (error instanceof CorruptDataError) return error.message;
    throw error;
  }
  return zlib.crc32(raw) === at.crc32 >>> 0 ? null : 'fails its CRC-32 check';
}

function problem(at: BlockLocation, reason: string): DamagedBlock {
  return { requestId: at.id, offset: at.offset, length: at.length, reason };
}

function hex(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, '0')}`;
}
