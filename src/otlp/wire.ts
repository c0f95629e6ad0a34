// A validating cursor over protobuf wire format, plus a schema-driven walker for the parts of a message whose content
// is only checked, never extracted. It reads in place: no objects per field, no copies of the input.
import { MalformedPayloadError } from '../errors.js';

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

/** Protobuf allows field numbers up to 2^29 - 1. */
const MAX_FIELD_NUMBER = 0x1fffffff;
/** Nested messages deeper than this are refused: AnyValue can nest without bound, the stack cannot. */
export const MAX_NESTING_DEPTH = 100;

const WIRE_TYPE_NAMES = ['varint', '64-bit', 'length-delimited', 'start-group', 'end-group', '32-bit', '6', '7'];

/** What a length-delimited field holding packed scalars contains. */
export type PackedElement = 'varint' | 'fixed64' | 'fixed32';

export interface FieldSpec {
  readonly name: string;
  /** The wire type a proto3 encoder writes for one value of this field. */
  readonly wire: number;
  /** Repeated numeric fields may also arrive packed (length-delimited); null when not repeated numeric. */
  readonly packed: PackedElement | null;
  /** The message type of a message field, else null. */
  readonly message: MessageSchema | null;
  /** For trace and span ids: the only non-zero length allowed (16 or 8); 0 when any length goes. */
  readonly idLength: number;
}

export interface MessageSchema {
  readonly name: string;
  /** Indexed by field number; holes are fields this version does not know (skipped, never rejected). */
  fields: (FieldSpec | undefined)[];
}

/**
 * A cursor over one encoded request. Every read is bounded by the end of the enclosing message, so no read ever
 * leaves the buffer; any violation throws MalformedPayloadError naming the message, the field and the byte offset.
 */
export class WireReader {
  readonly buf: Uint8Array;
  pos = 0;

