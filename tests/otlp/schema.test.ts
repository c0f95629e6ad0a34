// The scanner's hand-written view of the OTLP messages must match the .proto files field for field.
import protobuf from 'protobufjs';
import { SIGNALS } from '../../src/model.js';
import { requestType } from '../../src/otlp/proto-root.js';
import { EXPORT_LOGS_REQUEST, EXPORT_METRICS_REQUEST, EXPORT_TRACE_REQUEST } from '../../src/otlp/schema.js';
import type { MessageSchema } from '../../src/otlp/wire.js';

const ROOTS = { traces: EXPORT_TRACE_REQUEST, metrics: EXPORT_METRICS_REQUEST, logs: EXPORT_LOGS_REQUEST };

const snake = (name: string): string => name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);

function wireTypeOf(field: protobuf.Field): number {
  if (field.resolvedType instanceof protobuf.Type) return 2;
  if (['double', 'fixed64', 'sfixed64'].includes(field.type)) return 1;
  if (['float', 'fixed32', 'sfixed32'].includes(field.type)) return 5;
  if (['string', 'bytes'].includes(field.type)) return 2;
  return 0; // varint kinds and enums
}

function compare(schema: MessageSchema, type: protobuf.Type, checked: Set<MessageSchema>): void {
  if (checked.has(schema)) return;
  checked.add(schema);
  expect(type.fullName.endsWith(`.${schema.name}`)).toBe(true);
  const known = schema.fields.flatMap((spec, number) => (spec === undefined ? [] : [number]));
  expect(known.sort((a, b) => a - b)).toEqual(type.fieldsArray.map((field) => field.id).sort((a, b) => a - b));
  for (const field of type.fieldsArray) {
    const spec = schema.fields[field.id]!;
    const where = `${schema.name}.${spec.name}`;
    expect(`${where}:${spec.name}`).toBe(`${where}:${snake(field.name)}`);
    expect(`${where}:${spec.wire}`).toBe(`${where}:${wireTypeOf(field)}`);
    const packable = field.repeated && wireTypeOf(field) !== 2;
    const packed = !packable ? null : { 0: 'varint', 1: 'fixed64', 5: 'fixed32' }[wireTypeOf(field) as 0 | 1 | 5];
    expect(`${where}:${spec.packed}`).toBe(`${where}:${packed}`);
    const idLength = field.name === 'traceId' ? 16 : field.name === 'spanId' || field.name === 'parentSpanId' ? 8 : 0;
    expect(`${where}:${spec.idLength}`).toBe(`${where}:${idLength}`);
    if (field.resolvedType instanceof protobuf.Type) {
      expect(spec.message).not.toBeNull();
      compare(spec.message!, field.resolvedType, checked);
    } else {
      expect(spec.message).toBeNull();
    }
  }
}

test.each(SIGNALS.map((signal) => [signal]))('%s: the scanner schema matches the .proto files', (signal) => {
  const checked = new Set<MessageSchema>();
  compare(ROOTS[signal], requestType(signal), checked);
  expect(checked.size).toBeGreaterThan(10);
});
