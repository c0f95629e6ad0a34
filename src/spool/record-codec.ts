// The on-disk frame of one spooled request. A torn or corrupt frame must be recognisable from its own bytes, so
// the frame carries its lengths and a CRC-32 that covers those lengths, the meta header and the payload.
//
//   offset 0  u32  magic 'OCS1'
//          4  u32  CRC-32 of bytes [8, end)
//          8  u32  header length (meta as UTF-8 JSON, bigints as decimal strings)
//         12  u32  payload length
//         16       header, then payload
import { crc32 } from 'node:zlib';
import { CorruptDataError } from '../errors.js';
import type { RequestMeta } from '../model.js';
import { isSignal } from '../model.js';
import { crc32Combine } from './crc32-combine.js';

export const RECORD_MAGIC = 0x4f435331;
export const PREFIX_BYTES = 16;
/** Meta is a few hundred bytes; a larger header length can only come from garbage. */
export const MAX_HEADER_BYTES = 1024 * 1024;
/** The payload length field is a u32. */
export const MAX_PAYLOAD_BYTES = 0xffffffff;

export interface EncodedRecord {
  /** Prefix and header; the payload is written from the caller's buffer, never copied. */
  head: Buffer;
  payload: Buffer;
  /** CRC-32 of the payload alone: the archive block's CRC, computed in the same pass as the frame's. */
  payloadCrc: number;
  length: number;
}

export interface RecordPrefix {
  crc: number;
  headerLength: number;
  payloadLength: number;
  /** Whole frame: prefix + header + payload. */
  length: number;
}

export function encodeRecord(meta: RequestMeta, payload: Buffer): EncodedRecord {
  if (payload.length > MAX_PAYLOAD_BYTES) {
    throw new RangeError(`payload of ${payload.length} bytes is larger than a spool record can hold`);
  }
  const header = encodeMeta(meta);
  const head = Buffer.allocUnsafe(PREFIX_BYTES + header.length);
  head.writeUInt32BE(RECORD_MAGIC, 0);
  head.writeUInt32BE(header.length, 8);
  head.writeUInt32BE(payload.length, 12);
  header.copy(head, PREFIX_BYTES);
  const payloadCrc = crcOfPayload(payload);
  head.writeUInt32BE(frameCrc(crcOfPrefixAndHeader(head), payloadCrc, payload.length), 4);
  return { head, payload, payloadCrc, length: head.length + payload.length };
}

/** CRC-32 of a payload on its own. */
export function crcOfPayload(payload: Buffer): number {
  return continueCrc(payload, 0);
}

/** The frame's CRC (prefix lengths, header, payload) from its two parts' CRCs: the payload is not read again. */
export function frameCrc(prefixAndHeaderCrc: number, payloadCrc: number, payloadLength: number): number {
  return crc32Combine(prefixAndHeaderCrc, payloadCrc, payloadLength);
}

/**
 * Reads the fixed prefix. Returns null when the bytes cannot be the start of a frame (bad magic, absurd header
 * length): the caller treats that as corruption.
 */
export function decodePrefix(prefix: Buffer): RecordPrefix | null {
  if (prefix.length < PREFIX_BYTES || prefix.readUInt32BE(0) !== RECORD_MAGIC) return null;
  const headerLength = prefix.readUInt32BE(8);
  const payloadLength = prefix.readUInt32BE(12);
  if (headerLength === 0 || headerLength > MAX_HEADER_BYTES) return null;
  return { crc: prefix.readUInt32BE(4), headerLength, payloadLength, length: PREFIX_BYTES + headerLength + payloadLength };
}

/** CRC of the covered part of the prefix (lengths) and the header; continue it over the payload. */
export function crcOfPrefixAndHeader(prefixAndHeader: Buffer): number {
  return crc32(prefixAndHeader.subarray(8));
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
    !isDecimal(r.startNs) || !isDecimal(r.endNs)
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
  };
}

function isDecimal(value: unknown): value is string {
  return typeof value === 'string' && /^-?\d+$/.test(value);
}
