// A request's content fingerprint: xxh3-128 of its raw (uncompressed) bytes, as 32 lowercase hex digits. Fast enough
// to compute on the ingest path (the bytes are in hand there), wide enough that two different requests never share
// one in practice; what tells a retried request from a new one (RequestMeta.fingerprint).
import { xxh3 } from '@node-rs/xxhash';

export function requestFingerprint(raw: Uint8Array): string {
  return xxh3.xxh128(raw).toString(16).padStart(32, '0');
}
