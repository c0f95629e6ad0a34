// ULIDs (https://github.com/ulid/spec): 26 characters of Crockford base32, 48-bit millisecond time then 80 random
// bits. They sort by creation time as plain strings, which is what lets the index order requests by id and page with
// an `afterId` cursor. Within one millisecond the random part is incremented instead of redrawn, so ids made by one
// generator in the same millisecond still sort in creation order.

import { randomFillSync } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_CHARS = 10;
const RANDOM_BYTES = 10;
const MAX_TIME_MS = 2 ** 48 - 1;
const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

/** Random bytes are drawn in bulk: one syscall per few hundred ids instead of one per id. */
const pool = Buffer.alloc(RANDOM_BYTES * 256);
let poolPosition = pool.length;

function drawRandom(target: Buffer): void {
  if (poolPosition + RANDOM_BYTES > pool.length) {
    randomFillSync(pool);
    poolPosition = 0;
  }
  pool.copy(target, 0, poolPosition, poolPosition + RANDOM_BYTES);
  poolPosition += RANDOM_BYTES;
}

/** Adds one to a big-endian number; false when it wrapped around to zero. */
function increment(bytes: Buffer): boolean {
  for (let i = bytes.length - 1; i >= 0; i--) {
    const value = bytes[i]!;
    if (value < 0xff) {
      bytes[i] = value + 1;
      return true;
    }
    bytes[i] = 0;
  }
  return false;
}

function encodeTime(ms: number): string {
  let out = '';
  let rest = ms;
  for (let i = 0; i < TIME_CHARS; i++) {
    out = ALPHABET[rest % 32]! + out;
    rest = Math.floor(rest / 32);
  }
  return out;
}

/** 80 bits → 16 characters, 5 bits at a time from the most significant end. */
function encodeRandom(bytes: Buffer): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(buffer >> bits) & 31]!;
    }
    buffer &= (1 << bits) - 1;
  }
  return out;
}

export type UlidGenerator = (nowMs?: number) => string;

/** A generator with its own monotonic state (tests and tools that must not share the process-wide one). */
export function createUlidGenerator(): UlidGenerator {
  let lastMs = -1;
  const lastRandom = Buffer.alloc(RANDOM_BYTES);
  return (nowMs: number = Date.now()): string => {
    if (!Number.isInteger(nowMs) || nowMs < 0 || nowMs > MAX_TIME_MS) {
      throw new InvalidArgumentError(`ULID time must be an integer millisecond in [0, 2^48): got ${nowMs}`);
    }
    let ms = nowMs;
    if (ms === lastMs) {
      // 80 random bits start far from the top, so this wraps only in theory; moving to the next millisecond keeps
      // the ids unique and ordered even then.
      if (!increment(lastRandom)) {
        ms = lastMs + 1;
        drawRandom(lastRandom);
      }
    } else {
      drawRandom(lastRandom);
    }
    lastMs = ms;
    return encodeTime(ms) + encodeRandom(lastRandom);
  };
}

/** The process-wide generator: request ids and object ids both come from here. */
export const newUlid: UlidGenerator = createUlidGenerator();

export function isUlid(value: string): boolean {
  return ULID_PATTERN.test(value);
}

/** The millisecond time a ULID was made at. */
export function ulidTimeMs(id: string): number {
  if (!isUlid(id)) throw new InvalidArgumentError(`not a ULID: ${JSON.stringify(id)}`);
  let ms = 0;
  for (let i = 0; i < TIME_CHARS; i++) ms = ms * 32 + ALPHABET.indexOf(id[i]!);
  return ms;
}

/** The smallest id of a millisecond (random part all zero): every id made at or after `ms` sorts after it or equals it. */
export function ulidFloor(ms: number): string {
  let time = Math.max(0, Math.min(MAX_TIME_MS, Math.floor(ms)));
  let text = '';
  for (let i = 0; i < TIME_CHARS; i++) {
    text = ALPHABET[time % 32]! + text;
    time = Math.floor(time / 32);
  }
  return text + '0'.repeat(26 - TIME_CHARS);
}
