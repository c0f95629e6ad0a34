// The on-disk frame of one spooled request. A torn or damaged frame must be recognisable from its own bytes, and a
// reader must be able to find the next intact frame after a damaged one (resynchronise) without trusting any length
// it has not checked. Format 2 (what this build writes, in segments with a segment header: segment-format.ts):
//
//   offset 0  u32  magic 'OCS2' (the sync marker a resynchronising reader searches for)
//          4  u32  header CRC-32 of: u64 segment seq ‖ u64 offset of this frame in the segment ‖ bytes [8, 20 + h)
//          8  u32  header length h (meta as UTF-8 JSON, bigints as decimal strings)
//         12  u32  payload length
//         16  u32  payload CRC-32
//         20       header, then payload
//
// The header CRC covers both lengths and the payload CRC, so a frame found by scanning is validated (and its extent
// known) before its payload is read; a damaged payload then costs exactly that frame. The frame's place (segment and
// offset) is part of the header CRC but not written out: a frame-shaped byte string inside some payload, or a frame
// that is not where it was written, never validates. The payload CRC is also the archive block's CRC (one pass).
//
// Format 1 (segments without a segment header, written before): magic 'OCS1', u32 CRC-32 of bytes [8, end),
// u32 header length, u32 payload length, header, payload. Read only.
import { crc32 } from 'node:zlib';
import { CorruptDataError, PayloadTooLargeError } from '../errors.js';
import type { IngestNotes, RequestMeta } from '../model.js';
import { isSignal } from '../model.js';
import { crc32Combine } from './crc32-combine.js';
import { FINGERPRINT_PATTERN } from '../util/fingerprint.js';

export const RECORD_MAGIC = 0x4f435332;
export const PREFIX_BYTES = 20;
export const RECORD_MAGIC_V1 = 0x4f435331;
export const V1_PREFIX_BYTES = 16;
/** Meta is a few hundred bytes; a larger header length can only come from garbage. */
export const MAX_HEADER_BYTES = 1024 * 1024;
/** The payload length field is a u32. */
export const MAX_PAYLOAD_BYTES = 0xffffffff;


export interface EncodedRecord {
  /** Prefix and header; the payload is written from the caller's buffer, never copied. */
  head: Buffer;
  payload: Buffer;
  /** CRC-32 of the payload alone: written in the frame and used as the archive block's CRC. */
  payloadCrc: number;
  length: number;
  /** Handed to the archiver with the payload; never written to disk. */
  notes?: IngestNotes;
}

/** A frame's prefix, format 1 or 2. `crc` is the header CRC (format 2) or the whole frame's CRC (format 1). */
export interface RecordPrefix {
  crc: number;
  headerLength: number;
  payloadLength: number;
  /** Format 2 only: the payload's CRC-32. */
  payloadCrc?: number;
  /** Bytes before the header. */
  prefixLength: number;
  /** Whole frame: prefix + header + payload. */
  length: number;
}

/**
 * Frames a request (format 2). The header CRC depends on where the frame lands: `placeRecord` sets it once the
 * segment and offset are known. The payload is read once, for its CRC.
 */
export function encodeRecord(meta: RequestMeta, payload: Buffer): EncodedRecord {
  if (payload.length > MAX_PAYLOAD_BYTES) {
    throw new RangeError(`payload of ${payload.length} bytes is larger than a spool record can hold`);
  }
  const header = encodeMeta(meta);
  // A reader takes a longer header for garbage (and quarantines the record): never write one, let alone ack it.
  if (header.length > MAX_HEADER_BYTES) {
    throw new PayloadTooLargeError(
      `the request's description for the spool (${meta.services.length} distinct service.name values, ` +
        `${header.length} bytes) is larger than a spool record's header holds (${MAX_HEADER_BYTES} bytes)`,
    );
  }
  const head = Buffer.allocUnsafe(PREFIX_BYTES + header.length);
  const payloadCrc = crcOfPayload(payload);
  head.writeUInt32BE(RECORD_MAGIC, 0);
  head.writeUInt32BE(0, 4);
  head.writeUInt32BE(header.length, 8);
  head.writeUInt32BE(payload.length, 12);
  head.writeUInt32BE(payloadCrc, 16);
  header.copy(head, PREFIX_BYTES);
  return { head, payload, payloadCrc, length: head.length + payload.length };
}

/** Writes the header CRC of a format-2 frame head that goes to `offset` in segment `segment`. */
export function placeRecord(head: Buffer, segment: number, offset: number): void {
  head.writeUInt32BE(headerCrc(head, segment, offset), 4);
}

/** The header CRC of a format-2 frame: its place, then bytes [8, end of header). `prefixAndHeader` is exactly that. */
export function headerCrc(prefixAndHeader: Buffer, segment: number, offset: number): number {
  const place = Buffer.allocUnsafe(16);
  place.writeBigUInt64BE(BigInt(segment), 0);
  place.writeBigUInt64BE(BigInt(offset), 8);
  return crc32(prefixAndHeader.subarray(8), crc32(place));
}

