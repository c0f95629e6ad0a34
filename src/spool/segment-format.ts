// The first bytes of a segment file say which record format follows. Format 2 segments (written by this build)
// start with a 16-byte segment header; format 1 segments (written before) have none and start with a record.
//
//   offset 0  u32  magic 'OCSG'
//          4  u16  record format version (2)
//          6  u16  reserved (0)
//          8  u32  reserved (0)
//         12  u32  CRC-32 of bytes [0, 12)
import { crc32 } from 'node:zlib';
import { RECORD_MAGIC_V1 } from './record-codec.js';

export const SEGMENT_MAGIC = 0x4f435347;
export const SEGMENT_HEADER_BYTES = 16;
export const SEGMENT_FORMAT = 2;

export type SegmentFormat = 1 | 2;

export function encodeSegmentHeader(): Buffer {
  const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
  header.writeUInt32BE(SEGMENT_MAGIC, 0);
  header.writeUInt16BE(SEGMENT_FORMAT, 4);
  header.writeUInt32BE(crc32(header.subarray(0, 12)), 12);
  return header;
}

export type SegmentStart =
  /** A good format-2 header: records from SEGMENT_HEADER_BYTES on. */
  | { format: 2; recordsFrom: number }
  /** No header, a format-1 record first: records from 0. */
  | { format: 1; recordsFrom: 0 }
  /** Empty, or shorter than a header: nothing in it was ever acknowledged. */
  | { format: 'empty' }
  /**
   * Neither: a damaged header (or a format-1 segment whose first record is damaged). Read as format 2 by scanning
   * for intact records from offset 0, so that a damaged header costs no record.
   */
  | { format: 'damaged'; reason: string }
  /** An intact header of a format this build does not know (a newer build wrote it): never guess at its bytes. */
  | { format: 'unsupported'; version: number };

/** What the first bytes of a segment of `fileBytes` bytes say about it. */
export function readSegmentStart(first: Buffer, fileBytes: number): SegmentStart {
  if (fileBytes === 0) return { format: 'empty' };
  if (first.length >= 4 && first.readUInt32BE(0) === RECORD_MAGIC_V1) return { format: 1, recordsFrom: 0 };
  if (fileBytes < SEGMENT_HEADER_BYTES) return { format: 'empty' };
  if (first.readUInt32BE(0) !== SEGMENT_MAGIC) return { format: 'damaged', reason: 'bad segment header magic' };
  if (crc32(first.subarray(0, 12)) !== first.readUInt32BE(12)) return { format: 'damaged', reason: 'segment header fails its CRC' };
  const version = first.readUInt16BE(4);
  if (version !== SEGMENT_FORMAT) return { format: 'unsupported', version };
  return { format: 2, recordsFrom: SEGMENT_HEADER_BYTES };
}
