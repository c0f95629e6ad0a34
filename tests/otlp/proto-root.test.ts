import { SIGNALS } from '../../src/model.js';
import { otlpRoot, otlpType, requestType, responseType } from '../../src/otlp/proto-root.js';

describe('proto-root', () => {
  test('loads once and serves the Export request and response types of every signal', () => {
    expect(otlpRoot()).toBe(otlpRoot());
    expect(SIGNALS.map((signal) => requestType(signal).name)).toEqual([
      'ExportTraceServiceRequest', 'ExportMetricsServiceRequest', 'ExportLogsServiceRequest',
    ]);
    expect(SIGNALS.map((signal) => responseType(signal).fieldsArray.map((f) => f.name))).toEqual([
      ['partialSuccess'], ['partialSuccess'], ['partialSuccess'],
    ]);
  });

  test('field names are lowerCamelCase and imports are resolved', () => {
    const span = otlpType('opentelemetry.proto.trace.v1.Span');
    expect(span.fields.startTimeUnixNano?.id).toBe(7);
    expect(span.fields.attributes?.resolvedType?.fullName).toBe('.opentelemetry.proto.common.v1.KeyValue');
  });

  test('a partial-success response encodes and decodes', () => {
    const type = responseType('traces');
    const bytes = type.encode(type.fromObject({ partialSuccess: { rejectedSpans: 3, errorMessage: 'bad span' } })).finish();
    expect(type.toObject(type.decode(bytes), { longs: Number })).toEqual({ partialSuccess: { rejectedSpans: 3, errorMessage: 'bad span' } });
  });
});
