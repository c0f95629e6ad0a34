// filterTraceSpans and spanTraceIds against a protobufjs decode of the same request: exactly the spans of the trace,
// with their resources and scopes unchanged; nothing of other traces.
import { MalformedPayloadError } from '../../src/errors.js';
import { requestType } from '../../src/otlp/proto-root.js';
import { filterTraceSpans, spanTraceIds } from '../../src/otlp/trace-filter.js';
import { tracePayload, traceRequestOfSize, wire } from '../helpers/otlp-payloads.js';

type Msg = Record<string, any>;

function decode(bytes: Uint8Array): Msg {
  const type = requestType('traces');
  return type.toObject(type.decode(bytes), { longs: String, bytes: String, defaults: false, arrays: true }) as Msg;
}

/** The reference: the decoded request with every span of another trace removed, and emptied scopes/resources dropped. */
function expectedFiltered(request: Msg, traceIdBase64: string): Msg {
  const resourceSpans = (request.resourceSpans as Msg[])
    .map((rs) => ({
      ...rs,
      scopeSpans: (rs.scopeSpans as Msg[])
        .map((ss) => ({ ...ss, spans: (ss.spans as Msg[]).filter((span) => span.traceId === traceIdBase64) }))
        .filter((ss) => ss.spans.length > 0),
    }))
    .filter((rs) => rs.scopeSpans.length > 0);
  return { resourceSpans };
}

describe('filterTraceSpans', () => {
  test('keeps exactly the spans of each trace of generated requests, with resources and scopes as they were', () => {
    for (const seed of [1, 2, 3]) {
      const payload = tracePayload(seed, 80);
      const decoded = decode(payload.proto);
      let total = 0;
      for (const traceId of payload.expected.traceIds) {
        const id = Buffer.from(traceId, 'hex');
        const result = filterTraceSpans(payload.proto, id);
        const expected = expectedFiltered(decoded, id.toString('base64'));
        const spans = (expected.resourceSpans as Msg[]).flatMap((rs) => (rs.scopeSpans as Msg[]).flatMap((ss) => ss.spans as Msg[]));
        expect(result.spans).toBe(spans.length);
        expect(result.spans).toBeGreaterThan(0);
        expect(decode(result.bytes)).toEqual(expected);
        total += result.spans;
      }
      // Every span belongs to exactly one trace.
      expect(total).toBe(payload.expected.items);
    }
  });

  test('a trace that is not in the request gives an empty request', () => {
    const payload = tracePayload(4);
    const result = filterTraceSpans(payload.proto, Buffer.alloc(16, 0xab));
    expect(result).toEqual({ bytes: Buffer.alloc(0), spans: 0 });
  });

  test('large messages (multi-byte length prefixes) are rebuilt correctly', () => {
    const payload = traceRequestOfSize(600_000, 8);
    const traceId = payload.expected.traceIds[5]!;
    const result = filterTraceSpans(payload.proto, Buffer.from(traceId, 'hex'));
    expect(decode(result.bytes)).toEqual(expectedFiltered(decode(payload.proto), Buffer.from(traceId, 'hex').toString('base64')));
    // A whole-request filter of a single-trace request is the identity.
    const all = filterTraceSpans(result.bytes, Buffer.from(traceId, 'hex'));
    expect(all.bytes.equals(result.bytes)).toBe(true);
  });

  test('filtered requests concatenate into one valid request holding all their spans', () => {
    const a = tracePayload(5, 30);
    const b = tracePayload(6, 30);
    const id = Buffer.from(a.expected.traceIds[0]!, 'hex');
    const joined = Buffer.concat([filterTraceSpans(a.proto, id).bytes, filterTraceSpans(a.proto, id).bytes]);
    const decoded = decode(joined);
    expect(decoded.resourceSpans.length).toBe(2 * decode(filterTraceSpans(a.proto, id).bytes).resourceSpans.length);
    expect(filterTraceSpans(b.proto, id).spans).toBe(0);
  });

  test('unknown fields at every level are copied; a span whose last trace_id differs is dropped', () => {
    const id = Buffer.alloc(16, 1);
    const other = Buffer.alloc(16, 2);
    const keep = wire.len(2, wire.len(1, id), wire.string(5, 'keep'), wire.uvarint(77, 9));
    const overridden = wire.len(2, wire.len(1, id), wire.string(5, 'gone'), wire.len(1, other));
    const scope = wire.len(1, wire.string(1, 'scope'));
    const scopeSpans = wire.len(2, scope, keep, overridden, wire.string(3, 'schema'), wire.fixed64(50, 3n));
    const resource = wire.len(1, wire.len(1, wire.string(1, 'k')));
    const request = wire.bytes(wire.len(1, resource, scopeSpans, wire.string(3, 'rs-schema'), wire.uvarint(40, 1)));
    const expected = wire.bytes(wire.len(1, resource, wire.len(2, scope, keep, wire.string(3, 'schema'), wire.fixed64(50, 3n)), wire.string(3, 'rs-schema'), wire.uvarint(40, 1)));
    const result = filterTraceSpans(request, id);
    expect(result.spans).toBe(1);
    expect([...result.bytes]).toEqual([...expected]);
  });

  test('lengths past 16 KiB (three-byte prefixes) are rebuilt for the kept parts', () => {
    const id = Buffer.alloc(16, 3);
    const big = wire.len(2, wire.len(1, id), wire.string(5, 'x'.repeat(20_000)));
    const small = wire.len(2, wire.len(1, Buffer.alloc(16, 4)), wire.string(5, 'y'.repeat(300)));
    const request = wire.bytes(wire.len(1, wire.len(2, big, small)));
    const result = filterTraceSpans(request, id);
    expect([...result.bytes]).toEqual([...wire.bytes(wire.len(1, wire.len(2, big)))]);
    expect(decode(result.bytes).resourceSpans[0].scopeSpans[0].spans[0].name).toHaveLength(20_000);
  });

  test('broken framing is a MalformedPayloadError', () => {
    const payload = tracePayload(7);
    const id = Buffer.from(payload.expected.traceIds[0]!, 'hex');
    expect(() => filterTraceSpans(payload.proto.subarray(0, payload.proto.length - 5), id)).toThrow(MalformedPayloadError);
    expect(() => filterTraceSpans(wire.bytes(wire.len(1, wire.len(2, wire.len(2, wire.len(1, [1, 2, 3]))))), id)).toThrow(MalformedPayloadError);
  });
});

describe('spanTraceIds', () => {
  test('are the distinct span trace ids the generator put in (span links excluded)', () => {
    for (const seed of [1, 2, 3]) {
      const payload = tracePayload(seed, 80);
      expect(spanTraceIds(payload.proto).sort()).toEqual(payload.expected.traceIds);
    }
    const big = traceRequestOfSize(1 << 20, 2);
    expect(spanTraceIds(big.proto).sort()).toEqual(big.expected.traceIds);
  });

  test('an empty request has none; broken framing throws', () => {
    expect(spanTraceIds(new Uint8Array(0))).toEqual([]);
    const payload = tracePayload(1);
    expect(() => spanTraceIds(payload.proto.subarray(0, payload.proto.length - 2))).toThrow(MalformedPayloadError);
  });
});
