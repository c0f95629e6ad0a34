// Keys of objects the dedup action rewrote without their duplicates: `<stem>.d<n>[.<codec>-<level>].otlpc`, beside
// the original. n counts the rewrites (1 for an archiver's object, one more each time); the compress mark, when the
// object has one, stays last, so compress (compressed-key.ts) still reads it and keeps the `.d<n>` part in turn.
// Keys are never reused: n only grows and a compress mark only gets stronger, which matters for ClickHouse, where a
// replaced key is retired for good.
import { OBJECT_KEY_SUFFIX } from '../archiver/object-key.js';
import { InvalidArgumentError } from '../errors.js';

const SHAPE = /^(.+?)(?:\.d(\d{1,6}))?((?:\.(?:gzip|brotli|zstd)-\d{1,2})?)\.otlpc$/;

/** How many times dedup rewrote the object at `key` (0 for an object no dedup rewrote). */
export function dedupGeneration(key: string): number {
  const match = SHAPE.exec(key);
  return match?.[2] === undefined ? 0 : Number(match[2]);
}

/** The key the object at `key` gets once rewritten without its duplicates. */
export function dedupedKey(key: string): string {
  const match = SHAPE.exec(key);
  if (match === null) throw new InvalidArgumentError(`${key} is not an archive object key (it does not end in ${OBJECT_KEY_SUFFIX})`);
  const [, stem, generation, compressMark] = match;
  return `${stem}.d${Number(generation ?? 0) + 1}${compressMark}${OBJECT_KEY_SUFFIX}`;
}
