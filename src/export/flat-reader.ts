// The wire reading the flatteners share: text, hex ids, fixed64 timestamps, doubles, signed varints, and OTLP
// attribute values turned into what a table cell holds (text, or JSON for arrays and maps). Reads in place from the
// request bytes; every read is bounded by its enclosing message (WireReader), so a damaged request fails with a clear
// error instead of reading past its end.
import { WIRE_I64, WIRE_LEN, WIRE_VARINT, WireReader } from '../otlp/wire.js';
import type { MessageSchema } from '../otlp/wire.js';
import { ANY_VALUE, ARRAY_VALUE, INSTRUMENTATION_SCOPE, KEY_VALUE, KEY_VALUE_LIST, RESOURCE } from '../otlp/schema.js';
import type { StringPairs } from './tables.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const INT64_MAX = 2n ** 63n - 1n;
const TAG_KEY = (1 << 3) | WIRE_LEN;
const TAG_VALUE = (2 << 3) | WIRE_LEN;
const TAG_ATTRIBUTES_1 = (1 << 3) | WIRE_LEN;
const TAG_SCOPE_NAME = (1 << 3) | WIRE_LEN;
const TAG_SCOPE_VERSION = (2 << 3) | WIRE_LEN;
const TAG_SCOPE_ATTRIBUTES = (3 << 3) | WIRE_LEN;

/** An attribute value as the cell of a MAP<STRING, STRING> holds it, or as JSON inside arrays and maps. */
type AnyValueKind = 'none' | 'string' | 'bool' | 'int' | 'double' | 'array' | 'kvlist' | 'bytes';

export interface ResourceInfo {
  attributes: StringPairs;
  serviceName: string | null;
}

export interface ScopeInfo {
  name: string | null;
  version: string | null;
}

export class FlatReader extends WireReader {
  private readonly text: Buffer;
  private readonly view: DataView;

