// The on-disk layout of one archive object (format version 1). All integers are big-endian.
//
//   ┌──────────────────────────┐ offset 0
//   │ object header (8 bytes)  │ magic "OTCH", u16 format version, u16 reserved (0)
//   ├──────────────────────────┤
//   │ block header (20 bytes)  │ magic "OTCB", u8 codec, u8 flags (0), u16 reserved (0),
//   │                          │ u32 raw length, u32 stored length, u32 CRC-32 of the raw bytes
//   │ block payload            │ the request's bytes, compressed with `codec`   ◀── RequestLocation.offset/length
//   ├──────────────────────────┤
//   │ … one block per request, in append order …
//   ├──────────────────────────┤
//   │ manifest                 │ gzip of UTF-8 JSON: format version, ObjectMeta, every request's meta + location
//   ├──────────────────────────┤
//   │ trailer (28 bytes)       │ u64 manifest offset, u32 manifest stored length, u32 manifest raw length,
//   │                          │ u32 CRC-32 of the raw manifest, u16 format version, u16 reserved (0), magic "OTCT"
//   └──────────────────────────┘ end of object
//
// Why each part exists:
// - The object header says "this is an otlp-capture archive object, version N" to anyone (or any tool) opening it.
// - A block payload is what the index points at: one range read fetches exactly one request, and each payload is a
//   complete stream of its codec (a gzip payload is a standalone gzip member: `curl -r a-b … | gunzip` works; a
//   zstd payload is one zstd frame with its content size: `curl -r a-b … | zstd -d` works).
// - The block header lets a tool walk the object from the start without the manifest (salvage, inspection), and
//   carries the raw length and CRC so a block can be verified on its own.
// - The manifest makes the object self-describing: with only the object, a reader can list its requests and their
//   metadata, so a lost or damaged index can be rebuilt from the blob store. It is written last because the
//   offsets are only known once every block is out; JSON keeps it readable with standard tools (bigints are
//   decimal strings). Per-request fields that every request of an object shares (tenant, signal, object key) are
//   stored once in the object part. The manifest has its own version (MANIFEST_VERSION), apart from the layout's:
//   version 2 added each trace request's span trace ids (`traceIds`), so that a rebuilt index has its trace rows
//   without reading every block; version 3 added each request's content fingerprint (`fingerprint`, xxh64 of
//   its raw bytes). Earlier manifests (objects written before) are still read, without what they lack.
// - The trailer has a fixed size at the very end, so a reader finds the manifest with two absolute range reads once
//   it knows the size (never a suffix range `bytes=-N`: some S3 implementations serve those wrongly).
//   Its magic also tells a complete object from a truncated one.

import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { z } from 'zod';
import type { ArchivedRequest, Codec, ObjectMeta, RequestMeta } from '../model.js';
import { CODECS, SIGNALS } from '../model.js';
import { CorruptDataError } from '../errors.js';
import { FINGERPRINT_PATTERN } from '../util/fingerprint.js';

export const FORMAT_VERSION = 1;
/** Version of the manifest's JSON; this build writes it and reads it and every earlier one. */
export const MANIFEST_VERSION = 3;
export const OBJECT_HEADER_SIZE = 8;
export const BLOCK_HEADER_SIZE = 20;
export const TRAILER_SIZE = 28;

/**
 * The longest manifest JSON (in UTF-16 code units, as V8 counts a string) this build writes. JSON.stringify cannot
 * make a string past V8's limit (2^29 - 24 units): a manifest that long would make its object impossible to finish,
 * and the archiver would retry it forever with every request in it acknowledged. Objects are sealed before their
 * manifest could pass this (ObjectBuilder); half of V8's limit leaves a reader room to parse it.
 */
export const MAX_MANIFEST_CHARS = 2 ** 28;

const OBJECT_MAGIC = Buffer.from('OTCH', 'latin1');
const BLOCK_MAGIC = Buffer.from('OTCB', 'latin1');
const TRAILER_MAGIC = Buffer.from('OTCT', 'latin1');

/** Codec ids on disk: append only, never renumber. */
const CODEC_IDS: Readonly<Record<Codec, number>> = { none: 0, gzip: 1, brotli: 2, zstd: 3 };

