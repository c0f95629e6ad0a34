import { MalformedPayloadError } from '../../src/errors.js';
import type { Signal } from '../../src/model.js';
import { scanRequest } from '../../src/otlp/scanner.js';
import { tracePayload, wire } from '../helpers/otlp-payloads.js';

/** Asserts a MalformedPayloadError whose message contains every fragment (what, where, why). */
function expectMalformed(signal: Signal, bytes: Uint8Array | number[], ...fragments: string[]): void {
  let caught: unknown;
  try {
    scanRequest(signal, Uint8Array.from(bytes));
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(MalformedPayloadError);
  const message = (caught as Error).message;
  for (const fragment of fragments) expect(message).toContain(fragment);
}

const spanBytes = (...parts: number[][]): Uint8Array => wire.bytes(wire.len(1, wire.len(2, wire.len(2, ...parts))));
const logBytes = (...parts: number[][]): Uint8Array => wire.bytes(wire.len(1, wire.len(2, wire.len(2, ...parts))));
const pointBytes = (...parts: number[][]): Uint8Array =>
  wire.bytes(wire.len(1, wire.len(2, wire.len(2, wire.string(1, 'm'), wire.len(5, wire.len(1, ...parts))))));
const bytesOf = (length: number, fill = 1): Buffer => Buffer.alloc(length, fill);

describe('scanRequest rejects malformed framing with a message naming the message, field and offset', () => {
  test('truncated input: a length past the end of the buffer', () => {
    const { proto } = tracePayload(1);
    expectMalformed('traces', proto.subarray(0, 100),
      'malformed ExportTraceServiceRequest', 'ExportTraceServiceRequest.resource_spans (field 1) declares a length of',
      'but only', 'remain in the input (truncated?)', '(at byte 0)');
  });

  test('truncated input: in the middle of a varint, a tag, a fixed64', () => {
    expectMalformed('traces', [0x0a], 'the input ends (truncated?) in the middle of a varint', '(at byte 1)');
    expectMalformed('traces', [0x0a, 0x02, 0x12, 0x80, 0x10, 0x01], 'the enclosing ResourceSpans ends at byte 4 in the middle of a varint',
      '(at byte 3)');
    expectMalformed('logs', [0x88], 'the input ends (truncated?) in the middle of a varint', '(at byte 0)');
    const span = [...wire.tag(7, 1), 1, 2, 3];
    expectMalformed('traces', spanBytes(span),
      'Span.start_time_unix_nano (field 7) needs 8 bytes but only 3 remain in the input (truncated?)', '(at byte 6)');
    expectMalformed('traces', wire.bytes(wire.len(1, wire.len(2, wire.len(2, span))), wire.uvarint(2, 0)),
      'Span.start_time_unix_nano (field 7) needs 8 bytes but only 3 remain in the enclosing Span, which ends at byte 10');
  });

  test('length past the end of its enclosing message, though the buffer goes on', () => {
    const resourceSpans = [...wire.tag(2, 2), 10, 1, 2];
    const request = wire.bytes(wire.len(1, resourceSpans), wire.len(5, bytesOf(20)));
    expectMalformed('traces', request,
      'ResourceSpans.scope_spans (field 2) declares a length of 10 bytes but only 2 remain in the enclosing ResourceSpans, ' +
      'which ends at byte 6', '(at byte 2)');
  });

  test('a varint longer than 10 bytes, and one that overflows 64 bits', () => {
    expectMalformed('traces', [0x10, ...bytesOf(10, 0xff), 0x01], 'varint in ExportTraceServiceRequest is longer than 10 bytes', '(at byte 1)');
    expectMalformed('metrics', [0x0a, ...bytesOf(11, 0x80)], 'longer than 10 bytes');
    expectMalformed('logs', [0x10, ...bytesOf(9, 0xff), 0x02], 'overflows 64 bits');
    expect(() => scanRequest('logs', Uint8Array.from([0x10, ...bytesOf(9, 0xff), 0x01]))).not.toThrow();
  });

  test('field number 0', () => {
    expectMalformed('traces', [0x02, 0x00], 'ExportTraceServiceRequest has a field with number 0', '(at byte 0)');
    expectMalformed('traces', spanBytes([0x00, 0x00]), 'Span has a field with number 0', '(at byte 6)');
  });

  test('field numbers above 2^29 - 1', () => {
    expectMalformed('logs', [...wire.tag(2 ** 29, 0), 1], 'has a field number above 536870911');
  });

  test.each([
    [3, 'uses wire type 3 (start-group); OTLP never uses groups'],
    [4, 'uses wire type 4 (end-group); OTLP never uses groups'],
    [6, 'has invalid wire type 6'],
    [7, 'has invalid wire type 7'],
  ])('wire type %i', (wireType, fragment) => {
    expectMalformed('metrics', [(1 << 3) | wireType, 0], `ExportMetricsServiceRequest field 1 ${fragment}`, '(at byte 0)');
    expectMalformed('traces', spanBytes([...wire.tag(20, wireType), 0]), `Span field 20 ${fragment}`);
  });

  test('wrong wire type for a known field', () => {
    expectMalformed('traces', [0x08, 0x01],
      'ExportTraceServiceRequest.resource_spans (field 1) has wire type 0 (varint); expected 2 (length-delimited)', '(at byte 0)');
    expectMalformed('traces', spanBytes(wire.uvarint(7, 5)),
      'Span.start_time_unix_nano (field 7) has wire type 0 (varint); expected 1 (64-bit)');
    expectMalformed('traces', spanBytes(wire.fixed64(5, 1n)), 'Span.name (field 5) has wire type 1 (64-bit); expected 2 (length-delimited)');
    expectMalformed('traces', spanBytes(wire.len(9, wire.uvarint(2, 1))), 'KeyValue.value (field 2) has wire type 0');
    expectMalformed('metrics', pointBytes(wire.uvarint(6, 1)), 'NumberDataPoint.as_int (field 6) has wire type 0 (varint); expected 1 (64-bit)');
    expectMalformed('metrics', pointBytes(wire.len(8, [])), 'NumberDataPoint.flags (field 8) has wire type 2');
    expectMalformed('logs', logBytes(wire.fixed64(9, 1n)), 'LogRecord.trace_id (field 9) has wire type 1');
  });

  test('trace ids that are not 16 bytes (or empty)', () => {
    const message = 'a trace id must be 16 bytes or empty';
    expectMalformed('traces', spanBytes(wire.len(1, bytesOf(15))), 'Span.trace_id (field 1) is 15 bytes long', message);
    expectMalformed('traces', spanBytes(wire.len(1, bytesOf(17))), 'Span.trace_id (field 1) is 17 bytes long', message);
    expectMalformed('traces', spanBytes(wire.len(13, wire.len(1, bytesOf(3)))), 'Span.Link.trace_id (field 1) is 3 bytes long', message);
    expectMalformed('logs', logBytes(wire.len(9, bytesOf(8))), 'LogRecord.trace_id (field 9) is 8 bytes long', message);
    expectMalformed('metrics', pointBytes(wire.len(5, wire.len(5, bytesOf(4)))), 'Exemplar.trace_id (field 5) is 4 bytes long', message);
  });

  test('span ids that are not 8 bytes (or empty)', () => {
    const message = 'a span id must be 8 bytes or empty';
    expectMalformed('traces', spanBytes(wire.len(2, bytesOf(7))), 'Span.span_id (field 2) is 7 bytes long', message);
    expectMalformed('traces', spanBytes(wire.len(4, bytesOf(9))), 'Span.parent_span_id (field 4) is 9 bytes long', message);
    expectMalformed('traces', spanBytes(wire.len(13, wire.len(2, bytesOf(16)))), 'Span.Link.span_id (field 2) is 16 bytes long', message);
    expectMalformed('logs', logBytes(wire.len(10, bytesOf(4))), 'LogRecord.span_id (field 10) is 4 bytes long', message);
    expectMalformed('metrics', pointBytes(wire.len(5, wire.len(4, bytesOf(2)))), 'Exemplar.span_id (field 4) is 2 bytes long', message);
  });

  test.each([
    ['a stray continuation byte', [0x80]],
    ['0xff', [0x61, 0xff]],
    ['an overlong encoding', [0xc0, 0x80]],
    ['an encoded UTF-16 surrogate', [0xed, 0xa0, 0x80]],
    ['a sequence cut short', [0xe6, 0x97]],
  ])('invalid UTF-8 in a service.name value: %s', (_name, value) => {
    const attribute = wire.len(1, wire.string(1, 'service.name'), wire.len(2, wire.len(1, value)));
    const request = wire.bytes(wire.len(1, wire.len(1, attribute)));
    expectMalformed('logs', request, 'service.name has a value that is not valid UTF-8', '(at byte 24)');
  });

  test('invalid UTF-8 elsewhere is not the scanner\'s business (strings are not decoded on the hot path)', () => {
    const attribute = wire.len(1, wire.string(1, 'host.name'), wire.len(2, wire.len(1, [0xff])));
    expect(scanRequest('logs', wire.bytes(wire.len(1, wire.len(1, attribute)))).items).toBe(0);
  });

  test('packed fixed-size values whose length is not a multiple of the value size', () => {
    const point = wire.len(1, wire.len(6, bytesOf(12)));
    const request = wire.bytes(wire.len(1, wire.len(2, wire.len(2, wire.len(9, point)))));
    expectMalformed('metrics', request, 'HistogramDataPoint.bucket_counts (field 6) holds packed 8-byte values but is 12 bytes long');
  });

  test('AnyValue nested deeper than 100 levels', () => {
    let value: number[] = wire.string(1, 'leaf');
    for (let i = 0; i < 120; i++) value = wire.len(5, wire.len(1, value)); // array_value → values → …
    expectMalformed('traces', spanBytes(wire.len(9, wire.string(1, 'deep'), wire.len(2, value))),
      'messages nest deeper than 100 levels');
    let shallow: number[] = wire.string(1, 'leaf');
    for (let i = 0; i < 40; i++) shallow = wire.len(5, wire.len(1, shallow));
    expect(scanRequest('traces', spanBytes(wire.len(9, wire.string(1, 'ok'), wire.len(2, shallow)))).items).toBe(1);
  });

  test('a payload of the wrong signal is rejected, not misread', () => {
    const { proto } = tracePayload(2);
    expect(() => scanRequest('metrics', proto)).toThrow(MalformedPayloadError);
  });
});
