// The ingest hot path: learn what an OTLP Export request holds (item count, services, time range, trace ids) by
// walking its protobuf encoding in place, validating the framing of every message on the way.
// Nothing is decoded except service.name values; trace ids become strings only when they differ from the last one.
import { MalformedPayloadError, PayloadTooLargeError } from '../errors.js';
import type { ScanResult, Signal } from '../model.js';
import {
  ANY_VALUE, EXEMPLAR, EXPONENTIAL_HISTOGRAM, EXPONENTIAL_HISTOGRAM_DATA_POINT, EXPORT_LOGS_REQUEST,
  EXPORT_METRICS_REQUEST, EXPORT_TRACE_REQUEST, GAUGE, HISTOGRAM, HISTOGRAM_DATA_POINT, KEY_VALUE, LOG_RECORD, METRIC,
  NUMBER_DATA_POINT, RESOURCE, RESOURCE_LOGS, RESOURCE_METRICS, RESOURCE_SPANS, SCOPE_LOGS, SCOPE_METRICS, SCOPE_SPANS,
  SPAN, SUM, SUMMARY, SUMMARY_DATA_POINT,
} from './schema.js';
import { WIRE_I64 as I64, WIRE_LEN as LEN, WireReader } from './wire.js';
import type { MessageSchema } from './wire.js';

/** Tags (field number << 3 | wire type) the scanner acts on; every other tag goes through the schema walker. */
const tagOf = (field: number, wire: number): number => (field << 3) | wire;

const REQUEST_RESOURCE_X = tagOf(1, LEN);
const RESOURCE_X_RESOURCE = tagOf(1, LEN);
const RESOURCE_X_SCOPE_X = tagOf(2, LEN);
const RESOURCE_ATTRIBUTES = tagOf(1, LEN);
const KEY_VALUE_KEY = tagOf(1, LEN);
const KEY_VALUE_VALUE = tagOf(2, LEN);
const ANY_VALUE_STRING = tagOf(1, LEN);
const SCOPE_X_ITEMS = tagOf(2, LEN);
const SPAN_TRACE_ID = tagOf(1, LEN);
const SPAN_START = tagOf(7, I64);
const SPAN_END = tagOf(8, I64);
const SPAN_ATTRIBUTE = tagOf(9, LEN);
const METRIC_GAUGE = tagOf(5, LEN);
const METRIC_SUM = tagOf(7, LEN);
const METRIC_HISTOGRAM = tagOf(9, LEN);
const METRIC_EXPONENTIAL_HISTOGRAM = tagOf(10, LEN);
const METRIC_SUMMARY = tagOf(11, LEN);
const DATA_POINTS = tagOf(1, LEN);
const POINT_START = tagOf(2, I64);
const POINT_TIME = tagOf(3, I64);
const EXEMPLAR_TRACE_ID = tagOf(5, LEN);
const LOG_TIME = tagOf(1, I64);
const LOG_OBSERVED_TIME = tagOf(11, I64);
const LOG_TRACE_ID = tagOf(9, LEN);
const LOG_ATTRIBUTE = tagOf(6, LEN);

/** "service.name" as UTF-8, compared byte by byte so that no other attribute key is ever decoded. */
const SERVICE_NAME_KEY = new TextEncoder().encode('service.name');
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

interface SignalLayout {
  request: MessageSchema;
  resourceX: MessageSchema;
  scopeX: MessageSchema;
}

const LAYOUTS: Record<Signal, SignalLayout> = {
  traces: { request: EXPORT_TRACE_REQUEST, resourceX: RESOURCE_SPANS, scopeX: SCOPE_SPANS },
  metrics: { request: EXPORT_METRICS_REQUEST, resourceX: RESOURCE_METRICS, scopeX: SCOPE_METRICS },
  logs: { request: EXPORT_LOGS_REQUEST, resourceX: RESOURCE_LOGS, scopeX: SCOPE_LOGS },
};

/** Which data point field holds exemplars, per data point type (Summary has none). */
const EXEMPLAR_TAGS = new Map<MessageSchema, number>([
  [NUMBER_DATA_POINT, tagOf(5, LEN)],
  [HISTOGRAM_DATA_POINT, tagOf(8, LEN)],
  [EXPONENTIAL_HISTOGRAM_DATA_POINT, tagOf(11, LEN)],
  [SUMMARY_DATA_POINT, -1],
]);

