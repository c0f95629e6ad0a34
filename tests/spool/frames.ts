// Segment and frame bytes for tests that lay out spool files by hand: format 2 as the spool writes it, and format 1
// built here from its documented layout (record-codec.ts), so that the reader is checked against the layout itself.
import { crc32 } from 'node:zlib';
import type { RequestMeta } from '../../src/model.js';
import { encodeMeta, encodeRecord, placeRecord } from '../../src/spool/record-codec.js';
import { encodeSegmentHeader, SEGMENT_HEADER_BYTES } from '../../src/spool/segment-format.js';

/** A format-2 frame as it would be written at `offset` of segment `seq`. */
export function frameAt(meta: RequestMeta, payload: Buffer, seq: number, offset: number): Buffer {
  const record = encodeRecord(meta, payload);
  placeRecord(record.head, seq, offset);
  return Buffer.concat([record.head, record.payload]);
}

/** A format-1 frame: magic 'OCS1', CRC-32 of bytes [8, end), header length, payload length, header, payload. */
export function frameV1(meta: RequestMeta, payload: Buffer): Buffer {
  const header = encodeMeta(meta);
  const frame = Buffer.alloc(16 + header.length + payload.length);
  frame.writeUInt32BE(0x4f435331, 0);
  frame.writeUInt32BE(header.length, 8);
  frame.writeUInt32BE(payload.length, 12);
  header.copy(frame, 16);
  payload.copy(frame, 16 + header.length);
  frame.writeUInt32BE(crc32(frame.subarray(8)), 4);
  return frame;
}

export interface LaidOut {
  bytes: Buffer;
  /** Offset and length of each record's frame. */
  frames: { offset: number; length: number }[];
}

/** A whole segment file: format 2 (header, then frames) or format 1 (frames only). */
export function segmentBytes(seq: number, records: { meta: RequestMeta; payload: Buffer }[], format: 1 | 2 = 2): LaidOut {
  const parts: Buffer[] = format === 2 ? [encodeSegmentHeader()] : [];
  let offset = format === 2 ? SEGMENT_HEADER_BYTES : 0;
  const frames: LaidOut['frames'] = [];
  for (const { meta, payload } of records) {
    const frame = format === 2 ? frameAt(meta, payload, seq, offset) : frameV1(meta, payload);
    parts.push(frame);
    frames.push({ offset, length: frame.length });
    offset += frame.length;
  }
  return { bytes: Buffer.concat(parts), frames };
}