function codecFromId(id: number): Codec | undefined {
  return CODECS.find((codec) => CODEC_IDS[codec] === id);
}

export function encodeObjectHeader(): Buffer {
  const header = Buffer.alloc(OBJECT_HEADER_SIZE);
  OBJECT_MAGIC.copy(header, 0);
  header.writeUInt16BE(FORMAT_VERSION, 4);
  return header;
}

/** Throws CorruptDataError unless `header` starts an archive object of a version this code reads. */
export function checkObjectHeader(header: Buffer, key: string): void {
  if (header.length < OBJECT_HEADER_SIZE || !header.subarray(0, 4).equals(OBJECT_MAGIC)) {
    throw new CorruptDataError(`${key} is not an otlp-capture archive object (bad header magic)`);
  }
  const version = header.readUInt16BE(4);
  if (version !== FORMAT_VERSION) {
    throw new CorruptDataError(`${key} has archive format version ${version}; this build reads version ${FORMAT_VERSION}`);
  }
}

export interface BlockHeader {
  codec: Codec;
  rawLength: number;
  storedLength: number;
  crc32: number;
}

export function encodeBlockHeader(block: BlockHeader): Buffer {
  const header = Buffer.alloc(BLOCK_HEADER_SIZE);
  BLOCK_MAGIC.copy(header, 0);
  header.writeUInt8(CODEC_IDS[block.codec], 4);
  header.writeUInt32BE(block.rawLength, 8);
  header.writeUInt32BE(block.storedLength, 12);
  header.writeUInt32BE(block.crc32 >>> 0, 16);
  return header;
}

export function decodeBlockHeader(header: Buffer): BlockHeader {
  if (header.length < BLOCK_HEADER_SIZE || !header.subarray(0, 4).equals(BLOCK_MAGIC)) {
    throw new CorruptDataError('bad block header magic');
  }
  const codec = codecFromId(header.readUInt8(4));
  if (codec === undefined) throw new CorruptDataError(`unknown block codec id ${header.readUInt8(4)}`);
  return {
    codec,
    rawLength: header.readUInt32BE(8),
    storedLength: header.readUInt32BE(12),
    crc32: header.readUInt32BE(16),
  };
}

export interface Trailer {
  manifestOffset: number;
  manifestStoredLength: number;
  manifestRawLength: number;
  manifestCrc32: number;
}

function encodeTrailer(trailer: Trailer): Buffer {
  const out = Buffer.alloc(TRAILER_SIZE);
  out.writeBigUInt64BE(BigInt(trailer.manifestOffset), 0);
  out.writeUInt32BE(trailer.manifestStoredLength, 8);
  out.writeUInt32BE(trailer.manifestRawLength, 12);
  out.writeUInt32BE(trailer.manifestCrc32 >>> 0, 16);
  out.writeUInt16BE(FORMAT_VERSION, 20);
  TRAILER_MAGIC.copy(out, 24);
  return out;
}

/** Checks the trailer against the object's size: a truncated or unfinished object fails here, with a clear message. */
export function decodeTrailer(bytes: Buffer, key: string, objectSize: number): Trailer {
  if (bytes.length !== TRAILER_SIZE || !bytes.subarray(24, 28).equals(TRAILER_MAGIC)) {
    throw new CorruptDataError(
      `${key} has no archive trailer at its end (${objectSize} bytes): the object is truncated, unfinished or not an archive object`,
    );
  }
  const version = bytes.readUInt16BE(20);
  if (version !== FORMAT_VERSION) {
    throw new CorruptDataError(`${key} has archive format version ${version}; this build reads version ${FORMAT_VERSION}`);
  }
  const trailer: Trailer = {
    manifestOffset: Number(bytes.readBigUInt64BE(0)),
    manifestStoredLength: bytes.readUInt32BE(8),
    manifestRawLength: bytes.readUInt32BE(12),
    manifestCrc32: bytes.readUInt32BE(16),
  };
  if (
    trailer.manifestOffset < OBJECT_HEADER_SIZE ||
    trailer.manifestOffset + trailer.manifestStoredLength + TRAILER_SIZE !== objectSize
  ) {
    throw new CorruptDataError(
      `${key}: trailer places the manifest at ${trailer.manifestOffset}+${trailer.manifestStoredLength}, which does not fit an object of ${objectSize} bytes`,
    );
  }
  return trailer;
}