/** Slots of the table of trace ids seen in the current scan: a power of two, well above the ids of one request. */
const SEEN_SLOTS = 4096;
const SEEN_MASK = SEEN_SLOTS - 1;
const SEEN_PROBES = 8;
/** Per slot: the offset of a trace id in the request being scanned, valid while the slot's mark is that scan's. */
const seenAt = new Int32Array(SEEN_SLOTS);
const seenMark = new Int32Array(SEEN_SLOTS);
let lastScanMark = 0;

/** A mark no slot holds yet; scans run one at a time on a thread, so one table per thread serves them all. */
function nextScanMark(): number {
  if (lastScanMark === 0x7fffffff) {
    seenMark.fill(0);
    lastScanMark = 0;
  }
  return ++lastScanMark;
}

/**
 * Scans one Export request of `signal` without building objects for its items.
 * @throws MalformedPayloadError when `bytes` is not a valid encoding of the signal's Export request.
 */
export interface ScanLimits {
  /**
   * Traces: more distinct trace ids than this is refused (PayloadTooLargeError) as soon as the scan meets one more: every id
   * is kept as a string here and indexed downstream, at a few hundred bytes each, which the in-flight byte budget
   * does not see (1.2 M one-span traces fit in 55 MiB and cost ~300 MiB).
   */
  maxTraceIds?: number;
  /** More distinct service.name values than this is refused likewise: each is in the request's spool header and index row. */
  maxServices?: number;
}

export function scanRequest(signal: Signal, bytes: Uint8Array, limits: ScanLimits = {}): ScanResult {
  // Only spans' trace ids go on to the index: a log batch whose every line has a trace of its own costs nothing more.
  const maxTraceIds = signal === 'traces' ? (limits.maxTraceIds ?? Number.POSITIVE_INFINITY) : Number.POSITIVE_INFINITY;
  const scanner = new RequestScanner(bytes, signal, maxTraceIds, limits.maxServices ?? Number.POSITIVE_INFINITY);
  try {
    scanner.scanRequest();
  } catch (error) {
    if (error instanceof MalformedPayloadError || error instanceof PayloadTooLargeError) throw error;
    // A bug here must not turn into a 500 for one odd payload, nor into acceptance of it.
    throw new MalformedPayloadError(`malformed ${LAYOUTS[signal].request.name}: ${String(error)}`, { cause: error });
  }
  return scanner.result();
}

class RequestScanner extends WireReader {
  private readonly layout: SignalLayout;
  private readonly hex: Buffer;
  private items = 0;
  private readonly services = new Set<string>();
  private readonly traceIds = new Set<string>();
  /** This scan's mark in the shared table of trace ids seen (see addTraceId). */
  private readonly scanMark = nextScanMark();
  /** Offset of the last trace id turned into a string: consecutive items of one trace cost a 16-byte compare. */
  private lastTraceIdAt = -1;
  // The range is the min and max of every timestamp that counts (see widen), which on sane data is exactly
  // min(start) .. max(end). Its bounds are the offsets of those fixed64 values in the request, compared byte by byte:
  // no BigInt per item, and no number either (a 32-bit half above 2^30 would be allocated on the heap).
  private minAt = -1;
  private maxAt = -1;

