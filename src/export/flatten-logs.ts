// One LogRecord → one row of the logs table (tables.ts, LOGS_TABLE order).
import { LOG_RECORD } from '../otlp/schema.js';
import { WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT } from '../otlp/wire.js';
import type { FlatReader } from './flat-reader.js';
import { uniquePairs } from './flat-reader.js';
import type { ItemContext } from './flatten.js';
import type { StringPairs } from './tables.js';

const TIME = (1 << 3) | WIRE_I64;
const SEVERITY_NUMBER = (2 << 3) | WIRE_VARINT;
const SEVERITY_TEXT = (3 << 3) | WIRE_LEN;
const BODY = (5 << 3) | WIRE_LEN;
const ATTRIBUTES = (6 << 3) | WIRE_LEN;
const FLAGS = (8 << 3) | WIRE_I32;
const TRACE_ID = (9 << 3) | WIRE_LEN;
const SPAN_ID = (10 << 3) | WIRE_LEN;
const OBSERVED_TIME = (11 << 3) | WIRE_I64;
const EVENT_NAME = (12 << 3) | WIRE_LEN;

export function logRecordRow(r: FlatReader, end: number, context: ItemContext): void {
  let time: bigint | null = null;
  let observed: bigint | null = null;
  let severityNumber: number | null = null;
  let severityText: string | null = null;
  let body: string | null = null;
  const attributes: StringPairs = [];
  let flags: number | null = null;
  let traceId: string | null = null;
  let spanId: string | null = null;
  let eventName: string | null = null;
  while (r.pos < end) {
    const tagAt = r.pos;
    const tag = r.readTag(end, LOG_RECORD);
    switch (tag) {
      case TIME:
        time = r.timestamp(r.fixedAt(8, end, LOG_RECORD, tag, tagAt));
        break;
      case OBSERVED_TIME:
        observed = r.timestamp(r.fixedAt(8, end, LOG_RECORD, tag, tagAt));
        break;
      case SEVERITY_NUMBER: {
        const value = r.varint32(end, LOG_RECORD);
        severityNumber = value === 0 ? null : value;
        break;
      }
      case SEVERITY_TEXT:
      case EVENT_NAME: {
        const textEnd = r.payloadEnd(end, LOG_RECORD, tag, tagAt);
        const text = r.utf8(r.pos, textEnd);
        if (tag === SEVERITY_TEXT) severityText = text === '' ? null : text;
        else eventName = text === '' ? null : text;
        r.pos = textEnd;
        break;
      }
      case BODY: {
        const bodyEnd = r.payloadEnd(end, LOG_RECORD, tag, tagAt);
        body = r.anyValueText(bodyEnd, 0);
        r.pos = bodyEnd;
        break;
      }
      case ATTRIBUTES:
        r.keyValue(r.payloadEnd(end, LOG_RECORD, tag, tagAt), attributes);
        break;
      case FLAGS:
        flags = r.fixed32(r.fixedAt(4, end, LOG_RECORD, tag, tagAt));
        break;
      case TRACE_ID:
      case SPAN_ID: {
        const idEnd = r.payloadEnd(end, LOG_RECORD, tag, tagAt);
        if (tag === TRACE_ID) traceId = r.hex(r.pos, idEnd);
        else spanId = r.hex(r.pos, idEnd);
        r.pos = idEnd;
        break;
      }
      default:
        r.skip(LOG_RECORD, tag, tagAt, end);
    }
  }
  const { resource, scope } = context;
  context.sink.add(
    [
      context.requestId,
      time,
      observed,
      severityNumber,
      severityText,
      body,
      traceId,
      spanId,
      flags,
      eventName,
      resource.serviceName,
      resource.attributes,
      scope.name,
      scope.version,
      uniquePairs(attributes),
      time,
      observed,
    ],
    time ?? observed ?? context.fallbackNs,
  );
}
