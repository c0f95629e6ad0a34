// Moves every timestamp of an encoded OTLP Export request by the same offset, at wire level.
//
// OTLP timestamps are fixed64 fields, so a shifted request has exactly the layout of the original: same length, same
// field order, same bytes everywhere except the eight bytes of each non-zero timestamp. Which fields are timestamps
// is read off the schema (every fixed64 `*time_unix_nano` field: span start/end, span event time, every data point
// kind's start and time, exemplar time, log time and observed time), and the walk only descends into messages that
// can hold one — attributes and bodies are skipped by their length.
import { InvalidArgumentError } from '../errors.js';
import type { Signal } from '../model.js';
import { EXPORT_LOGS_REQUEST, EXPORT_METRICS_REQUEST, EXPORT_TRACE_REQUEST } from './schema.js';
import { WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT, WireReader } from './wire.js';
import type { MessageSchema } from './wire.js';

const REQUESTS: Record<Signal, MessageSchema> = {
  traces: EXPORT_TRACE_REQUEST,
  metrics: EXPORT_METRICS_REQUEST,
  logs: EXPORT_LOGS_REQUEST,
};

const UINT64_MAX = 2n ** 64n - 1n;

/** Per message type: its timestamp fields, and the message fields that lead to more timestamps. */
interface TimePlan {
  times: Set<number>;
  descend: Map<number, TimePlan>;
}

const plans = new Map<MessageSchema, TimePlan | null>();

/** The plan for `schema`, or null when no timestamp can be found inside it. Cycles (AnyValue) hold none. */
function planFor(schema: MessageSchema): TimePlan | null {
  if (plans.has(schema)) return plans.get(schema)!;
  plans.set(schema, null); // provisional, for recursive types
  const plan: TimePlan = { times: new Set(), descend: new Map() };
  schema.fields.forEach((field, number) => {
    if (field === undefined) return;
    if (field.wire === WIRE_I64 && field.packed === null && field.name.endsWith('time_unix_nano')) plan.times.add(number);
    else if (field.message !== null) {
      const inner = planFor(field.message);
      if (inner !== null) plan.descend.set(number, inner);
    }
  });
  const result = plan.times.size > 0 || plan.descend.size > 0 ? plan : null;
  plans.set(schema, result);
  return result;
}

/** The timestamp field names a plan shifts, per message name: for tests and documentation. */
export function shiftedTimestampFields(signal: Signal): string[] {
  const names = new Set<string>();
  const visit = (schema: MessageSchema, seen: Set<MessageSchema>): void => {
    if (seen.has(schema)) return;
    seen.add(schema);
    schema.fields.forEach((field) => {
      if (field === undefined) return;
      if (field.wire === WIRE_I64 && field.name.endsWith('time_unix_nano')) names.add(`${schema.name}.${field.name}`);
      if (field.message !== null && planFor(field.message) !== null) visit(field.message, seen);
    });
  };
  visit(REQUESTS[signal], new Set());
  return [...names].sort();
}

export interface ShiftResult {
  bytes: Buffer;
  /** Non-zero timestamps moved. */
  shifted: number;
}

/**
 * A copy of `request` with every non-zero timestamp moved by `offsetNs`; zero ("unset") stays zero. The input is not
 * modified. An offset of 0 returns an identical copy.
 * @throws InvalidArgumentError when a timestamp would leave the unsigned 64-bit range or become 0 (unset).
 * @throws MalformedPayloadError when the framing is broken.
 */
export function shiftTimestamps(signal: Signal, request: Uint8Array, offsetNs: bigint): ShiftResult {
  const bytes = Buffer.from(request);
  if (offsetNs === 0n) return { bytes, shifted: 0 };
  const schema = REQUESTS[signal];
  const shifter = new TimeShifter(bytes, schema.name, offsetNs);
  shifter.walk(schema, planFor(schema)!, bytes.length);
  return { bytes, shifted: shifter.shifted };
}

class TimeShifter extends WireReader {
  shifted = 0;
  private readonly view: DataView;

  constructor(out: Buffer, rootName: string, private readonly offsetNs: bigint) {
    super(out, rootName);
    this.view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  }

  walk(schema: MessageSchema, plan: TimePlan, end: number): void {
    while (this.pos < end) {
      const tagAt = this.pos;
      const tag = this.readTag(end, schema);
      const number = tag >>> 3;
      switch (tag & 7) {
        case WIRE_I64: {
          const at = this.takeFixed(8, end, schema, schema.fields[number], tag, tagAt);
          if (plan.times.has(number)) this.shiftAt(at, schema, number);
          break;
        }
        case WIRE_LEN: {
          const payloadEnd = this.readLengthEnd(end, schema, schema.fields[number], tag, tagAt);
          const inner = plan.descend.get(number);
          const innerSchema = schema.fields[number]?.message;
          if (inner !== undefined && innerSchema) this.walk(innerSchema, inner, payloadEnd);
          this.pos = payloadEnd;
          break;
        }
        case WIRE_VARINT:
          this.skipVarint(end, schema);
          break;
        case WIRE_I32:
          this.takeFixed(4, end, schema, schema.fields[number], tag, tagAt);
          break;
      }
    }
  }

  private shiftAt(at: number, schema: MessageSchema, number: number): void {
    const value = this.view.getBigUint64(at, true);
    if (value === 0n) return;
    const moved = value + this.offsetNs;
    if (moved <= 0n || moved > UINT64_MAX) {
      throw new InvalidArgumentError(
        `a time shift of ${this.offsetNs} ns moves ${schema.name}.${schema.fields[number]?.name ?? number} = ${value} ` +
          'out of the range of timestamps (after 1970-01-01T00:00:00Z, before the year 2554)',
      );
    }
    this.view.setBigUint64(at, moved, true);
    this.shifted += 1;
  }
}
