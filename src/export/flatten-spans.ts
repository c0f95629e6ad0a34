// One Span → one row of the spans table (tables.ts, SPANS_TABLE order). Events and links become JSON arrays.
import { SPAN, SPAN_EVENT, SPAN_LINK, STATUS } from '../otlp/schema.js';
import { WIRE_I64, WIRE_LEN, WIRE_VARINT } from '../otlp/wire.js';
import { nanosToIso } from '../query/request-view.js';
import type { FlatReader } from './flat-reader.js';
import { uniquePairs } from './flat-reader.js';
import type { ItemContext } from './flatten.js';
import type { StringPairs } from './tables.js';

const LEN = (field: number): number => (field << 3) | WIRE_LEN;
const I64 = (field: number): number => (field << 3) | WIRE_I64;
const VARINT = (field: number): number => (field << 3) | WIRE_VARINT;

// Tags (field number << 3 | wire type) as constants, so that the switch compares numbers.
const TRACE_ID = LEN(1);
const SPAN_ID = LEN(2);
const TRACE_STATE = LEN(3);
const PARENT_SPAN_ID = LEN(4);
const NAME = LEN(5);
const KIND = VARINT(6);
const START = I64(7);
const END = I64(8);
const ATTRIBUTES = LEN(9);
const EVENTS = LEN(11);
const LINKS = LEN(13);
const SPAN_STATUS = LEN(15);
const STATUS_MESSAGE = LEN(2);
const STATUS_CODE = VARINT(3);

const SPAN_KINDS = ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'];
const STATUS_CODES = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];

export function spanRow(r: FlatReader, end: number, context: ItemContext): void {
  let traceId: string | null = null;
  let spanId: string | null = null;
  let parentSpanId: string | null = null;
  let traceState: string | null = null;
  let name = '';
  let kind = 0;
  let start: bigint | null = null;
  let stop: bigint | null = null;
  const attributes: StringPairs = [];
  let events: unknown[] | null = null;
  let links: unknown[] | null = null;
  let statusCode = 0;
  let statusMessage: string | null = null;
  while (r.pos < end) {
    const tagAt = r.pos;
    const tag = r.readTag(end, SPAN);
    switch (tag) {
      case TRACE_ID:
      case SPAN_ID:
      case PARENT_SPAN_ID: {
        const idEnd = r.payloadEnd(end, SPAN, tag, tagAt);
        const id = r.hex(r.pos, idEnd);
        if (tag === TRACE_ID) traceId = id;
        else if (tag === SPAN_ID) spanId = id;
        else parentSpanId = id;
        r.pos = idEnd;
        break;
      }
      case TRACE_STATE:
      case NAME: {
        const textEnd = r.payloadEnd(end, SPAN, tag, tagAt);
        const text = r.utf8(r.pos, textEnd);
        if (tag === NAME) name = text;
        else traceState = text === '' ? null : text;
        r.pos = textEnd;
        break;
      }
      case KIND:
        kind = r.varint32(end, SPAN);
        break;
      case START:
        start = r.timestamp(r.fixedAt(8, end, SPAN, tag, tagAt));
        break;
      case END:
        stop = r.timestamp(r.fixedAt(8, end, SPAN, tag, tagAt));
        break;
      case ATTRIBUTES: {
        const kvEnd = r.payloadEnd(end, SPAN, tag, tagAt);
        r.keyValue(kvEnd, attributes);
        break;
      }
      case EVENTS: {
        const eventEnd = r.payloadEnd(end, SPAN, tag, tagAt);
        (events ??= []).push(spanEvent(r, eventEnd));
        r.pos = eventEnd;
        break;
      }
      case LINKS: {
        const linkEnd = r.payloadEnd(end, SPAN, tag, tagAt);
        (links ??= []).push(spanLink(r, linkEnd));
        r.pos = linkEnd;
        break;
      }
      case SPAN_STATUS: {
        const statusEnd = r.payloadEnd(end, SPAN, tag, tagAt);
        while (r.pos < statusEnd) {
          const innerAt = r.pos;
          const inner = r.readTag(statusEnd, STATUS);
          if (inner === STATUS_CODE) {
            statusCode = r.varint32(statusEnd, STATUS);
          } else if (inner === STATUS_MESSAGE) {
            const messageEnd = r.payloadEnd(statusEnd, STATUS, inner, innerAt);
            const message = r.utf8(r.pos, messageEnd);
            statusMessage = message === '' ? null : message;
            r.pos = messageEnd;
          } else {
            r.skip(STATUS, inner, innerAt, statusEnd);
          }
        }
        break;
      }
      default:
        r.skip(SPAN, tag, tagAt, end);
    }
  }
  const { resource, scope } = context;
  context.sink.add(
    [
      context.requestId,
      traceId,
      spanId,
      parentSpanId,
      traceState,
      name,
      SPAN_KINDS[kind] ?? String(kind),
      start,
      stop,
      start !== null && stop !== null ? stop - start : null,
      STATUS_CODES[statusCode] ?? String(statusCode),
      statusMessage,
      resource.serviceName,
      resource.attributes,
      scope.name,
      scope.version,
      uniquePairs(attributes),
      events === null ? null : JSON.stringify(events),
      links === null ? null : JSON.stringify(links),
      start,
      stop,
    ],
    start ?? stop ?? context.fallbackNs,
  );
}

function spanEvent(r: FlatReader, end: number): Record<string, unknown> {
  let time: bigint | null = null;
  let name = '';
  const attributes: StringPairs = [];
  while (r.pos < end) {
    const tagAt = r.pos;
    const tag = r.readTag(end, SPAN_EVENT);
    if (tag === I64(1)) {
      time = r.timestamp(r.fixedAt(8, end, SPAN_EVENT, tag, tagAt));
    } else if (tag === LEN(2)) {
      const nameEnd = r.payloadEnd(end, SPAN_EVENT, tag, tagAt);
      name = r.utf8(r.pos, nameEnd);
      r.pos = nameEnd;
    } else if (tag === LEN(3)) {
      r.keyValue(r.payloadEnd(end, SPAN_EVENT, tag, tagAt), attributes);
    } else {
      r.skip(SPAN_EVENT, tag, tagAt, end);
    }
  }
  return { time: time === null ? null : nanosToIso(time), name, attributes: r.attributesJson(uniquePairs(attributes)) };
}

function spanLink(r: FlatReader, end: number): Record<string, unknown> {
  let traceId: string | null = null;
  let spanId: string | null = null;
  let traceState: string | null = null;
  const attributes: StringPairs = [];
  while (r.pos < end) {
    const tagAt = r.pos;
    const tag = r.readTag(end, SPAN_LINK);
    if (tag === LEN(1) || tag === LEN(2) || tag === LEN(3)) {
      const valueEnd = r.payloadEnd(end, SPAN_LINK, tag, tagAt);
      if (tag === LEN(3)) {
        const text = r.utf8(r.pos, valueEnd);
        traceState = text === '' ? null : text;
      } else if (tag === LEN(1)) {
        traceId = r.hex(r.pos, valueEnd);
      } else {
        spanId = r.hex(r.pos, valueEnd);
      }
      r.pos = valueEnd;
    } else if (tag === LEN(4)) {
      r.keyValue(r.payloadEnd(end, SPAN_LINK, tag, tagAt), attributes);
    } else {
      r.skip(SPAN_LINK, tag, tagAt, end);
    }
  }
  return { trace_id: traceId, span_id: spanId, trace_state: traceState, attributes: r.attributesJson(uniquePairs(attributes)) };
}