const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);

const decimal = z.string().regex(/^-?\d+$/, 'a decimal integer string');
const count = z.number().int().nonnegative();

const manifestRequestSchema = z.object({
  id: z.string().min(1),
  receivedAtMs: count,
  items: count,
  services: z.array(z.string()),
  startNs: decimal,
  endNs: decimal,
  rawBytes: count,
  offset: count,
  length: count,
  codec: z.enum(CODECS),
  crc32: z.number().int().min(0).max(0xffffffff),
  /** Version 2: distinct span trace ids of a trace request, when the archiver could read them. */
  traceIds: z.array(z.string().regex(/^[0-9a-f]{32}$/, '32 lowercase hex digits')).optional(),
  /** Version 3: xxh64 of the raw request bytes, when the request was captured with one. */
  fingerprint: z.string().regex(FINGERPRINT_PATTERN, '16 or 32 lowercase hex digits').optional(),
});

const manifestSchema = z.object({
  version: z.union([z.literal(1), z.literal(2), z.literal(MANIFEST_VERSION)]),
  object: z.object({
    key: z.string(),
    tenant: z.string(),
    signal: z.enum(SIGNALS),
    createdAtMs: count,
    sealedAtMs: count,
    requestCount: count,
    rawBytes: count,
    codec: z.enum(CODECS),
    startNs: decimal,
    endNs: decimal,
  }),
  requests: z.array(manifestRequestSchema),
});

type ManifestJson = z.infer<typeof manifestSchema>;

// What an entry's JSON holds besides its values: every key, quote and separator (the optional ones included).
const ENTRY_SYNTAX_CHARS =
  '{"id":,"receivedAtMs":,"items":,"services":,"startNs":"","endNs":"","rawBytes":,"offset":,"length":,"codec":"","crc32":,"traceIds":[],"fingerprint":""},'
    .length;
/** Widest value of the fields known only once the block is written: offset (a safe integer), length, codec, crc32. */
const LOCATION_CHARS = 16 + 10 + 'brotli'.length + 10;
/** `"<32 hex digits>",` */
const TRACE_ID_CHARS = 35;

/** At least the length of a request's entry in the manifest JSON, with `traceIdCount` trace ids. */
export function manifestEntryBound(meta: RequestMeta, traceIdCount: number): number {
  return (
    ENTRY_SYNTAX_CHARS +
    LOCATION_CHARS +
    JSON.stringify(meta.id).length +
    JSON.stringify(meta.services).length +
    String(meta.receivedAtMs).length +
    String(meta.items).length +
    meta.startNs.toString().length +
    meta.endNs.toString().length +
    String(meta.rawBytes).length +
    (meta.fingerprint?.length ?? 0) +
    traceIdCount * TRACE_ID_CHARS
  );
}

/** At least the length of a manifest's JSON apart from its request entries. */
export function manifestBaseBound(key: string, tenant: string): number {
  // Keys and syntax (~170), three times and eight numbers (16 digits at most each), codec and signal names.
  return 512 + JSON.stringify(key).length + JSON.stringify(tenant).length;
}

/**
 * The manifest and trailer that close an object whose blocks end at `manifestOffset`. The object's storedBytes is
 * not in the manifest (it depends on the manifest's own length); readers take it from the object's size.
 */