  constructor(
    bytes: Uint8Array,
    private readonly signal: Signal,
    private readonly maxTraceIds: number,
    private readonly maxServices: number,
  ) {
    super(bytes, LAYOUTS[signal].request.name);
    this.layout = LAYOUTS[signal];
    this.hex = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  result(): ScanResult {
    return {
      items: this.items,
      services: [...this.services].sort(),
      startNs: this.minAt >= 0 ? this.hex.readBigUInt64LE(this.minAt) : null,
      endNs: this.maxAt >= 0 ? this.hex.readBigUInt64LE(this.maxAt) : null,
      traceIds: [...this.traceIds].sort(),
    };
  }

  scanRequest(): void {
    const end = this.buf.length;
    const schema = this.layout.request;
    while (this.pos < end) {
      const tagAt = this.pos;
      const tag = this.readTag(end, schema);
      if (tag === REQUEST_RESOURCE_X) {
        this.scanResourceX(this.readLengthEnd(end, schema, schema.fields[1], tag, tagAt));
      } else {
        this.skimField(schema, tag, tagAt, end, 0);
      }
    }
  }

  private scanResourceX(end: number): void {
    const schema = this.layout.resourceX;
    while (this.pos < end) {
      const tagAt = this.pos;
      const tag = this.readTag(end, schema);
      if (tag === RESOURCE_X_RESOURCE) {
        this.scanResource(this.readLengthEnd(end, schema, schema.fields[1], tag, tagAt));
      } else if (tag === RESOURCE_X_SCOPE_X) {
        this.scanScopeX(this.readLengthEnd(end, schema, schema.fields[2], tag, tagAt));
      } else {
        this.skimField(schema, tag, tagAt, end, 1);
      }
    }
  }

  private scanResource(end: number): void {
    while (this.pos < end) {
      const tagAt = this.pos;
      const tag = this.readTag(end, RESOURCE);
      if (tag === RESOURCE_ATTRIBUTES) {
        this.scanResourceAttribute(this.readLengthEnd(end, RESOURCE, RESOURCE.fields[1], tag, tagAt));
      } else {
        this.skimField(RESOURCE, tag, tagAt, end, 2);
      }
    }
  }

  /** A resource KeyValue: remembers whether the key is service.name and where the value's string is. */
  private scanResourceAttribute(end: number): void {
    // Repeated occurrences of a singular field merge as protobuf says: the last key wins; for the value's oneof,
    // the last member set wins.
    let isServiceName = false;
    let stringStart = -1;
    let stringEnd = -1;
    while (this.pos < end) {
      const tagAt = this.pos;
      const tag = this.readTag(end, KEY_VALUE);
      if (tag === KEY_VALUE_KEY) {
        const keyEnd = this.readLengthEnd(end, KEY_VALUE, KEY_VALUE.fields[1], tag, tagAt);
        isServiceName = this.bytesEqual(this.pos, keyEnd, SERVICE_NAME_KEY);
        this.pos = keyEnd;
      } else if (tag === KEY_VALUE_VALUE) {
        const valueEnd = this.readLengthEnd(end, KEY_VALUE, KEY_VALUE.fields[2], tag, tagAt);
        while (this.pos < valueEnd) {
          const valueTagAt = this.pos;
          const valueTag = this.readTag(valueEnd, ANY_VALUE);
          if (valueTag === ANY_VALUE_STRING) {
            stringEnd = this.readLengthEnd(valueEnd, ANY_VALUE, ANY_VALUE.fields[1], valueTag, valueTagAt);
            stringStart = this.pos;
            this.pos = stringEnd;
          } else {
            if (ANY_VALUE.fields[valueTag >>> 3] !== undefined) stringStart = -1;
            this.skimField(ANY_VALUE, valueTag, valueTagAt, valueEnd, 4);
          }
        }
      } else {
        this.skimField(KEY_VALUE, tag, tagAt, end, 3);
      }
    }
    if (isServiceName && stringStart >= 0) {
      let name: string;
      try {
        name = utf8.decode(this.buf.subarray(stringStart, stringEnd));
      } catch {
        this.fail(stringStart, 'the resource attribute service.name has a value that is not valid UTF-8');
      }
      this.services.add(name);
      if (this.services.size > this.maxServices) {
        throw new PayloadTooLargeError(
          `the request holds more than ${this.maxServices} distinct service.name values (admission.maxServicesPerRequest): ` +
            'send smaller batches',
        );
      }
    }
  }

  private scanScopeX(end: number): void {
    const schema = this.layout.scopeX;
    while (this.pos < end) {
      const tagAt = this.pos;
      const tag = this.readTag(end, schema);
      if (tag === SCOPE_X_ITEMS) {
        const itemEnd = this.readLengthEnd(end, schema, schema.fields[2], tag, tagAt);
        if (this.signal === 'traces') this.scanSpan(itemEnd);
        else if (this.signal === 'logs') this.scanLogRecord(itemEnd);
        else this.scanMetric(itemEnd);
      } else {
        this.skimField(schema, tag, tagAt, end, 2);
      }
    }
  }

  private scanSpan(end: number): void {
    let traceIdAt = -1;
    let startAt = -1;
    let endAt = -1;
    while (this.pos < end) {
      const tagAt = this.pos;
      const tag = this.readTag(end, SPAN);
      if (tag === SPAN_TRACE_ID) {
        traceIdAt = this.readTraceId(end, SPAN, tag, tagAt);
      } else if (tag === SPAN_START) {
        startAt = this.takeFixed(8, end, SPAN, SPAN.fields[7], tag, tagAt);
      } else if (tag === SPAN_END) {
        endAt = this.takeFixed(8, end, SPAN, SPAN.fields[8], tag, tagAt);
      } else if (tag !== SPAN_ATTRIBUTE || !this.skimPlainKeyValue(end)) {
        this.skimField(SPAN, tag, tagAt, end, 3);
      }
    }
    this.items++;
    if (traceIdAt >= 0) this.addTraceId(traceIdAt);
    this.widen(startAt);
    this.widen(endAt);
  }

  private scanLogRecord(end: number): void {
    let traceIdAt = -1;
    let timeAt = -1;
    let observedAt = -1;
    while (this.pos < end) {
      const tagAt = this.pos;
      const tag = this.readTag(end, LOG_RECORD);
      if (tag === LOG_TRACE_ID) {
        traceIdAt = this.readTraceId(end, LOG_RECORD, tag, tagAt);
      } else if (tag === LOG_TIME) {
        timeAt = this.takeFixed(8, end, LOG_RECORD, LOG_RECORD.fields[1], tag, tagAt);
      } else if (tag === LOG_OBSERVED_TIME) {
        observedAt = this.takeFixed(8, end, LOG_RECORD, LOG_RECORD.fields[11], tag, tagAt);
      } else if (tag !== LOG_ATTRIBUTE || !this.skimPlainKeyValue(end)) {
        this.skimField(LOG_RECORD, tag, tagAt, end, 3);
      }
    }
    this.items++;
    if (traceIdAt >= 0) this.addTraceId(traceIdAt);
    this.widen(this.isUnset(timeAt) ? observedAt : timeAt);
  }

  private scanMetric(end: number): void {
    while (this.pos < end) {
      const tagAt = this.pos;
      const tag = this.readTag(end, METRIC);
      switch (tag) {
        case METRIC_GAUGE:
          this.scanDataPoints(GAUGE, NUMBER_DATA_POINT, this.readLengthEnd(end, METRIC, METRIC.fields[5], tag, tagAt));
          break;
        case METRIC_SUM:
          this.scanDataPoints(SUM, NUMBER_DATA_POINT, this.readLengthEnd(end, METRIC, METRIC.fields[7], tag, tagAt));
          break;
        case METRIC_HISTOGRAM:
          this.scanDataPoints(HISTOGRAM, HISTOGRAM_DATA_POINT, this.readLengthEnd(end, METRIC, METRIC.fields[9], tag, tagAt));
          break;
        case METRIC_EXPONENTIAL_HISTOGRAM:
          this.scanDataPoints(EXPONENTIAL_HISTOGRAM, EXPONENTIAL_HISTOGRAM_DATA_POINT,
            this.readLengthEnd(end, METRIC, METRIC.fields[10], tag, tagAt));
          break;
        case METRIC_SUMMARY:
          this.scanDataPoints(SUMMARY, SUMMARY_DATA_POINT, this.readLengthEnd(end, METRIC, METRIC.fields[11], tag, tagAt));
          break;
        default:
          this.skimField(METRIC, tag, tagAt, end, 3);
      }
    }
  }

  /** Gauge, Sum, Histogram, ExponentialHistogram or Summary: field 1 holds the data points in every one. */
  private scanDataPoints(container: MessageSchema, point: MessageSchema, end: number): void {
    const exemplarTag = EXEMPLAR_TAGS.get(point)!;
    while (this.pos < end) {
      const tagAt = this.pos;
      const tag = this.readTag(end, container);
      if (tag === DATA_POINTS) {
        this.scanDataPoint(point, exemplarTag, this.readLengthEnd(end, container, container.fields[1], tag, tagAt));
      } else {
        this.skimField(container, tag, tagAt, end, 4);
      }
    }
  }

  private scanDataPoint(point: MessageSchema, exemplarTag: number, end: number): void {
    let startAt = -1;
    let timeAt = -1;
    while (this.pos < end) {
      const tagAt = this.pos;
      const tag = this.readTag(end, point);
      if (tag === POINT_START) {
        startAt = this.takeFixed(8, end, point, point.fields[2], tag, tagAt);
      } else if (tag === POINT_TIME) {
        timeAt = this.takeFixed(8, end, point, point.fields[3], tag, tagAt);
      } else if (tag === exemplarTag) {
        this.scanExemplar(this.readLengthEnd(end, point, point.fields[exemplarTag >>> 3], tag, tagAt));
      } else {
        this.skimField(point, tag, tagAt, end, 5);
      }
    }
    this.items++;
    this.widen(startAt);
    this.widen(timeAt);
  }

  private scanExemplar(end: number): void {
    let traceIdAt = -1;
    while (this.pos < end) {
      const tagAt = this.pos;
      const tag = this.readTag(end, EXEMPLAR);
      if (tag === EXEMPLAR_TRACE_ID) traceIdAt = this.readTraceId(end, EXEMPLAR, tag, tagAt);
      else this.skimField(EXEMPLAR, tag, tagAt, end, 6);
    }
    if (traceIdAt >= 0) this.addTraceId(traceIdAt);
  }

  /** Returns the offset of a 16-byte trace id, or -1 when the field is empty. */
  private readTraceId(end: number, within: MessageSchema, tag: number, tagAt: number): number {
    const field = within.fields[tag >>> 3]!;
    const idEnd = this.readLengthEnd(end, within, field, tag, tagAt);
    const at = this.pos;
    const length = idEnd - at;
    if (length !== 16 && length !== 0) this.failIdLength(tagAt, within, field, tag, length);
    this.pos = idEnd;
    return length === 0 ? -1 : at;
  }

  private addTraceId(at: number): void {
    const last = this.lastTraceIdAt;
    if (last >= 0 && this.sameTraceId(at, last)) return;
    this.lastTraceIdAt = at;
    // A trace's spans are spread over several scopes, so most ids were seen before but not just before: find them in
    // a small open-addressing table (shared by all scans, so nothing is allocated) and compare bytes; make a hex
    // string only for a new id. A crowded neighbourhood just falls back to the Set.
    const buf = this.buf;
    const hash = (buf[at + 15]! | (buf[at + 14]! << 8) | (buf[at + 13]! << 16)) ^ (buf[at + 7]! | (buf[at + 6]! << 8));
    for (let probe = 0; probe < SEEN_PROBES; probe++) {
      const slot = (hash + probe) & SEEN_MASK;
      if (seenMark[slot] !== this.scanMark) {
        seenMark[slot] = this.scanMark;
        seenAt[slot] = at;
        break;
      }
      if (this.sameTraceId(at, seenAt[slot]!)) return;
    }
    this.traceIds.add(this.hex.toString('hex', at, at + 16));
    if (this.traceIds.size > this.maxTraceIds) {
      throw new PayloadTooLargeError(
        `the request holds more than ${this.maxTraceIds} distinct trace ids (admission.maxTraceIdsPerRequest): ` +
          "send smaller batches (the Collector's batch processor: send_batch_max_size)",
      );
    }
  }

  private sameTraceId(a: number, b: number): boolean {
    const buf = this.buf;
    for (let i = 0; i < 16; i++) if (buf[a + i] !== buf[b + i]) return false;
    return true;
  }

  private bytesEqual(start: number, end: number, expected: Uint8Array): boolean {
    if (end - start !== expected.length) return false;
    const buf = this.buf;
    for (let i = 0; i < expected.length; i++) if (buf[start + i] !== expected[i]) return false;
    return true;
  }

  /** Whether the fixed64 at `at` is absent (-1) or zero, which OTLP uses for "not set". */
  private isUnset(at: number): boolean {
    if (at < 0) return true;
    const buf = this.buf;
    for (let i = 0; i < 8; i++) if (buf[at + i] !== 0) return false;
    return true;
  }

  /** The little-endian fixed64 values at `a` and `b` compared: negative, zero or positive. */
  private compareFixed64(a: number, b: number): number {
    const buf = this.buf;
    for (let i = 7; i >= 0; i--) {
      const difference = buf[a + i]! - buf[b + i]!;
      if (difference !== 0) return difference;
    }
    return 0;
  }

  /** Every timestamp that counts (set, non-zero) widens one range, so that startNs <= endNs holds even for odd data. */
  private widen(at: number): void {
    if (this.isUnset(at)) return;
    if (this.minAt < 0) {
      this.minAt = this.maxAt = at;
      return;
    }
    if (this.compareFixed64(at, this.minAt) < 0) this.minAt = at;
    if (this.compareFixed64(at, this.maxAt) > 0) this.maxAt = at;
  }
}
