// Object keys every BlobStore adapter accepts, and no more: a key that works on one backend works on all of them, and
// none of them can name a path outside the store (`..`, absolute paths, backslashes, NUL). Control characters and
// text that is not valid Unicode are refused too: S3 answers listings in XML 1.0, which cannot carry most control
// characters (an object so named breaks every listing of its prefix), and a lone surrogate has no UTF-8 form.

import { InvalidArgumentError } from '../errors.js';
import { hasLoneSurrogate } from '../util/unicode.js';

/** Names the filesystem adapter keeps for itself at the root (temp files of unfinished writes). */
export const RESERVED_TOP_SEGMENT = '.tmp';

const MAX_KEY_BYTES = 1024;
/** C0 controls and DEL (NUL has its own message). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0001-\u001f\u007f]/;

function reject(key: string, why: string): never {
  throw new InvalidArgumentError(`invalid object key ${JSON.stringify(key)}: ${why}`);
}

/** Throws InvalidArgumentError unless `key` is a relative, '/'-separated path of non-empty, non-dot segments. */
export function validateBlobKey(key: string): void {
  if (typeof key !== 'string' || key === '') reject(String(key), 'it is empty');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) reject(key, `it is longer than ${MAX_KEY_BYTES} bytes`);
  if (key.includes('\0')) reject(key, 'it contains NUL');
  if (CONTROL.test(key)) reject(key, 'it contains a control character');
  if (hasLoneSurrogate(key)) reject(key, 'it is not valid Unicode (a lone surrogate)');
  if (key.includes('\\')) reject(key, 'it contains a backslash');
  if (key.startsWith('/')) reject(key, 'it starts with /');
  const segments = key.split('/');
  for (const segment of segments) {
    if (segment === '') reject(key, 'it has an empty path segment');
    if (segment === '.' || segment === '..') reject(key, `it has a "${segment}" path segment`);
  }
  if (segments[0] === RESERVED_TOP_SEGMENT) reject(key, `"${RESERVED_TOP_SEGMENT}/" is reserved`);
}

/** A list prefix: any leading part of a valid key (may end in '/' or mid-segment), or '' for everything. */
export function validateBlobPrefix(prefix: string): void {
  if (prefix === '') return;
  if (prefix.includes('\0') || prefix.includes('\\') || prefix.startsWith('/') || CONTROL.test(prefix) || hasLoneSurrogate(prefix)) {
    throw new InvalidArgumentError(`invalid list prefix ${JSON.stringify(prefix)}`);
  }
  const complete = prefix.split('/').slice(0, -1);
  if (complete.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw new InvalidArgumentError(`invalid list prefix ${JSON.stringify(prefix)}`);
  }
}