  constructor(buf: Uint8Array, private readonly rootName: string) {
    // A plain Uint8Array view even when given a Buffer: one element kind keeps the hot loops monomorphic.
    this.buf = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  fail(offset: number, what: string): never {
    throw new MalformedPayloadError(`malformed ${this.rootName}: ${what} (at byte ${offset})`);
  }

  /** Reads a field tag and returns it whole (field number << 3 | wire type), refusing what protobuf forbids. */
  readTag(end: number, within: MessageSchema): number {
    const start = this.pos;
    const first = this.buf[start]!;
    let tag: number;
    if (first < 0x80) {
      this.pos = start + 1;
      tag = first;
    } else {
      tag = this.readVarintNumber(end, within);
      if (tag > MAX_FIELD_NUMBER * 8 + 7) {
        this.fail(start, `${within.name} has a field number above ${MAX_FIELD_NUMBER}`);
      }
    }
    const wire = tag & 7;
    if (tag < 8) this.fail(start, `${within.name} has a field with number 0; field numbers start at 1`);
    if (wire === 3 || wire === 4) {
      this.fail(start, `${within.name} field ${tag >>> 3} uses wire type ${wire} (${WIRE_TYPE_NAMES[wire]}); OTLP never uses groups`);
    }
    if (wire > 5) this.fail(start, `${within.name} field ${tag >>> 3} has invalid wire type ${wire}`);
    return tag;
  }

  /**
   * Reads a varint as a JS number. Values past 2^53 lose precision, which is harmless: callers use this for tags and
   * lengths, where such values are invalid anyway.
   */
  readVarintNumber(end: number, within: MessageSchema): number {
    const buf = this.buf;
    const start = this.pos;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const p = start + i;
      if (p >= end) this.failEnded(start, end, within, 'a varint');
      const b = buf[p]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (i === 9 && b > 1) this.fail(start, `varint in ${within.name} overflows 64 bits`);
        this.pos = p + 1;
        return value;
      }
      scale *= 128;
    }
    return this.fail(start, `varint in ${within.name} is longer than 10 bytes`);
  }

  skipVarint(end: number, within: MessageSchema): void {
    const buf = this.buf;
    const start = this.pos;
    for (let i = 0; i < 10; i++) {
      const p = start + i;
      if (p >= end) this.failEnded(start, end, within, 'a varint');
      const b = buf[p]!;
      if (b < 0x80) {
        if (i === 9 && b > 1) this.fail(start, `varint in ${within.name} overflows 64 bits`);
        this.pos = p + 1;
        return;
      }
    }
    this.fail(start, `varint in ${within.name} is longer than 10 bytes`);
  }

  /** Reads the length prefix of a length-delimited field (tag at `tagAt`) and returns where its payload ends. */
  readLengthEnd(end: number, within: MessageSchema, field: FieldSpec | undefined, tag: number, tagAt: number): number {
    const at = this.pos;
    const b = this.buf[at]!;
    let length: number;
    if (b < 0x80 && at < end) {
      this.pos = at + 1;
      length = b;
    } else {
      length = this.readVarintNumber(end, within);
    }
    const payloadEnd = this.pos + length;
    if (payloadEnd > end) {
      this.fail(tagAt, `${describeField(within, field, tag)} declares a length of ${length} bytes but only ` +
        `${end - this.pos} remain ${remainIn(this, end, within)} (length runs past the end of its enclosing message)`);
    }
    return payloadEnd;
  }

  /** Checks that a fixed-size value fits, moves past it and returns its offset. */
  takeFixed(size: 4 | 8, end: number, within: MessageSchema, field: FieldSpec | undefined, tag: number, tagAt: number): number {
    const at = this.pos;
    if (end - at < size) {
      this.fail(tagAt, `${describeField(within, field, tag)} needs ${size} bytes but only ${end - at} remain ${remainIn(this, end, within)}`);
    }
    this.pos = at + size;
    return at;
  }

  failEnded(at: number, end: number, within: MessageSchema, what: string): never {
    const where = end === this.buf.length ? 'the input ends (truncated?)' : `the enclosing ${within.name} ends at byte ${end}`;
    this.fail(at, `${where} in the middle of ${what}`);
  }

  failWireType(at: number, within: MessageSchema, field: FieldSpec, tag: number): never {
    const got = tag & 7;
    const allowed = field.packed === null ? `${field.wire} (${WIRE_TYPE_NAMES[field.wire]})` :
      `${field.wire} (${WIRE_TYPE_NAMES[field.wire]}) or 2 (packed)`;
    this.fail(at, `${describeField(within, field, tag)} has wire type ${got} (${WIRE_TYPE_NAMES[got]}); expected ${allowed}`);
  }

  failIdLength(at: number, within: MessageSchema, field: FieldSpec, tag: number, length: number): never {
    const kind = field.idLength === 16 ? 'a trace id' : 'a span id';
    this.fail(at, `${describeField(within, field, tag)} is ${length} bytes long; ${kind} must be ${field.idLength} bytes or empty`);
  }

  /** Validates a whole message of a known type whose content nobody needs, ending at `end`. */
  skimMessage(schema: MessageSchema, end: number, depth: number): void {
    if (depth > MAX_NESTING_DEPTH) this.fail(this.pos, `messages nest deeper than ${MAX_NESTING_DEPTH} levels inside ${schema.name}`);
    const buf = this.buf;
    const fields = schema.fields;
    while (this.pos < end) {
      const tagAt = this.pos;
      // Fast paths, without calls, for the common shapes of known fields 1..15: a length-delimited value shorter than
      // 128 bytes, a one-byte varint, a 64-bit value. Anything else takes the general path below.
      const tag = buf[tagAt]!;
      const field = tag < 0x80 ? fields[tag >>> 3] : undefined;
      if (field !== undefined && field.wire === (tag & 7)) {
        if (field.wire === WIRE_LEN) {
          const length = buf[tagAt + 1]!;
          const payloadEnd = tagAt + 2 + length;
          if (length < 0x80 && payloadEnd <= end) {
            if (field.message !== null) {
              this.pos = tagAt + 2;
              this.skimMessage(field.message, payloadEnd, depth + 1);
              continue;
            }
            if (field.idLength === 0) {
              this.pos = payloadEnd;
              continue;
            }
          }
        } else if (field.wire === WIRE_VARINT) {
          if (tagAt + 1 < end && buf[tagAt + 1]! < 0x80) {
            this.pos = tagAt + 2;
            continue;
          }
        } else if (field.wire === WIRE_I64 && tagAt + 9 <= end) {
          this.pos = tagAt + 9;
          continue;
        }
      }
      this.skimField(schema, this.readTag(end, schema), tagAt, end, depth);
    }
  }

  /**
   * The commonest attribute without a call per level: a KeyValue whose key and value come one each, in order, with
   * lengths of one or two varint bytes, the value an AnyValue holding a string, a bool, an int, a double, or nothing.
   * Validates exactly what skimMessage(KEY_VALUE) would for that shape, moves past it and returns true; for any other
   * shape it returns false without moving (the caller then skims it the general way). `this.pos` is at the KeyValue's
   * length prefix; `end` is the end of the enclosing message.
   */
  skimPlainKeyValue(end: number): boolean {
    const buf = this.buf;
    const at = this.pos;
    const kvEnd = this.shortPayloadEnd(at, end);
    const keyAt = at + (buf[at]! < 0x80 ? 1 : 2);
    if (kvEnd < 0 || kvEnd > end || keyAt >= kvEnd || buf[keyAt] !== 0x0a) return false;
    // key: field 1, length-delimited; then value: field 2, an AnyValue that ends the KeyValue
    const keyEnd = this.shortPayloadEnd(keyAt + 1, kvEnd);
    if (keyEnd < 0 || keyEnd + 2 > kvEnd || buf[keyEnd] !== 0x12) return false;
    const valueEnd = this.shortPayloadEnd(keyEnd + 1, kvEnd);
    if (valueEnd !== kvEnd) return false;
    const valueAt = keyEnd + (buf[keyEnd + 1]! < 0x80 ? 2 : 3);
    if (valueAt < valueEnd) {
      const tag = buf[valueAt]!;
      if (tag === 0x0a) {
        // string_value
        if (this.shortPayloadEnd(valueAt + 1, valueEnd) !== valueEnd) return false;
      } else if (tag === 0x10 || tag === 0x18) {
        // bool_value, int_value: one varint that ends the value (at most 10 bytes, the 10th at most 1)
        const bytes = valueEnd - valueAt - 1;
        if (bytes < 1 || bytes > 10 || buf[valueEnd - 1]! >= 0x80) return false;
        for (let i = valueAt + 1; i < valueEnd - 1; i++) if (buf[i]! < 0x80) return false;
        if (bytes === 10 && buf[valueEnd - 1]! > 1) return false;
      } else if (tag === 0x21) {
        // double_value
        if (valueAt + 9 !== valueEnd) return false;
      } else {
        return false;
      }
    }
    this.pos = kvEnd;
    return true;
  }

  /**
   * For skimPlainKeyValue: where the payload whose length prefix starts at `at` ends, when that prefix is one or two
   * bytes lying before `limit`; -1 otherwise. The payload itself is not checked against `limit`.
   */
  private shortPayloadEnd(at: number, limit: number): number {
    if (at >= limit) return -1;
    const b = this.buf[at]!;
    if (b < 0x80) return at + 1 + b;
    if (at + 1 >= limit) return -1;
    const b1 = this.buf[at + 1]!;
    return b1 < 0x80 ? at + 2 + ((b & 0x7f) | (b1 << 7)) : -1;
  }

  /** Validates and skips one field whose tag has just been read. Unknown fields are skipped by wire type. */
  skimField(schema: MessageSchema, tag: number, tagAt: number, end: number, depth: number): void {
    const wire = tag & 7;
    const field = schema.fields[tag >>> 3];
    if (field !== undefined && wire !== field.wire && !(wire === WIRE_LEN && field.packed !== null)) {
      this.failWireType(tagAt, schema, field, tag);
    }
    switch (wire) {
      case WIRE_VARINT:
        this.skipVarint(end, schema);
        return;
      case WIRE_I64:
        this.takeFixed(8, end, schema, field, tag, tagAt);
        return;
      case WIRE_I32:
        this.takeFixed(4, end, schema, field, tag, tagAt);
        return;
      default: {
        const payloadEnd = this.readLengthEnd(end, schema, field, tag, tagAt);
        if (field !== undefined) {
          if (field.message !== null) {
            this.skimMessage(field.message, payloadEnd, depth + 1);
          } else if (field.packed !== null) {
            this.checkPacked(field, payloadEnd, schema, tag);
          } else if (field.idLength !== 0) {
            const length = payloadEnd - this.pos;
            if (length !== 0 && length !== field.idLength) this.failIdLength(tagAt, schema, field, tag, length);
          }
        }
        this.pos = payloadEnd;
      }
    }
  }

  private checkPacked(field: FieldSpec, payloadEnd: number, schema: MessageSchema, tag: number): void {
    const length = payloadEnd - this.pos;
    if (field.packed === 'varint') {
      while (this.pos < payloadEnd) this.skipVarint(payloadEnd, schema);
      return;
    }
    const size = field.packed === 'fixed64' ? 8 : 4;
    if (length % size !== 0) {
      this.fail(this.pos, `${describeField(schema, field, tag)} holds packed ${size}-byte values but is ${length} bytes long`);
    }
  }
}

function describeField(within: MessageSchema, field: FieldSpec | undefined, tag: number): string {
  const number = tag >>> 3;
  return field === undefined ? `${within.name} field ${number}` : `${within.name}.${field.name} (field ${number})`;
}

function remainIn(reader: WireReader, end: number, within: MessageSchema): string {
  return end === reader.buf.length ? 'in the input (truncated?)' : `in the enclosing ${within.name}, which ends at byte ${end}`;
}
