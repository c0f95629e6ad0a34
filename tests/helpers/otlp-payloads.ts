// Deterministic, realistic OTLP payloads for tests and load, built by @opentelemetry/otlp-transformer — the serializers
// the OpenTelemetry JS exporters use — from SDK-shaped records made here from a seed. Each payload comes with what a
// scan must find in it, computed from the records themselves (never from the code under test).
//
// What otlp-transformer 0.223 emits (read from node_modules/@opentelemetry/otlp-transformer/build):
// - Protobuf: a hand-written writer; it writes some proto3 defaults explicitly (dropped_*_count = 0, Status.code = 0,
//   Resource.dropped_attributes_count = 0, zero timestamps). ProtobufMetricsSerializer takes ONE ResourceMetrics, so
//   a multi-resource metrics request is made here by concatenating encodings (protobuf merges repeated fields).
// - JSON: timestamps are decimal strings and trace/span ids lowercase hex, as the OTLP spec says; AnyValue.bytesValue
//   is base64. Deviations from the spec (which wants every 64-bit integer as a decimal string): AnyValue.intValue,
//   NumberDataPoint.asInt, histogram count / bucketCounts and exponential histogram zeroCount / bucketCounts are JSON
//   numbers. It also emits default values and `{}` for an absent log body, and undefined-valued keys (dropped by
//   JSON.stringify). Neither serializer emits exemplars or Summary metrics (the SDK has none); see
//   metricsPayloadWithSummaryAndExemplars for those.
import { ValueType } from '@opentelemetry/api';
import type { Attributes, HrTime, Link, SpanContext } from '@opentelemetry/api';
import type { AnyValue, AnyValueMap, LogAttributes } from '@opentelemetry/api-logs';
import { SeverityNumber } from '@opentelemetry/api-logs';
import {
  JsonLogsSerializer, JsonMetricsSerializer, JsonTraceSerializer, ProtobufLogsSerializer, ProtobufMetricsSerializer,
  ProtobufTraceSerializer,
} from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import type { DataPoint, ExponentialHistogram, Histogram, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import type { ScanResult, Signal } from '../../src/model.js';
import { requestType } from '../../src/otlp/proto-root.js';

export interface GeneratedPayload {
  /** The Export request, protobuf-encoded. */
  proto: Uint8Array;
  /** The same data as the JSON serializer writes it, parsed. */
  json: Record<string, unknown>;
  /** What scanRequest must report for `proto`. */
  expected: ScanResult;
  /** The SDK records the payload was serialized from, to hand to a real OpenTelemetry exporter. */
  sdk?: { spans?: ReadableSpan[]; resourceMetrics?: ResourceMetrics[]; logs?: ReadableLogRecord[] };
}

/** A seeded PRNG (mulberry32): the same seed always yields the same payload. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(below: number): number {
    return Math.floor(this.next() * below);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  hex(bytes: number): string {
    let out = '';
    for (let i = 0; i < bytes; i++) out += this.int(256).toString(16).padStart(2, '0');
    // All-zero ids are invalid in OTLP; make the first byte non-zero.
    return out.startsWith('00') ? `a${out.slice(1)}` : out;
  }
  bytes(length: number): Uint8Array {
    return Uint8Array.from({ length }, () => this.int(256));
  }
}

/** 2023-11-14T22:13:20Z: a fixed epoch so that payloads are reproducible. */
const BASE_SECONDS = 1_700_000_000;

export const hrTime = (offsetNs: number): HrTime => [BASE_SECONDS + Math.floor(offsetNs / 1e9), offsetNs % 1e9];
const hrToNs = (time: HrTime): bigint => BigInt(time[0]) * 1_000_000_000n + BigInt(time[1]);

const SERVICES = ['checkout', 'zahlungsdienst-ü', '注文サービス', 'frontend', 'payments'] as const;
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'] as const;
const ROUTES = ['/api/cart', '/api/checkout', '/api/items/{id}', '/healthz', '/api/users/{id}/orders'] as const;

/** Resources for a payload: some with service.name (non-ASCII ones included), one without. */
function makeResources(random: Random, count: number): { resource: Resource; service: string | undefined }[] {
  const out: { resource: Resource; service: string | undefined }[] = [];
  for (let i = 0; i < count; i++) {
    const service = i === count - 1 && count > 2 ? undefined : SERVICES[i % SERVICES.length];
    const attributes: Attributes = {
      'host.name': `host-${random.int(100)}`,
      'telemetry.sdk.language': 'nodejs',
      'process.pid': 1000 + random.int(50000),
      'deployment.environment.name': random.pick(['prod', 'staging']),
    };
    if (service !== undefined) attributes['service.name'] = service;
    out.push({ resource: resourceFromAttributes(attributes), service });
  }
  return out;
}

/**
 * Attributes of every AnyValue kind: string, bool, int (incl. negative and > 2^32), double, array, bytes, kvlist.
 * The SDK's Attributes type has no bytes or maps, but the serializers write them; the cast says so.
 */
function richAttributes(random: Random, extra = 0): Attributes {
  const attributes: Record<string, unknown> = {
    'http.route': random.pick(ROUTES),
    'http.response.status_code': random.pick([200, 201, 404, 500]),
    'app.retry': random.next() < 0.3,
    'app.ratio': random.int(1000) / 7 + 0.5,
    'app.delta': -random.int(1_000_000) - 1,
    'app.big': 2 ** 40 + random.int(1000),
    'app.tags': [random.pick(WORDS), random.pick(WORDS)],
    'app.mixed': [random.pick(WORDS), random.int(10), true, 1.5],
    'app.blob': random.bytes(1 + random.int(12)),
    'app.nested': { region: random.pick(['eu', 'us']), shard: random.int(64), inner: { ok: true, list: [1, 2] } },
  };
  for (let i = 0; i < extra; i++) attributes[`app.extra.${i}`] = `${random.pick(WORDS)}-${random.int(100000)}`;
  return attributes as Attributes;
}

const SCOPES = [
  { name: '@opentelemetry/instrumentation-http', version: '0.57.0' },
  { name: 'checkout-core', version: '1.4.2', schemaUrl: 'https://opentelemetry.io/schemas/1.27.0' },
  { name: 'unversioned' },
];

interface SpanOptions {
  spans: number;
  resources: number;
  /** Extra string attributes per span, to grow spans realistically. */
  extraAttributes: number;
}

function makeSpans(random: Random, options: SpanOptions): { spans: ReadableSpan[]; services: (string | undefined)[] } {
  const resources = makeResources(random, options.resources);
  const spans: ReadableSpan[] = [];
  const services: (string | undefined)[] = [];
  let traceId = random.hex(16);
  let parent: string | undefined;
  for (let i = 0; i < options.spans; i++) {
    // Traces of 1..8 spans, children pointing at the first span of their trace.
    if (i > 0 && random.next() < 0.25) {
      traceId = random.hex(16);
      parent = undefined;
    }
    const spanId = random.hex(8);
    const { resource, service } = resources[random.int(resources.length)]!;
    const startOffset = random.int(60_000_000_000);
    const duration = 1 + random.int(2_000_000_000);
    const context: SpanContext = { traceId, spanId, traceFlags: random.int(2) };
    const parentContext: SpanContext | undefined =
      parent === undefined ? undefined : { traceId, spanId: parent, traceFlags: 1, isRemote: random.next() < 0.2 };
    const events: TimedEvent[] = random.next() < 0.4
      ? [{ name: 'exception', time: hrTime(startOffset + 1), attributes: { 'exception.message': `boom ${random.int(99)}` } },
        { name: 'retry', time: hrTime(startOffset + 2), droppedAttributesCount: 1 }]
      : [];
    const links: Link[] = random.next() < 0.3
      ? [{ context: { traceId: random.hex(16), spanId: random.hex(8), traceFlags: 1 }, attributes: { 'link.kind': 'follows' } }]
      : [];
    const startTime = hrTime(startOffset);
    const endTime = hrTime(startOffset + duration);
    spans.push({
      name: `${random.pick(['GET', 'POST'])} ${random.pick(ROUTES)}`,
      kind: random.int(5),
      spanContext: () => context,
      parentSpanContext: parentContext,
      startTime,
      endTime,
      duration: [Math.floor(duration / 1e9), duration % 1e9],
      ended: true,
      status: random.next() < 0.1 ? { code: 2, message: 'internal error' } : { code: random.int(2) },
      attributes: richAttributes(random, options.extraAttributes),
      links,
      events,
      resource,
      instrumentationScope: SCOPES[random.int(SCOPES.length)]!,
      droppedAttributesCount: random.int(2),
      droppedEventsCount: 0,
      droppedLinksCount: random.int(2),
    });
    services.push(service);
    parent ??= spanId;
  }
  return { spans, services };
}

export function traceExpected(spans: readonly ReadableSpan[], services: readonly (string | undefined)[]): ScanResult {
  return {
    items: spans.length,
    services: distinctSorted(services.filter((s): s is string => s !== undefined)),
    startNs: minOf(spans.map((s) => hrToNs(s.startTime))),
    endNs: maxOf(spans.map((s) => hrToNs(s.endTime))),
    traceIds: distinctSorted(spans.map((s) => s.spanContext().traceId)),
  };
}

export function serializeTraces(spans: ReadableSpan[], expected: ScanResult): GeneratedPayload {
  return {
    proto: new Uint8Array(ProtobufTraceSerializer.serializeRequest(spans)!),
    json: parseJson(JsonTraceSerializer.serializeRequest(spans)!),
    expected,
    sdk: { spans },
  };
}

/** A trace request: 4 resources (one without service.name), 3 scopes, events, links, attributes of every kind. */
export function tracePayload(seed = 1, spanCount = 40): GeneratedPayload {
  const { spans, services } = makeSpans(new Random(seed), { spans: spanCount, resources: 4, extraAttributes: 0 });
  return serializeTraces(spans, traceExpected(spans, services));
}

/**
 * A realistic trace request of about `targetBytes` (within a few percent): spans with ~25 attributes each, as an
 * instrumented HTTP service produces. Used by the scanner benchmark and by load tests.
 */
export function traceRequestOfSize(targetBytes: number, seed = 1): GeneratedPayload {
  const options = { resources: 3, extraAttributes: 15 };
  const sample = makeSpans(new Random(seed), { ...options, spans: 50 });
  const perSpan = ProtobufTraceSerializer.serializeRequest(sample.spans)!.length / 50;
  const spanCount = Math.max(1, Math.round(targetBytes / perSpan));
  const { spans, services } = makeSpans(new Random(seed), { ...options, spans: spanCount });
  return serializeTraces(spans, traceExpected(spans, services));
}

function numberPoints(random: Random, count: number, zeroStart: boolean): DataPoint<number>[] {
  return Array.from({ length: count }, (_, i) => {
    const end = 30_000_000_000 + random.int(30_000_000_000);
    return {
      // A zero start time is legal (gauges often have none): the scan then uses the point's time.
      startTime: zeroStart && i % 2 === 0 ? [0, 0] : hrTime(random.int(10_000_000_000)),
      endTime: hrTime(end),
      attributes: { 'http.route': random.pick(ROUTES), 'http.method': random.pick(['GET', 'POST']) },
      value: random.int(10_000),
    };
  });
}

function metricList(random: Random): MetricData[] {
  const histogram = (): DataPoint<Histogram>[] => Array.from({ length: 3 }, () => ({
    startTime: hrTime(random.int(10_000_000_000)),
    endTime: hrTime(30_000_000_000 + random.int(30_000_000_000)),
    attributes: { 'http.route': random.pick(ROUTES) },
    value: {
      buckets: { boundaries: [0, 5, 10, 25, 50, 100], counts: [1, 2, 3, 4, 5, 6, random.int(9)] },
      sum: 123.5 + random.int(100), count: 21 + random.int(50), min: 0.5, max: 99.5,
    },
  }));
  const exponential = (): DataPoint<ExponentialHistogram>[] => Array.from({ length: 2 }, () => ({
    startTime: hrTime(random.int(10_000_000_000)),
    endTime: hrTime(30_000_000_000 + random.int(30_000_000_000)),
    attributes: { 'rpc.method': random.pick(WORDS) },
    value: {
      count: 12, sum: 45.25, scale: random.pick([-2, 0, 3]), zeroCount: 1,
      positive: { offset: random.pick([0, 4, -3]), bucketCounts: [1, 2, 0, 5, 300] },
      negative: { offset: 2, bucketCounts: [1] }, min: -2.5, max: 20.25,
    },
  }));
  return [
    {
      descriptor: { name: 'http.server.active_requests', description: 'In flight', unit: '{request}', valueType: ValueType.INT },
      aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE,
      dataPoints: numberPoints(random, 3, true),
    },
    {
      descriptor: { name: 'http.server.requests', description: '', unit: '', valueType: ValueType.INT },
      aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.SUM, isMonotonic: true,
      dataPoints: numberPoints(random, 4, false),
    },
    {
      descriptor: { name: 'queue.depth.change', description: 'Up-down', unit: '1', valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.DELTA, dataPointType: DataPointType.SUM, isMonotonic: false,
      dataPoints: numberPoints(random, 2, false).map((p) => ({ ...p, value: p.value / 4 + 0.125 })),
    },
    {
      descriptor: { name: 'http.server.duration', description: 'Latency', unit: 'ms', valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.DELTA, dataPointType: DataPointType.HISTOGRAM,
      dataPoints: histogram(),
    },
    {
      descriptor: { name: 'rpc.client.duration', description: 'Latency', unit: 's', valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
      dataPoints: exponential(),
    },
  ];
}

/** A metrics request: 3 resources × 2 scopes of gauge, sums (int and double), histogram and exponential histogram. */
export function metricsPayload(seed = 1): GeneratedPayload {
  const random = new Random(seed);
  const resources = makeResources(random, 3);
  const protos: Uint8Array[] = [];
  const jsonResources: unknown[] = [];
  const points: DataPoint<unknown>[] = [];
  const all: ResourceMetrics[] = [];
  for (const { resource } of resources) {
    const resourceMetrics: ResourceMetrics = {
      resource,
      scopeMetrics: [
        { scope: SCOPES[0]!, metrics: metricList(random) },
        { scope: SCOPES[1]!, metrics: metricList(random).slice(0, 2) },
      ],
    };
    for (const scope of resourceMetrics.scopeMetrics) for (const metric of scope.metrics) points.push(...metric.dataPoints);
    all.push(resourceMetrics);
    protos.push(ProtobufMetricsSerializer.serializeRequest(resourceMetrics)!);
    jsonResources.push(...(parseJson(JsonMetricsSerializer.serializeRequest(resourceMetrics)!).resourceMetrics as unknown[]));
  }
  return {
    // Concatenated encodings of one message type are the encoding of their merge: repeated fields append.
    proto: Buffer.concat(protos),
    json: { resourceMetrics: jsonResources },
    sdk: { resourceMetrics: all },
    expected: {
      items: points.length,
      services: distinctSorted(resources.map((r) => r.service).filter((s): s is string => s !== undefined)),
      startNs: minOf(points.map((p) => (hrToNs(p.startTime) !== 0n ? hrToNs(p.startTime) : hrToNs(p.endTime)))),
      endNs: maxOf(points.map((p) => hrToNs(p.endTime))),
      traceIds: [],
    },
  };
}

function logBody(random: Random, i: number): AnyValue {
  switch (i % 8) {
    case 0: return `user ${random.int(1000)} logged in`;
    case 1: return { event: 'order.placed', amount: 12.5, items: [random.pick(WORDS), random.pick(WORDS)], vip: false };
    case 2: return [1, 'two', 3.5, { four: 4 }];
    case 3: return random.bytes(16);
    case 4: return random.int(100000);
    case 5: return 2.75;
    case 6: return true;
    default: return undefined;
  }
}

/** A logs request: 4 resources, bodies of every AnyValue kind (and none), some with trace context, some untimed. */
export function logsPayload(seed = 1, count = 48): GeneratedPayload {
  const random = new Random(seed);
  const resources = makeResources(random, 4);
  const records: ReadableLogRecord[] = [];
  const services: (string | undefined)[] = [];
  const traceIds: string[] = [];
  const times: bigint[] = [];
  for (let i = 0; i < count; i++) {
    const { resource, service } = resources[random.int(resources.length)]!;
    const observed = hrTime(random.int(60_000_000_000));
    // Some records carry no event time: the observed time then places them.
    const time: HrTime = i % 5 === 4 ? [0, 0] : hrTime(random.int(60_000_000_000));
    const spanContext: SpanContext | undefined =
      i % 3 === 0 ? { traceId: random.hex(16), spanId: random.hex(8), traceFlags: random.int(2) } : undefined;
    const severity = random.pick([SeverityNumber.DEBUG, SeverityNumber.INFO, SeverityNumber.WARN, SeverityNumber.ERROR]);
    const attributes: LogAttributes = {
      'code.function': random.pick(WORDS),
      'log.iostream': 'stdout',
      'app.context': { request: random.int(1000), tags: ['a', 'b'] } as AnyValueMap,
      'app.raw': random.bytes(4),
    };
    const eventName = i % 7 === 0 ? 'app.order.placed' : undefined;
    const body = logBody(random, i);
    records.push({
      hrTime: time,
      hrTimeObserved: observed,
      ...(spanContext === undefined ? {} : { spanContext }),
      severityNumber: severity,
      severityText: SeverityNumber[severity],
      ...(body === undefined ? {} : { body }),
      ...(eventName === undefined ? {} : { eventName }),
      resource,
      instrumentationScope: SCOPES[i % 2]!,
      attributes,
      droppedAttributesCount: random.int(2),
    });
    services.push(service);
    if (spanContext !== undefined) traceIds.push(spanContext.traceId);
    times.push(hrToNs(time) !== 0n ? hrToNs(time) : hrToNs(observed));
  }
  return {
    proto: new Uint8Array(ProtobufLogsSerializer.serializeRequest(records)!),
    json: parseJson(JsonLogsSerializer.serializeRequest(records)!),
    sdk: { logs: records },
    expected: {
      items: records.length,
      services: distinctSorted(services.filter((s): s is string => s !== undefined)),
      startNs: minOf(times),
      endNs: maxOf(times),
      traceIds: distinctSorted(traceIds),
    },
  };
}

/** The generator for a signal, with its defaults. */
export function payloadFor(signal: Signal, seed = 1): GeneratedPayload {
  if (signal === 'traces') return tracePayload(seed);
  if (signal === 'metrics') return metricsPayload(seed);
  return logsPayload(seed);
}

/**
 * A metrics request with what otlp-transformer cannot make: a Summary metric and exemplars (with and without trace
 * ids) on number, histogram and exponential histogram points. Built with protobufjs from our .proto files.
 */
export function metricsPayloadWithSummaryAndExemplars(seed = 1): { proto: Uint8Array; expected: ScanResult } {
  const random = new Random(seed);
  const t = (offsetNs: number): string => (BigInt(BASE_SECONDS) * 1_000_000_000n + BigInt(offsetNs)).toString();
  const traceA = random.hex(16);
  const traceB = random.hex(16);
  const exemplar = (traceId: string | undefined, value: number): Record<string, unknown> => ({
    timeUnixNano: t(5_000), asDouble: value,
    ...(traceId === undefined ? {} : { traceId: Buffer.from(traceId, 'hex'), spanId: Buffer.from(random.hex(8), 'hex') }),
    filteredAttributes: [{ key: 'user', value: { stringValue: 'u1' } }],
  });
  const request = {
    resourceMetrics: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'summary-svc' } }] },
      scopeMetrics: [{
        scope: { name: 'legacy' },
        metrics: [
          {
            name: 'rpc.latency', summary: {
              dataPoints: [
                { startTimeUnixNano: t(1_000), timeUnixNano: t(9_000), count: '7', sum: 3.5,
                  quantileValues: [{ quantile: 0.5, value: 0.4 }, { quantile: 0.99, value: 1.2 }] },
                { timeUnixNano: t(8_000), count: '1', sum: 0.1 },
              ],
            },
          },
          { name: 'g', gauge: { dataPoints: [{ timeUnixNano: t(7_000), asInt: '-3', exemplars: [exemplar(traceA, 1)] }] } },
          {
            name: 'h', histogram: {
              aggregationTemporality: 2,
              dataPoints: [{ startTimeUnixNano: t(500), timeUnixNano: t(6_000), count: '2', bucketCounts: ['1', '1'],
                explicitBounds: [1], exemplars: [exemplar(traceB, 2), exemplar(undefined, 3)] }],
            },
          },
          {
            name: 'e', exponentialHistogram: {
              dataPoints: [{ timeUnixNano: t(9_500), count: '1', positive: { offset: -1, bucketCounts: ['1'] },
                exemplars: [exemplar(traceA, 4)] }],
            },
          },
        ],
      }],
    }],
  };
  const type = requestType('metrics');
  return {
    proto: type.encode(type.fromObject(request)).finish(),
    expected: {
      items: 5,
      services: ['summary-svc'],
      startNs: BigInt(t(500)),
      endNs: BigInt(t(9_500)),
      traceIds: distinctSorted([traceA, traceB]),
    },
  };
}

