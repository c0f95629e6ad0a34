// The id bound of the dedup window (src/query/dedup.ts), shared by the read side and the adapters' SQL helpers:
// request ids are ULIDs whose first 10 characters are the receipt millisecond, so "received at most W ms before
// request R" is "id >= floorId(time(R) - W)".
import { isUlid, ulidTimeMs } from '../util/ulid.js';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const MAX_TIME_MS = 2 ** 48 - 1;

/** The smallest ULID of a millisecond: every id made at `ms` or later sorts at or after it. */
export function floorId(ms: number): string {
  let rest = Math.min(MAX_TIME_MS, Math.max(0, Math.floor(ms)));
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[rest % 32]! + out;
    rest = Math.floor(rest / 32);
  }
  return `${out}0000000000000000`;
}

/** The smallest id a twin of `id` may have to make `id` a duplicate; for an id that is no ULID, one above every id. */
export function duplicateFloor(id: string, windowMs: number): string {
  return isUlid(id) ? floorId(ulidTimeMs(id) - windowMs) : '~';
}