/** CRC-32 of a payload on its own. */
export function crcOfPayload(payload: Buffer): number {
  return continueCrc(payload, 0);
}

/**
 * Reads a format-2 prefix. Null when the bytes cannot start a frame (bad magic, absurd header length); a prefix
 * that decodes is still unchecked until its header CRC is.
 */
export function decodePrefix(prefix: Buffer): RecordPrefix | null {
  if (prefix.length < PREFIX_BYTES || prefix.readUInt32BE(0) !== RECORD_MAGIC) return null;
  const headerLength = prefix.readUInt32BE(8);
  const payloadLength = prefix.readUInt32BE(12);
  if (headerLength === 0 || headerLength > MAX_HEADER_BYTES) return null;
  return {
    crc: prefix.readUInt32BE(4),
    headerLength,
    payloadLength,
    payloadCrc: prefix.readUInt32BE(16),
    prefixLength: PREFIX_BYTES,
    length: PREFIX_BYTES + headerLength + payloadLength,
  };
}

/** Reads a format-1 prefix (segments written before format 2); null when it cannot start a frame. */
export function decodePrefixV1(prefix: Buffer): RecordPrefix | null {
  if (prefix.length < V1_PREFIX_BYTES || prefix.readUInt32BE(0) !== RECORD_MAGIC_V1) return null;
  const headerLength = prefix.readUInt32BE(8);
  const payloadLength = prefix.readUInt32BE(12);
  if (headerLength === 0 || headerLength > MAX_HEADER_BYTES) return null;
  return {
    crc: prefix.readUInt32BE(4),
    headerLength,
    payloadLength,
    prefixLength: V1_PREFIX_BYTES,
    length: V1_PREFIX_BYTES + headerLength + payloadLength,
  };
}

/** Format 1: the frame's CRC (lengths, header, payload) from the CRCs of its parts; the payload is not read again. */
export function frameCrcV1(prefixAndHeader: Buffer, payloadCrc: number, payloadLength: number): number {
  return crc32Combine(crc32(prefixAndHeader.subarray(8)), payloadCrc, payloadLength);
}

export function continueCrc(data: Buffer, crc: number): number {
  // Node 20's zlib.crc32 returns 0, not `crc`, for an empty buffer backed by a zero-length ArrayBuffer
  // (e.g. randomBytes(0)): an empty payload must leave the CRC as it is.
  return data.length === 0 ? crc : crc32(data, crc);
}

/** bigints become decimal strings: JSON has no integer type wide enough for nanosecond timestamps. */
export function encodeMeta(meta: RequestMeta): Buffer {
  return Buffer.from(
    JSON.stringify({
      id: meta.id,
      tenant: meta.tenant,
      signal: meta.signal,
      receivedAtMs: meta.receivedAtMs,
      items: meta.items,
      services: meta.services,
      startNs: meta.startNs.toString(),
      endNs: meta.endNs.toString(),
      rawBytes: meta.rawBytes,
      ...(meta.fingerprint === undefined ? {} : { fingerprint: meta.fingerprint }),
    }),
    'utf8',
  );
}

export function decodeMeta(header: Buffer): RequestMeta {
  let raw: unknown;
  try {
    raw = JSON.parse(header.toString('utf8'));
  } catch (err) {
    throw new CorruptDataError('spool record header is not valid JSON', { cause: err });
  }
  const r = raw as Record<string, unknown>;
  if (
    typeof raw !== 'object' || raw === null ||
    typeof r.id !== 'string' || typeof r.tenant !== 'string' ||
    typeof r.signal !== 'string' || !isSignal(r.signal) ||
    typeof r.receivedAtMs !== 'number' || typeof r.items !== 'number' || typeof r.rawBytes !== 'number' ||
    !Array.isArray(r.services) || !r.services.every((s) => typeof s === 'string') ||
    !isDecimal(r.startNs) || !isDecimal(r.endNs) ||
    (r.fingerprint !== undefined && (typeof r.fingerprint !== 'string' || !FINGERPRINT_PATTERN.test(r.fingerprint)))
  ) {
    throw new CorruptDataError('spool record header does not describe a request');
  }
  return {
    id: r.id,
    tenant: r.tenant,
    signal: r.signal,
    receivedAtMs: r.receivedAtMs,
    items: r.items,
    services: r.services as string[],
    startNs: BigInt(r.startNs),
    endNs: BigInt(r.endNs),
    rawBytes: r.rawBytes,
    ...(typeof r.fingerprint === 'string' ? { fingerprint: r.fingerprint } : {}),
  };
}

function isDecimal(value: unknown): value is string {
  return typeof value === 'string' && /^-?\d+$/.test(value);
}
