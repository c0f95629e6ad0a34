// OTLP/JSON request text → a parsed JSON value, with what JSON.parse alone gets wrong for OTLP:
//
// - Nesting. V8's JSON.parse does not overflow on deep nesting, but 64 MiB of "[[[[…" (64 KiB gzipped) costs it
//   ~2 GB and ~16 s of the event loop. The reader refuses messages nested deeper than MAX_DEPTH anyway, so nesting
//   deeper than any acceptable request is refused here, before JSON.parse builds anything.
// - 64-bit integers written as JSON numbers (proto3 JSON allows it; curl users do it): JSON.parse rounds
//   1700000000123456789 to a double, and 9223372036854775807 becomes 2^63, out of range. Number tokens whose double is
//   not exact are handed to the reader as their source text (a marker string no client can forge), so integer fields
//   get the exact value; double fields get what JSON.parse would have given.
// - Width. JSON.parse's cost is mostly one allocation per object and array: 64 MiB of "[],[],…" under an unknown
//   field (64 KiB gzipped) held the event loop ~12 s and took 1.3 GB, stalling every Export on every listener, where
//   64 MiB of real spans parses in ~0.3 s. OTLP/JSON has one object or array per 45 bytes in instrumented traces and,
//   densest, one per ~15 (an attribute of a one-digit int); text with more than one per MAX_CONTAINER_DENSITY bytes is
//   refused before JSON.parse builds anything.
// - Text: JSON is UTF-8 (RFC 8259 §8.1); invalid UTF-8 is refused rather than silently replaced with U+FFFD, and a
//   leading byte order mark is ignored, as that section allows.
import { randomBytes } from 'node:crypto';
import { isUtf8 } from 'node:buffer';

/** Bytes of text per JSON object or array below which text is not OTLP-shaped (see the header); small bodies exempt. */
export const MAX_CONTAINER_DENSITY = 8;
const CONTAINERS_ALWAYS_ALLOWED = 4096;

/** The deepest JSON nesting a valid request can have: each message level is at most an array and an object. */
export function maxJsonDepth(maxMessageDepth: number): number {
  return 2 * (maxMessageDepth + 1) + 1;
}

export interface JsonText {
  value: unknown;
  /**
   * Strings starting with this are number literals that a double cannot hold exactly: the rest is the literal's
   * source text. Null when the request has none.
   */
  numberMarker: string | null;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** A number token's bytes: digits, sign, point and exponent. */
function isNumberByte(c: number): boolean {
  return isDigit(c) || c === MINUS || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45;
}

/**
 * Parses `bytes` as JSON for the OTLP/JSON reader; `fail` throws (MalformedPayloadError) for text that is not UTF-8
 * JSON or nests deeper than `maxDepth`.
 */
export function readJsonText(bytes: Buffer, maxDepth: number, fail: (what: string) => never): JsonText {
  let text = bytes;
  if (text.length >= 3 && text[0] === 0xef && text[1] === 0xbb && text[2] === 0xbf) text = text.subarray(3);
  if (!isUtf8(text)) fail('not JSON (the text is not valid UTF-8)');
  const { inexact, containers } = scan(text, maxDepth, fail);
  if (containers > CONTAINERS_ALWAYS_ALLOWED + text.length / MAX_CONTAINER_DENSITY) {
    fail(
      `${containers} JSON objects and arrays in ${text.length} bytes: OTLP/JSON has at most one per ${MAX_CONTAINER_DENSITY} bytes; ` +
        'refused before parsing',
    );
  }
  let numberMarker: string | null = null;
  if (inexact.length > 0) {
    const nonce = randomBytes(12).toString('hex');
    numberMarker = `\u0000${nonce}:`;
    text = withNumbersQuoted(text, inexact, `"\\u0000${nonce}:`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text.toString('utf8'));
  } catch (error) {
    fail(`not JSON (${(error as Error).message})`);
  }
  return { value, numberMarker };
}

/**
 * Checks the nesting depth; counts objects and arrays; finds the [start, end) of every number token a double would not
 * hold exactly.
 */
function scan(text: Buffer, maxDepth: number, fail: (what: string) => never): { inexact: Array<[number, number]>; containers: number } {
  const inexact: Array<[number, number]> = [];
  const n = text.length;
  let depth = 0;
  let containers = 0;
  let i = 0;
  while (i < n) {
    const c = text[i]!;
    if (c === QUOTE) {
      i = stringEnd(text, i + 1);
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) fail(`nesting is deeper than ${maxDepth} levels of JSON`);
      containers++;
      i++;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
      i++;
    } else if (c === MINUS || isDigit(c)) {
      let end = i + 1;
      while (end < n && isNumberByte(text[end]!)) end++;
      // Up to 15 significant digits without an exponent always fit a double; only longer tokens need a look.
      if (end - i >= 16 || text.subarray(i, end).some((b) => b === 0x65 || b === 0x45)) {
        const value = Number(text.toString('latin1', i, end));
        if (Number.isInteger(value) && !Number.isSafeInteger(value)) inexact.push([i, end]);
      }
      i = end;
    } else {
      i++;
    }
  }
  return { inexact, containers };
}

/** The index just past the closing quote of the string whose contents start at `from` (or the end of the text). */
function stringEnd(text: Buffer, from: number): number {
  let at = from;
  for (;;) {
    const quote = text.indexOf(QUOTE, at);
    if (quote < 0) return text.length;
    let backslashes = 0;
    while (quote - backslashes - 1 >= from && text[quote - backslashes - 1] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    at = quote + 1;
  }
}

function withNumbersQuoted(text: Buffer, tokens: Array<[number, number]>, open: string): Buffer {
  const pieces: Buffer[] = [];
  const openBytes = Buffer.from(open);
  const closeBytes = Buffer.from('"');
  let at = 0;
  for (const [start, end] of tokens) {
    pieces.push(text.subarray(at, start), openBytes, text.subarray(start, end), closeBytes);
    at = end;
  }
  pieces.push(text.subarray(at));
  return Buffer.concat(pieces);
}