  constructor(bytes: Uint8Array, rootName: string) {
    super(bytes, rootName);
    this.text = Buffer.from(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** UTF-8 text of [start, end); invalid sequences become U+FFFD (the archive keeps the bytes as they came). */
  utf8(start: number, end: number): string {
    return this.text.toString('utf8', start, end);
  }

  /** Lowercase hex of an id; null when the id is empty. */
  hex(start: number, end: number): string | null {
    return end > start ? this.text.toString('hex', start, end) : null;
  }

  base64(start: number, end: number): string {
    return this.text.toString('base64', start, end);
  }

  /** A fixed64 timestamp at `at`; null for 0 (unset) and for values past the signed 64-bit range Parquet can hold. */
  timestamp(at: number): bigint | null {
    const value = this.view.getBigUint64(at, true);
    return value === 0n || value > INT64_MAX ? null : value;
  }

  /** A fixed64 count, as a signed 64-bit value (counts past 2^63 do not occur in practice; they wrap). */
  int64Fixed(at: number): bigint {
    return this.view.getBigInt64(at, true);
  }

  /** A fixed64 as a JS number (exact below 2^53): for list elements, where bigints would cost too much. */
  uint64Number(at: number): number {
    return this.view.getUint32(at + 4, true) * 4294967296 + this.view.getUint32(at, true);
  }

  double(at: number): number {
    return this.view.getFloat64(at, true);
  }

  fixed32(at: number): number {
    return this.view.getUint32(at, true);
  }

  /** An int64 varint (two's complement for negatives), as a number when it is exact, else a bigint. */
  varintInt64(end: number, within: MessageSchema): number | bigint {
    const buf = this.buf;
    const start = this.pos;
    // Up to 7 bytes (49 bits): exact as a number.
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 7 && start + i < end; i++) {
      const b = buf[start + i]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        this.pos = start + i + 1;
        return value;
      }
      scale *= 128;
    }
    let big = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      const p = start + i;
      if (p >= end) this.failEnded(start, end, within, 'a varint');
      const b = buf[p]!;
      big |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = p + 1;
        const signed = BigInt.asIntN(64, big);
        return signed >= BigInt(Number.MIN_SAFE_INTEGER) && signed <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(signed) : signed;
      }
      shift += 7n;
    }
    return this.fail(start, `varint in ${within.name} is longer than 10 bytes`);
  }

  /** A varint that fits a 32-bit field (enums, counts, severity, scale as zigzag-free int32). */
  varint32(end: number, within: MessageSchema): number {
    const value = this.varintInt64(end, within);
    return typeof value === 'bigint' ? Number(BigInt.asIntN(32, value)) : value > 0x7fffffff ? value - 2 ** 32 : value;
  }

  /** Reads the length of a length-delimited field whose tag has just been read; returns where its payload ends. */
  payloadEnd(end: number, within: MessageSchema, tag: number, tagAt: number): number {
    return this.readLengthEnd(end, within, within.fields[tag >>> 3], tag, tagAt);
  }

  /** Moves past a fixed-size field and returns its offset. */
  fixedAt(size: 4 | 8, end: number, within: MessageSchema, tag: number, tagAt: number): number {
    return this.takeFixed(size, end, within, within.fields[tag >>> 3], tag, tagAt);
  }

  /** Skips the value of a field whose tag has just been read (checking only its framing). */
  skip(within: MessageSchema, tag: number, tagAt: number, end: number): void {
    switch (tag & 7) {
      case WIRE_VARINT:
        this.skipVarint(end, within);
        return;
      case WIRE_I64:
        this.takeFixed(8, end, within, undefined, tag, tagAt);
        return;
      case WIRE_LEN:
        this.pos = this.readLengthEnd(end, within, undefined, tag, tagAt);
        return;
      default:
        this.takeFixed(4, end, within, undefined, tag, tagAt);
    }
  }

  /** Reads one KeyValue in [start, end) and appends key and cell value to `pairs`. */
  keyValue(end: number, pairs: StringPairs): void {
    let key = '';
    let valueStart = -1;
    let valueEnd = -1;
    while (this.pos < end) {
      const tagAt = this.pos;
      const tag = this.readTag(end, KEY_VALUE);
      if (tag === TAG_KEY) {
        const keyEnd = this.payloadEnd(end, KEY_VALUE, tag, tagAt);
        key = this.utf8(this.pos, keyEnd);
        this.pos = keyEnd;
      } else if (tag === TAG_VALUE) {
        valueEnd = this.payloadEnd(end, KEY_VALUE, tag, tagAt);
        valueStart = this.pos;
        this.pos = valueEnd;
      } else {
        this.skip(KEY_VALUE, tag, tagAt, end);
      }
    }
    let cell: string | null = null;
    if (valueStart >= 0) {
      this.pos = valueStart;
      cell = this.anyValueText(valueEnd, 0);
      this.pos = end;
    }
    pairs.push(key, cell);
  }

  /** An AnyValue as a table cell: strings as they are, numbers and booleans as text, arrays / maps as JSON. */
  anyValueText(end: number, depth: number): string | null {
    const { kind, start, stop, number } = this.anyValueParts(end);
    switch (kind) {
      case 'none':
        return null;
      case 'string':
        return this.utf8(start, stop);
      case 'bool':
        return Number(number) !== 0 ? 'true' : 'false';
      case 'int':
        return String(number);
      case 'double':
        return String(this.double(start));
      case 'bytes':
        return this.base64(start, stop);
      default:
        this.pos = start;
        return JSON.stringify(this.anyValueJsonOf(kind, stop, depth));
    }
  }

  /** An AnyValue as a plain JSON value (ints beyond 2^53 as strings, doubles that JSON lacks as "NaN" etc.). */
  anyValueJson(end: number, depth: number): Json {
    const { kind, start, stop, number } = this.anyValueParts(end);
    switch (kind) {
      case 'none':
        return null;
      case 'string':
        return this.utf8(start, stop);
      case 'bool':
        return Number(number) !== 0;
      case 'int':
        return typeof number === 'bigint' ? String(number) : number;
      case 'double':
        return jsonNumber(this.double(start));
      case 'bytes':
        return this.base64(start, stop);
      default:
        this.pos = start;
        return this.anyValueJsonOf(kind, stop, depth);
    }
  }

  /** Attributes (repeated KeyValue) as a JSON object; for events, links and exemplars. */
  attributesJson(pairs: StringPairs): Record<string, string | null> {
    const out: Record<string, string | null> = {};
    for (let i = 0; i < pairs.length; i += 2) out[pairs[i] as string] = pairs[i + 1] ?? null;
    return out;
  }

  /** A Resource message: its attributes (unique keys) and service.name. */
  resource(end: number): ResourceInfo {
    const attributes: StringPairs = [];
    while (this.pos < end) {
      const tagAt = this.pos;
      const tag = this.readTag(end, RESOURCE);
      if (tag === TAG_ATTRIBUTES_1) {
        const kvEnd = this.payloadEnd(end, RESOURCE, tag, tagAt);
        this.keyValue(kvEnd, attributes);
      } else {
        this.skip(RESOURCE, tag, tagAt, end);
      }
    }
    const unique = uniquePairs(attributes);
    let serviceName: string | null = null;
    for (let i = 0; i < unique.length; i += 2) if (unique[i] === 'service.name') serviceName = unique[i + 1] ?? null;
    return { attributes: unique, serviceName };
  }

  /** An InstrumentationScope: name and version (its attributes are not exported). */
  scope(end: number): ScopeInfo {
    let name: string | null = null;
    let version: string | null = null;
    while (this.pos < end) {
      const tagAt = this.pos;
      const tag = this.readTag(end, INSTRUMENTATION_SCOPE);
      if (tag === TAG_SCOPE_NAME || tag === TAG_SCOPE_VERSION) {
        const stop = this.payloadEnd(end, INSTRUMENTATION_SCOPE, tag, tagAt);
        const text = this.utf8(this.pos, stop);
        if (tag === TAG_SCOPE_NAME) name = text === '' ? null : text;
        else version = text === '' ? null : text;
        this.pos = stop;
      } else if (tag === TAG_SCOPE_ATTRIBUTES) {
        this.pos = this.payloadEnd(end, INSTRUMENTATION_SCOPE, tag, tagAt);
      } else {
        this.skip(INSTRUMENTATION_SCOPE, tag, tagAt, end);
      }
    }
    return { name, version };
  }

  /** Which member of an AnyValue is set (the last one wins, as in protobuf), and where its payload is. */
  private anyValueParts(end: number): { kind: AnyValueKind; start: number; stop: number; number: number | bigint } {
    let kind: AnyValueKind = 'none';
    let start = 0;
    let stop = 0;
    let number: number | bigint = 0;
    while (this.pos < end) {
      const tagAt = this.pos;
      const tag = this.readTag(end, ANY_VALUE);
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 2 && wire === WIRE_VARINT) {
        kind = 'bool';
        number = this.varintInt64(end, ANY_VALUE);
      } else if (field === 3 && wire === WIRE_VARINT) {
        kind = 'int';
        number = this.varintInt64(end, ANY_VALUE);
      } else if (field === 4 && wire === WIRE_I64) {
        kind = 'double';
        start = this.fixedAt(8, end, ANY_VALUE, tag, tagAt);
      } else if (wire === WIRE_LEN && field >= 1 && field <= 7 && field !== 2 && field !== 3 && field !== 4) {
        stop = this.payloadEnd(end, ANY_VALUE, tag, tagAt);
        start = this.pos;
        this.pos = stop;
        kind = field === 1 ? 'string' : field === 5 ? 'array' : field === 6 ? 'kvlist' : 'bytes';
      } else {
        this.skimField(ANY_VALUE, tag, tagAt, end, 0);
      }
    }
    return { kind, start, stop, number };
  }

  private anyValueJsonOf(kind: AnyValueKind, end: number, depth: number): Json {
    if (depth > 64) this.fail(this.pos, 'attribute values nest deeper than 64 levels');
    if (kind === 'array') {
      const values: Json[] = [];
      while (this.pos < end) {
        const tagAt = this.pos;
        const tag = this.readTag(end, ARRAY_VALUE);
        if (tag === TAG_ATTRIBUTES_1) {
          const stop = this.payloadEnd(end, ARRAY_VALUE, tag, tagAt);
          values.push(this.anyValueJson(stop, depth + 1));
          this.pos = stop;
        } else {
          this.skip(ARRAY_VALUE, tag, tagAt, end);
        }
      }
      return values;
    }
    const object: { [key: string]: Json } = {};
    while (this.pos < end) {
      const tagAt = this.pos;
      const tag = this.readTag(end, KEY_VALUE_LIST);
      if (tag !== TAG_ATTRIBUTES_1) {
        this.skip(KEY_VALUE_LIST, tag, tagAt, end);
        continue;
      }
      const kvEnd = this.payloadEnd(end, KEY_VALUE_LIST, tag, tagAt);
      let key = '';
      let value: Json = null;
      while (this.pos < kvEnd) {
        const innerAt = this.pos;
        const inner = this.readTag(kvEnd, KEY_VALUE);
        if (inner === TAG_KEY) {
          const keyEnd = this.payloadEnd(kvEnd, KEY_VALUE, inner, innerAt);
          key = this.utf8(this.pos, keyEnd);
          this.pos = keyEnd;
        } else if (inner === TAG_VALUE) {
          const valueEnd = this.payloadEnd(kvEnd, KEY_VALUE, inner, innerAt);
          value = this.anyValueJson(valueEnd, depth + 1);
          this.pos = valueEnd;
        } else {
          this.skip(KEY_VALUE, inner, innerAt, kvEnd);
        }
      }
      object[key] = value;
      this.pos = kvEnd;
    }
    return object;
  }
}

/** NaN and the infinities as the strings OTLP/JSON uses; other doubles as JSON numbers. */
export function jsonNumber(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

/**
 * Attributes with unique keys (the last value of a repeated key wins, as a protobuf map would decide): MAP columns
 * must not repeat a key, and OTLP says keys are unique, though a sender may break that.
 */
export function uniquePairs(pairs: StringPairs): StringPairs {
  if (pairs.length <= 2) return pairs;
  const seen = new Set<string | null>();
  let repeated = false;
  for (let i = 0; i < pairs.length; i += 2) {
    if (seen.has(pairs[i]!)) {
      repeated = true;
      break;
    }
    seen.add(pairs[i]!);
  }
  if (!repeated) return pairs;
  const last = new Map<string, string | null>();
  for (let i = 0; i < pairs.length; i += 2) {
    const key = pairs[i] as string;
    last.delete(key);
    last.set(key, pairs[i + 1] ?? null);
  }
  const unique: StringPairs = [];
  for (const [key, value] of last) unique.push(key, value);
  return unique;
}
