import { MalformedPayloadError } from '../../src/errors.js';
import { SIGNALS } from '../../src/model.js';
import type { Signal } from '../../src/model.js';
import { fromOtlpJson, parseOtlpJson, toOtlpJson } from '../../src/otlp/json.js';
import { requestType } from '../../src/otlp/proto-root.js';
import { normalizeOtlpJson as normalize } from '../helpers/otlp-json-normalize.js';
import { metricsPayloadWithSummaryAndExemplars, payloadFor, tracePayload, wire } from '../helpers/otlp-payloads.js';

/** A decoded request as plain data with every default filled in: equal objects mean equal messages. */
function decoded(signal: Signal, bytes: Uint8Array): unknown {
  const type = requestType(signal);
  return type.toObject(type.decode(bytes), { longs: String, bytes: String, enums: Number, defaults: true, arrays: true });
}

function expectMalformed(run: () => unknown, ...fragments: string[]): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(MalformedPayloadError);
  for (const fragment of fragments) expect((caught as Error).message).toContain(fragment);
}

describe('toOtlpJson', () => {
  test.each(SIGNALS.map((signal) => [signal]))('%s: equals the otlp-transformer JSON serializer output of the same data', (signal) => {
    for (const seed of [1, 2, 3]) {
      const payload = payloadFor(signal, seed);
      const json = toOtlpJson(signal, payload.proto);
      expect(normalize(json)).toEqual(normalize(payload.json));
    }
  });

  test('follows the OTLP/JSON rules: hex ids, base64 bytes, 64-bit integers as strings, integer enums, no defaults', () => {
    const { proto } = tracePayload(4);
    const text = JSON.stringify(toOtlpJson('traces', proto));
    const json = JSON.parse(text) as { resourceSpans: { resource: Record<string, unknown>; scopeSpans: { spans: Record<string, unknown>[] }[] }[] };
    const spans = json.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
    for (const span of spans) {
      expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(span.spanId).toMatch(/^[0-9a-f]{16}$/);
      if (span.parentSpanId !== undefined) expect(span.parentSpanId).toMatch(/^[0-9a-f]{16}$/);
      expect(span.startTimeUnixNano).toMatch(/^\d{19}$/);
      if (span.kind !== undefined) expect(typeof span.kind).toBe('number');
      for (const link of (span.links ?? []) as Record<string, unknown>[]) expect(link.traceId).toMatch(/^[0-9a-f]{32}$/);
    }
    expect(text).toMatch(/"intValue":"-\d+"/);
    expect(text).toMatch(/"bytesValue":"[A-Za-z0-9+/]+=*"/);
    expect(text).not.toMatch(/"droppedAttributesCount":0/);
    expect(text).not.toMatch(/"[a-z]+_[a-z_]+":/); // no snake_case keys
    expect(json.resourceSpans[0]!.resource.droppedAttributesCount).toBeUndefined();
  });

  test('keeps a zero that was sent in a oneof or an optional field (presence), and writes non-finite doubles as strings', () => {
    const type = requestType('metrics');
    const proto = type.encode(type.fromObject({
      resourceMetrics: [{
        resource: { attributes: [{ key: 'zero', value: { intValue: 0 } }, { key: 'nan', value: { doubleValue: NaN } }] },
        scopeMetrics: [{ metrics: [{ name: 'h', histogram: { dataPoints: [{ sum: 0, min: -Infinity, max: Infinity }] } }] }],
      }],
    })).finish();
    const json = toOtlpJson('metrics', proto) as any;
    expect(json.resourceMetrics[0].resource.attributes).toEqual([
      { key: 'zero', value: { intValue: '0' } }, { key: 'nan', value: { doubleValue: 'NaN' } },
    ]);
    expect(json.resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0]).toEqual({ sum: 0, min: '-Infinity', max: 'Infinity' });
  });

  test('rejects malformed protobuf with the scanner\'s message', () => {
    expectMalformed(() => toOtlpJson('traces', Uint8Array.from([0x0a, 0x05, 0x01])), 'ExportTraceServiceRequest.resource_spans', 'truncated');
    expectMalformed(() => toOtlpJson('logs', wire.bytes(wire.len(1, wire.len(2, wire.len(2, wire.len(9, [1, 2])))))),
      'LogRecord.trace_id (field 9) is 2 bytes long');
  });

  test('an empty request is an empty object', () => {
    expect(toOtlpJson('logs', new Uint8Array(0))).toEqual({});
  });
});

