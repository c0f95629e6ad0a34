// OTLP/JSON → a protobufjs-encodable object, validating as it goes. What the OTLP spec allows is accepted: 64-bit
// integers as numbers or decimal strings (exponents too, when the value is whole, as proto3 JSON allows), enums as
// integers (names too, as proto3 JSON allows), hex trace/span ids, base64 (standard or URL-safe) for other bytes,
// null for "not set". Field names in lowerCamelCase or as in the .proto (snake_case): proto3 JSON parsers accept
// both and so does the Collector's receiver, so a snake_case key is data, not an unknown field to drop. Field names
// that are neither are ignored, as the spec requires of receivers.
import protobuf from 'protobufjs';
import { MalformedPayloadError } from '../errors.js';
import { HEX_ID_BYTES } from './json-ids.js';
import { hasLoneSurrogate } from '../util/unicode.js';

/** Nesting deeper than this is refused: AnyValue can nest without bound, the stack cannot. */
export const MAX_DEPTH = 100;

const INT_RANGES: Record<string, readonly [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};
const UNSIGNED_64 = new Set(['uint64', 'fixed64']);
const SIGNED_64 = new Set(['int64', 'sint64', 'sfixed64']);

/** A JSON number's syntax (also accepted in quotes for integer fields): sign, digits, fraction, exponent. */
const JSON_NUMBER = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;
const DECIMAL_NUMBER = /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const HEX = /^[0-9a-fA-F]*$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Each message type's fields by both JSON spellings: lowerCamelCase (protobufjs' names) and the .proto's. */
const FIELDS_BY_KEY = new WeakMap<protobuf.Type, ReadonlyMap<string, protobuf.Field>>();

function fieldsByKey(type: protobuf.Type): ReadonlyMap<string, protobuf.Field> {
  let fields = FIELDS_BY_KEY.get(type);
  if (fields === undefined) {
    const byKey = new Map<string, protobuf.Field>();
    // OTLP's .proto names are lower snake_case (tests/otlp/schema.test.ts), so camelToSnake gives them back exactly.
    for (const field of type.fieldsArray) byKey.set(field.name, field).set(camelToSnake(field.name), field);
    fields = byKey;
    FIELDS_BY_KEY.set(type, fields);
  }
  return fields;
}

class JsonReader {
  /** `numberMarker`: see JsonText (strings that stand for number literals a double cannot hold). */
  constructor(
    private readonly rootName: string,
    private readonly numberMarker: string | null,
  ) {}

  /** The source text of a number literal kept as text, or undefined when `json` is not one. */
  private numberText(json: unknown): string | undefined {
    const marker = this.numberMarker;
    return marker !== null && typeof json === 'string' && json.startsWith(marker) ? json.slice(marker.length) : undefined;
  }

  private describe(value: unknown): string {
    const number = this.numberText(value);
    return number === undefined ? describe(value) : `number ${number}`;
  }

  fail(path: string, what: string): never {
    throw new MalformedPayloadError(`invalid OTLP/JSON ${this.rootName}: ${path === '' ? '' : `${path}: `}${what}`);
  }

