// Wire-level work on ExportTraceServiceRequest bytes that needs no decoding: keep only the spans of one trace, and
// list the trace ids a request holds (for the trace index).
//
// Filtering copies the resource, scope and every other field byte for byte and rebuilds only the length prefixes of
// the ResourceSpans and ScopeSpans that still hold a span, so what comes out is the archived data minus other
// traces' spans. Encodings of one message type concatenate into the encoding of their merge (repeated fields
// append), so the filtered requests of several archived requests, concatenated, are one valid request.
//
// Stored requests were fully validated at ingest; these walkers still bound every read (a damaged archive must fail
// with a clear error, never read past a buffer) but do not validate the content of what they skip.
import { EXPORT_TRACE_REQUEST, RESOURCE_SPANS, SCOPE_SPANS, SPAN } from './schema.js';
import { WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT, WireReader } from './wire.js';
import type { MessageSchema } from './wire.js';
import { pushAll } from '../util/arrays.js';

const TRACE_ID_BYTES = 16;
const REQUEST_RESOURCE_SPANS = (1 << 3) | WIRE_LEN;
const RESOURCE_SPANS_SCOPE_SPANS = (2 << 3) | WIRE_LEN;
const SCOPE_SPANS_SPANS = (2 << 3) | WIRE_LEN;
const SPAN_TRACE_ID = (1 << 3) | WIRE_LEN;

export interface FilteredTrace {
  /** An ExportTraceServiceRequest holding only the spans of the trace; empty when there are none. */
  bytes: Buffer;
  spans: number;
}

/**
 * The spans of `traceId` (16 bytes) in an encoded ExportTraceServiceRequest, with their resources and scopes.
 * @throws MalformedPayloadError when the framing is broken.
 */
export function filterTraceSpans(request: Uint8Array, traceId: Uint8Array): FilteredTrace {
  if (traceId.length !== TRACE_ID_BYTES) throw new RangeError(`a trace id is ${TRACE_ID_BYTES} bytes, got ${traceId.length}`);
  const walker = new TraceWalker(request);
  const parts: Uint8Array[] = [];
  let spans = 0;
  walker.forEachResourceSpans((start, end) => {
    const kept = walker.filterResourceSpans(start, end, traceId);
    if (kept === null) return;
    spans += kept.spans;
    pushAll(parts, lengthDelimited(REQUEST_RESOURCE_SPANS, kept.parts, kept.length));
  });
  return { bytes: Buffer.concat(parts), spans };
}

/**
 * Distinct trace ids (lowercase hex) of the spans of an encoded ExportTraceServiceRequest, in first-seen order.
 * Faster than a full scan: only span trace ids are read; everything else is skipped by its length.
 * @throws MalformedPayloadError when the framing is broken.
 */
export function spanTraceIds(request: Uint8Array): string[] {
  const walker = new TraceWalker(request);
  const ids = new Set<string>();
  const hex = Buffer.from(request.buffer, request.byteOffset, request.byteLength);
  let lastAt = -1;
  walker.forEachResourceSpans((start, end) => {
    walker.forEachSpan(start, end, (at) => {
      // Spans of one trace often follow each other: a 16-byte compare saves making the same string again.
      if (lastAt >= 0 && sameId(walker.buf, at, lastAt)) return;
      lastAt = at;
      ids.add(hex.toString('hex', at, at + TRACE_ID_BYTES));
    });
  });
  return [...ids];
}

interface KeptParts {
  parts: Uint8Array[];
  length: number;
  spans: number;
}

class TraceWalker extends WireReader {
  constructor(request: Uint8Array) {
    super(request, EXPORT_TRACE_REQUEST.name);
  }

  /** Calls `visit` with the payload bounds of every ResourceSpans; other request fields are skipped. */
  forEachResourceSpans(visit: (start: number, end: number) => void): void {
    const end = this.buf.length;
    this.pos = 0;
    while (this.pos < end) {
      const tagAt = this.pos;
      const tag = this.readTag(end, EXPORT_TRACE_REQUEST);
      if (tag === REQUEST_RESOURCE_SPANS) {
        const payloadEnd = this.readLengthEnd(end, EXPORT_TRACE_REQUEST, EXPORT_TRACE_REQUEST.fields[1], tag, tagAt);
        const start = this.pos;
        visit(start, payloadEnd);
        this.pos = payloadEnd;
      } else {
        this.skip(tag, tagAt, end, EXPORT_TRACE_REQUEST);
      }
    }
  }

  /** Calls `visit` with the offset of each span's (last) 16-byte trace id, for every span of one ResourceSpans. */
  forEachSpan(start: number, end: number, visit: (traceIdAt: number) => void): void {
    this.pos = start;
    while (this.pos < end) {
      const tagAt = this.pos;
      const tag = this.readTag(end, RESOURCE_SPANS);
      if (tag !== RESOURCE_SPANS_SCOPE_SPANS) {
        this.skip(tag, tagAt, end, RESOURCE_SPANS);
        continue;
      }
      const scopeEnd = this.readLengthEnd(end, RESOURCE_SPANS, RESOURCE_SPANS.fields[2], tag, tagAt);
      while (this.pos < scopeEnd) {
        const fieldAt = this.pos;
        const fieldTag = this.readTag(scopeEnd, SCOPE_SPANS);
        if (fieldTag !== SCOPE_SPANS_SPANS) {
          this.skip(fieldTag, fieldAt, scopeEnd, SCOPE_SPANS);
          continue;
        }
        const spanEnd = this.readLengthEnd(scopeEnd, SCOPE_SPANS, SCOPE_SPANS.fields[2], fieldTag, fieldAt);
        const idAt = this.traceIdOfSpan(spanEnd);
        if (idAt >= 0) visit(idAt);
        this.pos = spanEnd;
      }
    }
  }

