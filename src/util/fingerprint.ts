// A request's content fingerprint: xxh64 of its raw (uncompressed) bytes, as 16 lowercase hex digits. Computed on the
// ingest path, where the bytes are in hand, so it must cost little: xxh64 runs at ~16 GiB/s here, while the xxh3
// build of the same binding managed ~2 GiB/s (docs/BENCHMARKS.md, "Integrity"). 64 bits are plenty for what it is
// for — telling a retried request from a new one within one tenant, signal and dedup window (RequestMeta.fingerprint):
// a million requests in one window collide with odds of about 3 in 100 million.
import { xxh64 } from '@node-rs/xxhash';

/** What a fingerprint looks like: 16 lowercase hex digits (32 are accepted too, for a wider hash later). */
export const FINGERPRINT_PATTERN = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/;

export function requestFingerprint(raw: Uint8Array): string {
  return xxh64(raw).toString(16).padStart(16, '0');
}