describe('fromOtlpJson', () => {
  test.each(SIGNALS.map((signal) => [signal]))('%s: fromOtlpJson(toOtlpJson(x)) decodes equal to x', (signal) => {
    for (const seed of [1, 2]) {
      const { proto } = payloadFor(signal, seed);
      expect(decoded(signal, fromOtlpJson(signal, toOtlpJson(signal, proto)))).toEqual(decoded(signal, proto));
    }
  });

  test('round trip with summaries, exemplars and negative integers', () => {
    const { proto } = metricsPayloadWithSummaryAndExemplars(2);
    expect(decoded('metrics', fromOtlpJson('metrics', toOtlpJson('metrics', proto)))).toEqual(decoded('metrics', proto));
  });

  test.each(SIGNALS.map((signal) => [signal]))('%s: accepts what otlp-transformer\'s JSON serializer writes (numbers for int64)', (signal) => {
    const payload = payloadFor(signal, 5);
    const fromJson = fromOtlpJson(signal, payload.json);
    expect(normalize(toOtlpJson(signal, fromJson))).toEqual(normalize(toOtlpJson(signal, payload.proto)));
  });

  test('integers as numbers or decimal strings, enums as integers or names, null as absent: all the same bytes', () => {
    const span = (fields: Record<string, unknown>): unknown => ({ resourceSpans: [{ scopeSpans: [{ spans: [fields] }] }] });
    const base = { traceId: '0102030405060708090a0b0c0d0e0f10', spanId: 'A1A2A3A4A5A6A7A8', name: 'x' };
    const canonical = fromOtlpJson('traces', span({ ...base, kind: 2, startTimeUnixNano: '1700000000000000000', droppedAttributesCount: 3 }));
    for (const variant of [
      { kind: 'SPAN_KIND_SERVER', startTimeUnixNano: 1700000000000000000, droppedAttributesCount: '3' },
      { kind: 2, startTimeUnixNano: '1700000000000000000', droppedAttributesCount: 3, parentSpanId: null, events: null },
    ]) {
      expect(fromOtlpJson('traces', span({ ...base, ...variant }))).toEqual(canonical);
    }
    expect(toOtlpJson('traces', canonical)).toEqual(span({ ...base, spanId: 'a1a2a3a4a5a6a7a8', kind: 2, startTimeUnixNano: '1700000000000000000', droppedAttributesCount: 3 }));
  });

  test('unknown field names are ignored, as the spec requires of receivers', () => {
    expect(fromOtlpJson('logs', { resourceLogs: [{ futureField: { a: 1 }, scopeLogs: [{ logRecords: [{}] }] }], extra: 1 }).length)
      .toBeGreaterThan(0);
    expect(fromOtlpJson('logs', {}).length).toBe(0);
  });

  const at = 'resourceSpans[0].scopeSpans[0].spans[0]';
  const withSpan = (fields: Record<string, unknown>): unknown => ({ resourceSpans: [{ scopeSpans: [{ spans: [fields] }] }] });

  test.each([
    ['not an object', [], 'invalid OTLP/JSON ExportTraceServiceRequest: expected a JSON object (ExportTraceServiceRequest), got an array'],
    ['one field under both spellings', { resourceSpans: [], resource_spans: [] }, 'resource_spans: the field is given twice, as "resourceSpans" and as "resource_spans"'],
    ['a base64 trace id', withSpan({ traceId: 'AQIDBAUGBwgJCgsMDQ4PEA==' }), `${at}.traceId: expected a trace id as 32 hex digits (or ""), got "AQIDBAUGBwgJCgsMDQ4PEA=="`],
    ['a short trace id', withSpan({ traceId: 'abcd' }), `${at}.traceId: expected a trace id as 32 hex digits`],
    ['a non-hex span id', withSpan({ spanId: 'zzzzzzzzzzzzzzzz' }), `${at}.spanId: expected a span id as 16 hex digits`],
    ['a parent span id of a trace id\'s length', withSpan({ parentSpanId: '0102030405060708090a0b0c0d0e0f10' }), `${at}.parentSpanId: expected a span id`],
    ['a fractional timestamp', withSpan({ startTimeUnixNano: 1.5 }), `${at}.startTimeUnixNano: expected an integer (fixed64) as a number or a decimal string, got number 1.5`],
    ['a negative unsigned', withSpan({ endTimeUnixNano: '-1' }), `${at}.endTimeUnixNano: -1 is out of range for fixed64`],
    ['an int64 past 2^64', withSpan({ endTimeUnixNano: '18446744073709551616' }), 'is out of range for fixed64'],
    ['a uint32 past 2^32', withSpan({ droppedAttributesCount: 2 ** 32 }), `${at}.droppedAttributesCount: 4294967296 is out of range for uint32`],
    ['a string for a number', withSpan({ name: 5 }), `${at}.name: expected a string, got number 5`],
    ['an unknown enum name', withSpan({ kind: 'SERVER' }), `${at}.kind: expected an integer value of enum SpanKind, got "SERVER"`],
    ['an object where an array goes', withSpan({ attributes: { a: 1 } }), `${at}.attributes: expected an array, got an object`],
    ['two oneof members', withSpan({ attributes: [{ key: 'k', value: { stringValue: 'a', intValue: 1 } }] }),
      `${at}.attributes[0].value: sets stringValue and intValue, but only one of them may be set (oneof value)`],
    ['bad base64', withSpan({ attributes: [{ key: 'k', value: { bytesValue: 'a$b' } }] }), `${at}.attributes[0].value.bytesValue: expected base64`],
    ['a lone surrogate', withSpan({ name: 'a\ud800b' }), `${at}.name: string contains an unpaired UTF-16 surrogate`],
    ['a bool as a string', withSpan({ attributes: [{ key: 'k', value: { boolValue: 'true' } }] }), 'boolValue: expected true or false, got "true"'],
  ])('rejects %s with a clear message', (_name, json, fragment) => {
    expectMalformed(() => fromOtlpJson('traces', json), fragment);
  });

  test('rejects nesting deeper than 100 levels instead of overflowing the stack', () => {
    let value: unknown = { stringValue: 'leaf' };
    for (let i = 0; i < 5000; i++) value = { arrayValue: { values: [value] } };
    expectMalformed(() => fromOtlpJson('logs', { resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: value }] }] }] }),
      'nesting is deeper than 100 levels');
  });

  test('accepts the non-finite doubles and URL-safe base64 that proto3 JSON allows', () => {
    const bytes = fromOtlpJson('traces', withSpan({
      attributes: [{ key: 'd', value: { doubleValue: 'Infinity' } }, { key: 'b', value: { bytesValue: '-_8' } }],
    }));
    const json = toOtlpJson('traces', bytes) as any;
    expect(json.resourceSpans[0].scopeSpans[0].spans[0].attributes).toEqual([
      { key: 'd', value: { doubleValue: 'Infinity' } }, { key: 'b', value: { bytesValue: '+/8=' } },
    ]);
  });

  test('parseOtlpJson takes JSON text and says when it is not JSON', () => {
    const { json, proto } = payloadFor('logs', 6);
    const fromText = parseOtlpJson('logs', Buffer.from(JSON.stringify(json)));
    expect(normalize(toOtlpJson('logs', fromText))).toEqual(normalize(toOtlpJson('logs', proto)));
    expectMalformed(() => parseOtlpJson('metrics', '{"resourceMetrics": ['), 'invalid OTLP/JSON ExportMetricsServiceRequest: not JSON');
  });
});