  message(type: protobuf.Type, json: unknown, path: string, depth: number): Record<string, unknown> {
    if (depth > MAX_DEPTH) this.fail(path, `nesting is deeper than ${MAX_DEPTH} levels`);
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      this.fail(path, `expected a JSON object (${type.name}), got ${this.describe(json)}`);
    }
    const out: Record<string, unknown> = {};
    const fields = fieldsByKey(type);
    const keyOf = new Map<protobuf.Field, string>();
    for (const [key, value] of Object.entries(json)) {
      const fieldPath = path === '' ? key : `${path}.${key}`;
      const field = fields.get(key);
      if (field === undefined) continue;
      // Both spellings of one field: proto3 JSON parsers refuse a field given twice rather than pick one.
      const other = keyOf.get(field);
      if (other !== undefined) this.fail(fieldPath, `the field is given twice, as "${other}" and as "${key}"`);
      keyOf.set(field, key);
      if (value === null) continue;
      if (field.repeated) {
        if (!Array.isArray(value)) this.fail(fieldPath, `expected an array, got ${this.describe(value)}`);
        out[field.name] = value.map((item, i) => this.value(field, item, `${fieldPath}[${i}]`, depth));
      } else {
        out[field.name] = this.value(field, value, fieldPath, depth);
      }
    }
    for (const oneof of type.oneofsArray) {
      if (oneof.fieldsArray.length < 2) continue; // proto3 `optional`: a synthetic oneof of one field
      const set = oneof.fieldsArray.filter((member) => out[member.name] !== undefined).map((member) => member.name);
      if (set.length > 1) this.fail(path, `sets ${set.join(' and ')}, but only one of them may be set (oneof ${oneof.name})`);
    }
    return out;
  }

  private value(field: protobuf.Field, json: unknown, path: string, depth: number): unknown {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) return this.message(resolved, json, path, depth + 1);
    if (resolved instanceof protobuf.Enum) return this.enumValue(resolved, json, path);
    switch (field.type) {
      case 'string':
        if (typeof json !== 'string' || this.numberText(json) !== undefined) this.fail(path, `expected a string, got ${this.describe(json)}`);
        if (hasLoneSurrogate(json)) this.fail(path, 'string contains an unpaired UTF-16 surrogate (not encodable as UTF-8)');
        return json;
      case 'bool':
        if (typeof json !== 'boolean') this.fail(path, `expected true or false, got ${this.describe(json)}`);
        return json;
      case 'double':
      case 'float':
        return this.floatValue(json, path);
      case 'bytes':
        return this.bytesValue(field, json, path);
      default:
        return this.integerValue(field.type, json, path);
    }
  }

  private integerValue(type: string, json: unknown, path: string): unknown {
    const range = INT_RANGES[type];
    if (range === undefined) return this.fail(path, `field type ${type} is not supported`);
    let value: bigint | null = null;
    const number = this.numberText(json);
    if (number !== undefined) {
      value = wholeNumber(number);
    } else if (typeof json === 'number' && Number.isInteger(json)) {
      value = BigInt(json);
    } else if (typeof json === 'string') {
      value = wholeNumber(json);
    }
    if (value === null) {
      return this.fail(path, `expected an integer (${type}) as a number or a decimal string, got ${this.describe(json)}`);
    }
    if (value < range[0] || value > range[1]) this.fail(path, `${value} is out of range for ${type}`);
    if (UNSIGNED_64.has(type) || SIGNED_64.has(type)) {
      const low = Number(BigInt.asUintN(32, value));
      const high = Number(BigInt.asUintN(32, value >> 32n));
      return new protobuf.util.LongBits(low, high).toLong(UNSIGNED_64.has(type));
    }
    return Number(value);
  }

  private floatValue(json: unknown, path: string): number {
    if (typeof json === 'number') return json;
    const number = this.numberText(json);
    if (number !== undefined) return Number(number);
    if (json === 'NaN') return NaN;
    if (json === 'Infinity') return Infinity;
    if (json === '-Infinity') return -Infinity;
    if (typeof json === 'string' && DECIMAL_NUMBER.test(json)) return Number(json);
    return this.fail(path, `expected a number (or "NaN", "Infinity", "-Infinity"), got ${this.describe(json)}`);
  }

  private enumValue(type: protobuf.Enum, json: unknown, path: string): number {
    const number = this.numberText(json);
    if (number !== undefined) return this.enumValue(type, Number(number), path);
    if (typeof json === 'number' && Number.isInteger(json) && json >= -(2 ** 31) && json < 2 ** 31) return json;
    if (typeof json === 'string' && Object.prototype.hasOwnProperty.call(type.values, json)) return type.values[json]!;
    return this.fail(path, `expected an integer value of enum ${type.name}, got ${this.describe(json)}`);
  }

  private bytesValue(field: protobuf.Field, json: unknown, path: string): Buffer {
    if (typeof json !== 'string' || this.numberText(json) !== undefined) this.fail(path, `expected a string, got ${this.describe(json)}`);
    const idLength = HEX_ID_BYTES.get(field.name);
    if (idLength !== undefined) {
      if (!HEX.test(json) || (json.length !== 0 && json.length !== idLength * 2)) {
        const what = idLength === 16 ? 'trace id' : 'span id';
        this.fail(path, `expected a ${what} as ${idLength * 2} hex digits (or ""), got ${describe(json)}`);
      }
      return Buffer.from(json, 'hex');
    }
    if (!BASE64.test(json) || json.replace(/=+$/, '').length % 4 === 1) {
      this.fail(path, `expected base64, got ${describe(json)}`);
    }
    return Buffer.from(json, 'base64');
  }
}

/**
 * Converts parsed OTLP/JSON into an object that `type.encode` accepts; throws MalformedPayloadError on bad input.
 * `numberMarker`: from readJsonText, when the text had number literals that a double cannot hold exactly.
 */
export function jsonToMessage(type: protobuf.Type, json: unknown, numberMarker: string | null = null): Record<string, unknown> {
  return new JsonReader(type.name, numberMarker).message(type, json, '', 0);
}

function camelToSnake(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/** Beyond every 64-bit range: what an exponent too large to expand stands for. */
const OUT_OF_RANGE = 2n ** 70n;

/**
 * The exact value of a JSON number's text when it is a whole number ("1.7e18", "25.0", "1700000000123456789"),
 * else null. Exact: no double in between.
 */
function wholeNumber(text: string): bigint | null {
  const match = JSON_NUMBER.exec(text);
  if (match === null) return null;
  const [, sign, whole, fraction = '', exponentText = '0'] = match;
  const digits = `${whole}${fraction}`.replace(/^0+(?=\d)/, '');
  const exponent = Number(exponentText) - fraction.length;
  // How many digits the whole number has: past 40, it is out of every range (and not worth a BigInt).
  const wholeDigits = digits.length + exponent;
  let magnitude: bigint;
  if (/^0*$/.test(digits)) {
    magnitude = 0n;
  } else if (exponent < 0 && /[^0]/.test(digits.slice(Math.max(0, wholeDigits)))) {
    return null; // a fraction is left
  } else if (wholeDigits > 40) {
    magnitude = OUT_OF_RANGE;
  } else if (exponent >= 0) {
    magnitude = BigInt(digits) * 10n ** BigInt(exponent);
  } else {
    magnitude = wholeDigits > 0 ? BigInt(digits.slice(0, wholeDigits)) : 0n;
  }
  return sign === '-' ? -magnitude : magnitude;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return `${typeof value} ${String(value)}`;
}
