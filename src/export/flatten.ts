// Raw OTLP Export request bytes → table rows (one per span, log record or metric data point), each with the data
// time that places it in a partition. Works at wire level (flat-reader.ts): no protobufjs objects per span, which
// makes a full decode several times slower than this and would bound export throughput.
//
// All three signals nest the same way — request → Resource{X} → Scope{X} → items — with the same field numbers (1:
// resource / scope, 2: the repeated child), so one walker serves them. Protobuf does not fix field order: a resource
// may come after its scopes, so each level first notes where its parts are, then reads the resource or scope, then
// its children.
import type { Signal } from '../model.js';
import {
  EXPORT_LOGS_REQUEST, EXPORT_METRICS_REQUEST, EXPORT_TRACE_REQUEST, RESOURCE_LOGS, RESOURCE_METRICS, RESOURCE_SPANS,
  SCOPE_LOGS, SCOPE_METRICS, SCOPE_SPANS,
} from '../otlp/schema.js';
import { WIRE_LEN } from '../otlp/wire.js';
import type { MessageSchema } from '../otlp/wire.js';
import { FlatReader, type ResourceInfo, type ScopeInfo } from './flat-reader.js';
import { logRecordRow } from './flatten-logs.js';
import { metricRows } from './flatten-metrics.js';
import { spanRow } from './flatten-spans.js';
import type { Row } from './tables.js';

/** Where rows go: `timeNs` is the row's data time (its partition), never null. */
export interface RowSink {
  add(row: Row, timeNs: bigint): void;
}

/** What every row of one request shares. */
export interface ItemContext {
  requestId: string;
  /** Data time of a row whose item carries no timestamp: the request's start (receive time if it has none). */
  fallbackNs: bigint;
  resource: ResourceInfo;
  scope: ScopeInfo;
  sink: RowSink;
}

/** Reads one item ([reader.pos, end)) and adds its row(s) to `context.sink`. */
type ItemReader = (reader: FlatReader, end: number, context: ItemContext) => void;

interface Layout {
  request: MessageSchema;
  resourceX: MessageSchema;
  scopeX: MessageSchema;
  item: ItemReader;
}

const LAYOUTS: Record<Signal, Layout> = {
  traces: { request: EXPORT_TRACE_REQUEST, resourceX: RESOURCE_SPANS, scopeX: SCOPE_SPANS, item: spanRow },
  logs: { request: EXPORT_LOGS_REQUEST, resourceX: RESOURCE_LOGS, scopeX: SCOPE_LOGS, item: logRecordRow },
  metrics: { request: EXPORT_METRICS_REQUEST, resourceX: RESOURCE_METRICS, scopeX: SCOPE_METRICS, item: metricRows },
};

const FIELD_1 = (1 << 3) | WIRE_LEN;
const FIELD_2 = (2 << 3) | WIRE_LEN;
const EMPTY_RESOURCE: ResourceInfo = { attributes: [], serviceName: null };
const EMPTY_SCOPE: ScopeInfo = { name: null, version: null };

export interface FlattenSource {
  id: string;
  signal: Signal;
  startNs: bigint;
}

/**
 * Adds a row per span / log record / data point of `bytes` (an encoded Export request of `request.signal`) to `sink`.
 * @throws MalformedPayloadError when the framing is broken (an archive only holds requests that passed the scanner).
 */
export function flattenRequest(request: FlattenSource, bytes: Uint8Array, sink: RowSink): void {
  const layout = LAYOUTS[request.signal];
  const reader = new FlatReader(bytes, layout.request.name);
  const end = reader.buf.length;
  const base = { requestId: request.id, fallbackNs: request.startNs, sink };
  while (reader.pos < end) {
    const tagAt = reader.pos;
    const tag = reader.readTag(end, layout.request);
    if (tag !== FIELD_1) {
      reader.skip(layout.request, tag, tagAt, end);
      continue;
    }
    const resourceEnd = reader.payloadEnd(end, layout.request, tag, tagAt);
    readResourceX(reader, resourceEnd, layout, base);
    reader.pos = resourceEnd;
  }
}

function readResourceX(reader: FlatReader, end: number, layout: Layout, base: Omit<ItemContext, 'resource' | 'scope'>): void {
  const schema = layout.resourceX;
  let resourceAt = -1;
  let resourceEnd = -1;
  const scopes: number[] = [];
  while (reader.pos < end) {
    const tagAt = reader.pos;
    const tag = reader.readTag(end, schema);
    if (tag === FIELD_1 || tag === FIELD_2) {
      const stop = reader.payloadEnd(end, schema, tag, tagAt);
      if (tag === FIELD_1) {
        resourceAt = reader.pos;
        resourceEnd = stop;
      } else {
        scopes.push(reader.pos, stop);
      }
      reader.pos = stop;
    } else {
      reader.skip(schema, tag, tagAt, end);
    }
  }
  let resource = EMPTY_RESOURCE;
  if (resourceAt >= 0) {
    reader.pos = resourceAt;
    resource = reader.resource(resourceEnd);
  }
  for (let i = 0; i < scopes.length; i += 2) {
    reader.pos = scopes[i]!;
    readScopeX(reader, scopes[i + 1]!, layout, { ...base, resource, scope: EMPTY_SCOPE });
  }
}

function readScopeX(reader: FlatReader, end: number, layout: Layout, context: ItemContext): void {
  const schema = layout.scopeX;
  let scopeAt = -1;
  let scopeEnd = -1;
  const items: number[] = [];
  while (reader.pos < end) {
    const tagAt = reader.pos;
    const tag = reader.readTag(end, schema);
    if (tag === FIELD_1 || tag === FIELD_2) {
      const stop = reader.payloadEnd(end, schema, tag, tagAt);
      if (tag === FIELD_1) {
        scopeAt = reader.pos;
        scopeEnd = stop;
      } else {
        items.push(reader.pos, stop);
      }
      reader.pos = stop;
    } else {
      reader.skip(schema, tag, tagAt, end);
    }
  }
  if (scopeAt >= 0) {
    reader.pos = scopeAt;
    context.scope = reader.scope(scopeEnd);
  }
  for (let i = 0; i < items.length; i += 2) {
    reader.pos = items[i]!;
    layout.item(reader, items[i + 1]!, context);
  }
}
