// OTLP/JSON → a protobufjs-encodable object, validating as it goes. What the OTLP spec allows is accepted: 64-bit
// integers as numbers or decimal strings, enums as integers (names too, as proto3 JSON allows), hex trace/span ids,
// base64 (standard or URL-safe) for other bytes, null for "not set". Unknown field names are ignored, as the spec
// requires of receivers — except the snake_case spelling of a known field, which is refused with a hint, because
// ignoring it would silently drop data.
import protobuf from 'protobufjs';
import { MalformedPayloadError } from '../errors.js';
import { HEX_ID_BYTES } from './json-ids.js';

/** Nesting deeper than this is refused: AnyValue can nest without bound, the stack cannot. */
const MAX_DEPTH = 100;

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

const DECIMAL_INTEGER = /^-?\d+$/;
const DECIMAL_NUMBER = /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const HEX = /^[0-9a-fA-F]*$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

class JsonReader {
  constructor(private readonly rootName: string) {}

  fail(path: string, what: string): never {
    throw new MalformedPayloadError(`invalid OTLP/JSON ${this.rootName}: ${path === '' ? '' : `${path}: `}${what}`);
  }

  message(type: protobuf.Type, json: unknown, path: string, depth: number): Record<string, unknown> {
    if (depth > MAX_DEPTH) this.fail(path, `nesting is deeper than ${MAX_DEPTH} levels`);
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      this.fail(path, `expected a JSON object (${type.name}), got ${describe(json)}`);
    }
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(json)) {
      const fieldPath = path === '' ? key : `${path}.${key}`;
      const field = Object.prototype.hasOwnProperty.call(type.fields, key) ? type.fields[key] : undefined;
      if (field === undefined) {
        const camel = snakeToCamel(key);
        if (camel !== key && Object.prototype.hasOwnProperty.call(type.fields, camel)) {
          this.fail(fieldPath, `OTLP/JSON field names are lowerCamelCase: write "${camel}", not "${key}"`);
        }
        continue;
      }
      if (value === null) continue;
      if (field.repeated) {
        if (!Array.isArray(value)) this.fail(fieldPath, `expected an array, got ${describe(value)}`);
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
        if (typeof json !== 'string') this.fail(path, `expected a string, got ${describe(json)}`);
        if (LONE_SURROGATE.test(json)) this.fail(path, 'string contains an unpaired UTF-16 surrogate (not encodable as UTF-8)');
        return json;
      case 'bool':
        if (typeof json !== 'boolean') this.fail(path, `expected true or false, got ${describe(json)}`);
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
    let value: bigint;
    if (typeof json === 'number' && Number.isInteger(json)) {
      value = BigInt(json);
    } else if (typeof json === 'string' && DECIMAL_INTEGER.test(json)) {
      value = BigInt(json);
    } else {
      return this.fail(path, `expected an integer (${type}) as a number or a decimal string, got ${describe(json)}`);
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
    if (json === 'NaN') return NaN;
    if (json === 'Infinity') return Infinity;
    if (json === '-Infinity') return -Infinity;
    if (typeof json === 'string' && DECIMAL_NUMBER.test(json)) return Number(json);
    return this.fail(path, `expected a number (or "NaN", "Infinity", "-Infinity"), got ${describe(json)}`);
  }

  private enumValue(type: protobuf.Enum, json: unknown, path: string): number {
    if (typeof json === 'number' && Number.isInteger(json) && json >= -(2 ** 31) && json < 2 ** 31) return json;
    if (typeof json === 'string' && Object.prototype.hasOwnProperty.call(type.values, json)) return type.values[json]!;
    return this.fail(path, `expected an integer value of enum ${type.name}, got ${describe(json)}`);
  }

  private bytesValue(field: protobuf.Field, json: unknown, path: string): Buffer {
    if (typeof json !== 'string') this.fail(path, `expected a string, got ${describe(json)}`);
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

/** Converts parsed OTLP/JSON into an object that `type.encode` accepts; throws MalformedPayloadError on bad input. */
export function jsonToMessage(type: protobuf.Type, json: unknown): Record<string, unknown> {
  return new JsonReader(type.name).message(type, json, '', 0);
}

function snakeToCamel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_match, letter: string) => letter.toUpperCase());
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return `${typeof value} ${String(value)}`;
}
