// A decoded protobufjs message → OTLP/JSON: lowerCamelCase names, hex ids, base64 for other bytes, 64-bit integers
// as decimal strings, enums as integers, default-valued fields without presence left out.
import protobuf from 'protobufjs';
import { HEX_ID_BYTES } from './json-ids.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

export function messageToJson(type: protobuf.Type, message: protobuf.Message | Record<string, unknown>): Record<string, Json> {
  const source = message as Record<string, unknown>;
  const out: Record<string, Json> = {};
  for (const field of type.fieldsArray) {
    // protobufjs keeps defaults on the prototype: an own property means the field was on the wire.
    if (!Object.prototype.hasOwnProperty.call(source, field.name)) continue;
    const value = source[field.name];
    if (value === null || value === undefined) continue;
    if (field.repeated) {
      const values = value as unknown[];
      if (values.length > 0) out[field.name] = values.map((item) => valueToJson(field, item));
      continue;
    }
    // Oneof members (and proto3 `optional` fields) have presence: a zero that was sent is kept.
    if (field.partOf === null && isDefault(field, value)) continue;
    out[field.name] = valueToJson(field, value);
  }
  return out;
}

function valueToJson(field: protobuf.Field, value: unknown): Json {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return messageToJson(resolved, value as protobuf.Message);
  if (resolved instanceof protobuf.Enum) return value as number;
  if (field.type === 'bytes') {
    const bytes = Buffer.from(value as Uint8Array);
    return HEX_ID_BYTES.has(field.name) ? bytes.toString('hex') : bytes.toString('base64');
  }
  if (LONG_TYPES.has(field.type)) return String(value);
  if (field.type === 'double' || field.type === 'float') {
    const number = value as number;
    if (Number.isNaN(number)) return 'NaN';
    if (number === Infinity) return 'Infinity';
    if (number === -Infinity) return '-Infinity';
    return number;
  }
  return value as Json;
}

function isDefault(field: protobuf.Field, value: unknown): boolean {
  if (field.resolvedType instanceof protobuf.Type) return false;
  if (field.type === 'bytes') return (value as Uint8Array).length === 0;
  if (LONG_TYPES.has(field.type)) return String(value) === '0';
  return value === 0 || value === false || value === '';
}