  /** The ResourceSpans at [start, end) with only the spans of `traceId`, or null when none is left. */
  filterResourceSpans(start: number, end: number, traceId: Uint8Array): KeptParts | null {
    const parts: Uint8Array[] = [];
    let length = 0;
    let spans = 0;
    this.pos = start;
    while (this.pos < end) {
      const tagAt = this.pos;
      const tag = this.readTag(end, RESOURCE_SPANS);
      if (tag !== RESOURCE_SPANS_SCOPE_SPANS) {
        // Resource, schema_url and anything unknown: copied unchanged.
        this.skip(tag, tagAt, end, RESOURCE_SPANS);
        parts.push(this.buf.subarray(tagAt, this.pos));
        length += this.pos - tagAt;
        continue;
      }
      const scopeEnd = this.readLengthEnd(end, RESOURCE_SPANS, RESOURCE_SPANS.fields[2], tag, tagAt);
      const kept = this.filterScopeSpans(this.pos, scopeEnd, traceId);
      this.pos = scopeEnd;
      if (kept === null) continue;
      spans += kept.spans;
      const field = lengthDelimited(RESOURCE_SPANS_SCOPE_SPANS, kept.parts, kept.length);
      for (const part of field) length += part.length;
      pushAll(parts, field);
    }
    return spans === 0 ? null : { parts, length, spans };
  }

  private filterScopeSpans(start: number, end: number, traceId: Uint8Array): KeptParts | null {
    const parts: Uint8Array[] = [];
    let length = 0;
    let spans = 0;
    this.pos = start;
    while (this.pos < end) {
      const tagAt = this.pos;
      const tag = this.readTag(end, SCOPE_SPANS);
      if (tag === SCOPE_SPANS_SPANS) {
        const spanEnd = this.readLengthEnd(end, SCOPE_SPANS, SCOPE_SPANS.fields[2], tag, tagAt);
        const idAt = this.traceIdOfSpan(spanEnd);
        this.pos = spanEnd;
        if (idAt < 0 || !equalAt(this.buf, idAt, traceId)) continue;
        spans += 1;
      } else {
        // Scope, schema_url and anything unknown: copied unchanged.
        this.skip(tag, tagAt, end, SCOPE_SPANS);
      }
      parts.push(this.buf.subarray(tagAt, this.pos));
      length += this.pos - tagAt;
    }
    return spans === 0 ? null : { parts, length, spans };
  }

  /** Offset of the span's trace id (the last occurrence wins, as protobuf merges), or -1 when it has none. */
  private traceIdOfSpan(end: number): number {
    let idAt = -1;
    const buf = this.buf;
    while (this.pos < end) {
      const tagAt = this.pos;
      // Fast path for the bulk of a span (attributes, events, links): a one-byte tag of a length-delimited field other
      // than the trace id, with a one- or two-byte length that stays inside the span.
      const first = buf[tagAt]!;
      if ((first & 7) === WIRE_LEN && first < 0x80 && first !== SPAN_TRACE_ID && first >= 8 && tagAt + 1 < end) {
        const b1 = buf[tagAt + 1]!;
        let next = -1;
        if (b1 < 0x80) next = tagAt + 2 + b1;
        else if (tagAt + 2 < end && buf[tagAt + 2]! < 0x80) next = tagAt + 3 + (b1 & 0x7f) + buf[tagAt + 2]! * 128;
        if (next >= 0 && next <= end) {
          this.pos = next;
          continue;
        }
      }
      const tag = this.readTag(end, SPAN);
      if (tag === SPAN_TRACE_ID) {
        const idEnd = this.readLengthEnd(end, SPAN, SPAN.fields[1], tag, tagAt);
        const length = idEnd - this.pos;
        if (length === TRACE_ID_BYTES) idAt = this.pos;
        else if (length === 0) idAt = -1;
        else this.failIdLength(tagAt, SPAN, SPAN.fields[1]!, tag, length);
        this.pos = idEnd;
      } else {
        this.skip(tag, tagAt, end, SPAN);
      }
    }
    return idAt;
  }

  /** Moves past one field whose tag has been read, without looking inside it. */
  private skip(tag: number, tagAt: number, end: number, within: MessageSchema): void {
    switch (tag & 7) {
      case WIRE_VARINT:
        this.skipVarint(end, within);
        return;
      case WIRE_I64:
        this.takeFixed(8, end, within, within.fields[tag >>> 3], tag, tagAt);
        return;
      case WIRE_I32:
        this.takeFixed(4, end, within, within.fields[tag >>> 3], tag, tagAt);
        return;
      default:
        this.pos = this.readLengthEnd(end, within, within.fields[tag >>> 3], tag, tagAt);
    }
  }
}

/** Tag, length prefix and payload parts of one length-delimited field. */
function lengthDelimited(tag: number, payload: Uint8Array[], length: number): Uint8Array[] {
  return [Uint8Array.of(tag, ...varint(length)), ...payload];
}

function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function equalAt(buf: Uint8Array, at: number, id: Uint8Array): boolean {
  for (let i = 0; i < TRACE_ID_BYTES; i++) if (buf[at + i] !== id[i]) return false;
  return true;
}

function sameId(buf: Uint8Array, a: number, b: number): boolean {
  for (let i = 0; i < TRACE_ID_BYTES; i++) if (buf[a + i] !== buf[b + i]) return false;
  return true;
}
