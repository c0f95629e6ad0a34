// What an index row means, for every IndexStore: the columns are the same in SQLite, ClickHouse and the outbox;
// only how integers arrive differs (bigint from SQLite, quoted strings from ClickHouse JSON), and how services
// are stored (a JSON text column in SQLite, an Array(String) in ClickHouse), which each adapter decodes first.
import type { ArchivedRequest, Codec, ObjectMeta, Signal } from '../model.js';

type AnyInt = string | number | bigint;

/** The columns of a request row; `Int` is how the adapter's driver hands 64-bit integers over. */
export interface RequestColumns<Int extends AnyInt = AnyInt> {
  id: string;
  tenant: string;
  signal: string;
  received_at_ms: Int;
  items: Int;
  start_ns: Int;
  end_ns: Int;
  raw_bytes: Int;
  object_key: string;
  block_offset: Int;
  block_length: Int;
  codec: string;
  crc32: Int;
  /** '' (ClickHouse) or NULL (SQLite) when the request has none; missing in rows written before fingerprints. */
  fingerprint?: string | null;
}

export interface ObjectColumns<Int extends AnyInt = AnyInt> {
  key: string;
  tenant: string;
  signal: string;
  created_at_ms: Int;
  sealed_at_ms: Int;
  request_count: Int;
  raw_bytes: Int;
  stored_bytes: Int;
  codec: string;
  start_ns: Int;
  end_ns: Int;
}

export function requestFromColumns(row: RequestColumns, services: string[]): ArchivedRequest {
  const request: ArchivedRequest = {
    id: row.id,
    tenant: row.tenant,
    signal: row.signal as Signal,
    receivedAtMs: Number(row.received_at_ms),
    items: Number(row.items),
    services,
    startNs: BigInt(row.start_ns),
    endNs: BigInt(row.end_ns),
    rawBytes: Number(row.raw_bytes),
    objectKey: row.object_key,
    offset: Number(row.block_offset),
    length: Number(row.block_length),
    codec: row.codec as Codec,
    crc32: Number(row.crc32),
  };
  if (row.fingerprint) request.fingerprint = row.fingerprint;
  return request;
}

export function objectFromColumns(row: ObjectColumns): ObjectMeta {
  return {
    key: row.key,
    tenant: row.tenant,
    signal: row.signal as Signal,
    createdAtMs: Number(row.created_at_ms),
    sealedAtMs: Number(row.sealed_at_ms),
    requestCount: Number(row.request_count),
    rawBytes: Number(row.raw_bytes),
    storedBytes: Number(row.stored_bytes),
    codec: row.codec as Codec,
    startNs: BigInt(row.start_ns),
    endNs: BigInt(row.end_ns),
  };
}
