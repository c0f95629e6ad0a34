// A request holding 200,000 spans of one trace: filterTraceSpans collects one part per span, which must not go
// through a spread into a call (push(...parts) throws at such lengths).
import { filterTraceSpans, spanTraceIds } from '../../src/otlp/trace-filter.js';
import { lengthField as field } from '../helpers/small-requests.js';

test('200,000 spans of one trace in one request are all kept, byte for byte', () => {
  const traceId = Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex');
  const spans: Buffer[] = [];
  for (let i = 0; i < 200_000; i += 1) {
    const spanId = Buffer.alloc(8);
    spanId.writeUInt32BE(i + 1, 4);
    spans.push(field(2, Buffer.concat([field(1, traceId), field(2, spanId)]))); // ScopeSpans.spans: Span{trace_id, span_id}
  }
  const scopeSpans = field(2, Buffer.concat(spans)); // ResourceSpans.scope_spans
  const request = field(1, scopeSpans); // ExportTraceServiceRequest.resource_spans
  const result = filterTraceSpans(request, traceId);
  expect(result.spans).toBe(200_000);
  expect(result.bytes.equals(request)).toBe(true);
  expect(spanTraceIds(request)).toEqual([traceId.toString('hex')]);
});
