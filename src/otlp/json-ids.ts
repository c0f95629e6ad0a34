// OTLP/JSON deviates from the proto3 JSON mapping in one place: trace and span ids are hex strings, not base64.
// These are the bytes fields concerned (Span, Span.Link, LogRecord, Exemplar), with the byte length of a valid id.
export const HEX_ID_BYTES: ReadonlyMap<string, number> = new Map([
  ['traceId', 16],
  ['spanId', 8],
  ['parentSpanId', 8],
]);