function parseJson(bytes: Uint8Array): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
}

function distinctSorted(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

function minOf(values: readonly bigint[]): bigint | null {
  const nonZero = values.filter((v) => v !== 0n);
  return nonZero.length === 0 ? null : nonZero.reduce((a, b) => (b < a ? b : a));
}

function maxOf(values: readonly bigint[]): bigint | null {
  const nonZero = values.filter((v) => v !== 0n);
  return nonZero.length === 0 ? null : nonZero.reduce((a, b) => (b > a ? b : a));
}

/**
 * What a scan must find, computed from a full protobufjs decode: the independent reference for scanner tests.
 * `ambiguousServices` is set when some service.name AnyValue has several oneof members on the wire, where protobufjs
 * (which keeps them all) cannot say which one protobuf's "last one wins" picks.
 */
export function referenceScan(signal: Signal, bytes: Uint8Array): ScanResult & { ambiguousServices: boolean } {
  type Msg = Record<string, any>;
  const request = requestType(signal).decode(bytes) as unknown as Msg;
  const own = (m: Msg | undefined | null, key: string): boolean => m != null && Object.prototype.hasOwnProperty.call(m, key);
  const ns = (value: unknown): bigint => (value == null ? 0n : BigInt(String(value)));
  const services = new Set<string>();
  const traceIds = new Set<string>();
  const times: bigint[] = [];
  let ambiguousServices = false;
  let items = 0;
  const resourceKey = { traces: 'resourceSpans', metrics: 'resourceMetrics', logs: 'resourceLogs' }[signal];
  const scopeKey = { traces: 'scopeSpans', metrics: 'scopeMetrics', logs: 'scopeLogs' }[signal];
  const addTraceId = (id: Uint8Array | undefined): void => {
    if (id !== undefined && id.length > 0) traceIds.add(Buffer.from(id).toString('hex'));
  };
  for (const resourceX of request[resourceKey] as Msg[]) {
    for (const attribute of (resourceX.resource?.attributes ?? []) as Msg[]) {
      if (attribute.key !== 'service.name' || !own(attribute.value, 'stringValue')) continue;
      const members = ['boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'];
      if (members.some((member) => own(attribute.value, member))) ambiguousServices = true;
      services.add(attribute.value.stringValue as string);
    }
    for (const scopeX of resourceX[scopeKey] as Msg[]) {
      if (signal === 'traces') {
        for (const span of scopeX.spans as Msg[]) {
          items++;
          addTraceId(span.traceId);
          times.push(ns(span.startTimeUnixNano), ns(span.endTimeUnixNano));
        }
      } else if (signal === 'logs') {
        for (const record of scopeX.logRecords as Msg[]) {
          items++;
          addTraceId(record.traceId);
          const time = ns(record.timeUnixNano);
          times.push(time !== 0n ? time : ns(record.observedTimeUnixNano));
        }
      } else {
        for (const metric of scopeX.metrics as Msg[]) {
          for (const kind of ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary']) {
            if (!own(metric, kind)) continue;
            for (const point of metric[kind].dataPoints as Msg[]) {
              items++;
              const time = ns(point.timeUnixNano);
              const start = ns(point.startTimeUnixNano);
              times.push(start !== 0n ? start : time, time);
              for (const exemplar of (point.exemplars ?? []) as Msg[]) addTraceId(exemplar.traceId);
            }
          }
        }
      }
    }
  }
  return {
    items,
    services: [...services].sort(),
    startNs: minOf(times),
    endNs: maxOf(times),
    traceIds: [...traceIds].sort(),
    ambiguousServices,
  };
}

/** Hand-written protobuf encoding, for inputs no serializer would produce (malformed or unusual on purpose). */
export const wire = {
  varint(value: number | bigint): number[] {
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    return out;
  },
  tag(field: number, wireType: number): number[] {
    return wire.varint(field * 8 + wireType);
  },
  /** A length-delimited field. */
  len(field: number, ...payload: (number[] | Uint8Array)[]): number[] {
    const body = payload.flatMap((part) => [...part]);
    return [...wire.tag(field, 2), ...wire.varint(body.length), ...body];
  },
  string(field: number, text: string): number[] {
    return wire.len(field, new TextEncoder().encode(text));
  },
  fixed64(field: number, value: bigint): number[] {
    const bytes = Buffer.alloc(8);
    bytes.writeBigUInt64LE(value);
    return [...wire.tag(field, 1), ...bytes];
  },
  uvarint(field: number, value: number | bigint): number[] {
    return [...wire.tag(field, 0), ...wire.varint(value)];
  },
  bytes(...parts: number[][]): Uint8Array {
    return Uint8Array.from(parts.flat());
  },
};