export async function encodeManifestAndTrailer(
  object: ObjectMeta,
  requests: readonly ArchivedRequest[],
  manifestOffset: number,
): Promise<Buffer> {
  const json: ManifestJson = {
    version: MANIFEST_VERSION,
    object: {
      key: object.key,
      tenant: object.tenant,
      signal: object.signal,
      createdAtMs: object.createdAtMs,
      sealedAtMs: object.sealedAtMs,
      requestCount: object.requestCount,
      rawBytes: object.rawBytes,
      codec: object.codec,
      startNs: object.startNs.toString(),
      endNs: object.endNs.toString(),
    },
    requests: requests.map((r) => ({
      id: r.id,
      receivedAtMs: r.receivedAtMs,
      items: r.items,
      services: r.services,
      startNs: r.startNs.toString(),
      endNs: r.endNs.toString(),
      rawBytes: r.rawBytes,
      offset: r.offset,
      length: r.length,
      codec: r.codec,
      crc32: r.crc32,
      ...(r.traceIds === undefined ? {} : { traceIds: r.traceIds }),
      ...(r.fingerprint === undefined ? {} : { fingerprint: r.fingerprint }),
    })),
  };
  const raw = Buffer.from(JSON.stringify(json), 'utf8');
  // Level 1: a trace object's manifest is mostly hex trace ids (~1 MB for 25 k of them), which level 6 shrinks by
  // only a few percent more, for ~4× the CPU (it was ~2 % of the server's CPU under sustained trace ingest).
  const stored = await gzip(raw, { level: 1 });
  const trailer = encodeTrailer({
    manifestOffset,
    manifestStoredLength: stored.length,
    manifestRawLength: raw.length,
    manifestCrc32: zlib.crc32(raw),
  });
  return Buffer.concat([stored, trailer]);
}

/**
 * Parses a manifest read from the object at `key` (its current location, which wins over the key recorded at
 * build time: an object may have been moved since). A request has `traceIds` only when the manifest records them
 * (version 2, and the archiver could read them), and `fingerprint` only when it records one (version 3).
 */
export async function decodeManifest(
  stored: Buffer,
  trailer: Trailer,
  key: string,
  objectSize: number,
): Promise<{ object: ObjectMeta; requests: ArchivedRequest[] }> {
  let raw: Buffer;
  try {
    raw = await gunzip(stored, { maxOutputLength: Math.max(1, trailer.manifestRawLength) });
  } catch (error) {
    throw new CorruptDataError(`${key}: manifest does not decompress: ${(error as Error).message}`, { cause: error });
  }
  if (raw.length !== trailer.manifestRawLength || zlib.crc32(raw) !== trailer.manifestCrc32) {
    throw new CorruptDataError(`${key}: manifest fails its length or CRC-32 check`);
  }
  let parsed: ManifestJson;
  try {
    parsed = manifestSchema.parse(JSON.parse(raw.toString('utf8')));
  } catch (error) {
    throw new CorruptDataError(`${key}: manifest is not valid: ${(error as Error).message}`, { cause: error });
  }
  const o = parsed.object;
  if (o.requestCount !== parsed.requests.length) {
    throw new CorruptDataError(`${key}: manifest lists ${parsed.requests.length} requests but says ${o.requestCount}`);
  }
  const signal = o.signal as ObjectMeta['signal'];
  const object: ObjectMeta = {
    key,
    tenant: o.tenant,
    signal,
    createdAtMs: o.createdAtMs,
    sealedAtMs: o.sealedAtMs,
    requestCount: o.requestCount,
    rawBytes: o.rawBytes,
    storedBytes: objectSize,
    codec: o.codec,
    startNs: BigInt(o.startNs),
    endNs: BigInt(o.endNs),
  };
  const requests = parsed.requests.map(
    (r): ArchivedRequest => ({
      id: r.id,
      tenant: o.tenant,
      signal,
      receivedAtMs: r.receivedAtMs,
      items: r.items,
      services: r.services,
      startNs: BigInt(r.startNs),
      endNs: BigInt(r.endNs),
      rawBytes: r.rawBytes,
      objectKey: key,
      offset: r.offset,
      length: r.length,
      codec: r.codec,
      crc32: r.crc32,
      ...(r.traceIds === undefined ? {} : { traceIds: r.traceIds }),
      ...(r.fingerprint === undefined ? {} : { fingerprint: r.fingerprint }),
    }),
  );
  for (const r of requests) {
    if (r.offset < OBJECT_HEADER_SIZE + BLOCK_HEADER_SIZE || r.offset + r.length > trailer.manifestOffset) {
      throw new CorruptDataError(`${key}: manifest places request ${r.id} outside the object's blocks`);
    }
  }
  return { object, requests };
}
