// shiftTimestamps against an independent reference: both requests decoded with protobufjs and compared field by
// field — every timestamp moved by exactly the offset (zero stays zero), every other field equal.
import { InvalidArgumentError, MalformedPayloadError } from '../../src/errors.js';
import { SIGNALS, type Signal } from '../../src/model.js';
import { shiftedTimestampFields, shiftTimestamps } from '../../src/otlp/time-shift.js';
import { compareShifted, decodeRequest } from '../helpers/otlp-compare.js';
import { logsPayload, metricsPayload, metricsPayloadWithSummaryAndExemplars, payloadFor, tracePayload, wire } from '../helpers/otlp-payloads.js';

const payloads: [string, Signal, Uint8Array][] = [
  ['traces (events, links)', 'traces', tracePayload(3, 60).proto],
  ['metrics (gauge, sums, histograms, exponential)', 'metrics', metricsPayload(4).proto],
  ['metrics (summary, exemplars)', 'metrics', metricsPayloadWithSummaryAndExemplars(5).proto],
  ['logs (some untimed)', 'logs', logsPayload(6).proto],
];

describe('shiftTimestamps', () => {
  const offsets = [7_200_000_000_000n, -1_800_000_000_000n, 1n, 86_400_000_000_123n];

  test.each(payloads)('%s: every timestamp moves by the offset, nothing else changes', (_name, signal, proto) => {
    const original = decodeRequest(signal, proto);
    for (const offset of offsets) {
      const result = shiftTimestamps(signal, proto, offset);
      expect(result.bytes.length).toBe(proto.length);
      const moved = compareShifted(original, decodeRequest(signal, result.bytes), offset);
      expect(moved).toBeGreaterThan(0);
      expect(result.shifted).toBe(moved);
      // The bytes differ only inside 8-byte timestamp fields: no framing byte changed.
      let differing = 0;
      for (let i = 0; i < proto.length; i++) if (proto[i] !== result.bytes[i]) differing += 1;
      expect(differing).toBeLessThanOrEqual(moved * 8);
      // Shifting back restores the exact bytes.
      expect(Buffer.compare(shiftTimestamps(signal, result.bytes, -offset).bytes, Buffer.from(proto))).toBe(0);
    }
  });

  test('the input is not modified, and offset 0 returns an identical copy', () => {
    const { proto } = tracePayload(9);
    const before = Buffer.from(proto);
    shiftTimestamps('traces', proto, 5_000_000_000n);
    expect(Buffer.compare(Buffer.from(proto), before)).toBe(0);
    const same = shiftTimestamps('traces', proto, 0n);
    expect(same.shifted).toBe(0);
    expect(same.bytes.equals(before)).toBe(true);
    expect(same.bytes).not.toBe(proto);
  });

  test('zero timestamps stay zero: untimed log records and gauge points without start', () => {
    const logs = logsPayload(6);
    const zeroTimes = (decodeRequest('logs', logs.proto) as { resourceLogs: { scopeLogs: { logRecords: { timeUnixNano?: string }[] }[] }[] })
      .resourceLogs.flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords)).filter((r) => (r.timeUnixNano ?? '0') === '0');
    expect(zeroTimes.length).toBeGreaterThan(0);
    // compareShifted checks 0 → 0 for each of them.
    compareShifted(decodeRequest('logs', logs.proto), decodeRequest('logs', shiftTimestamps('logs', logs.proto, 1_000n).bytes), 1_000n);
  });

  test('the timestamp fields shifted are exactly those of the OTLP protos', () => {
    expect(shiftedTimestampFields('traces')).toEqual(['Span.Event.time_unix_nano', 'Span.end_time_unix_nano', 'Span.start_time_unix_nano']);
    expect(shiftedTimestampFields('metrics')).toEqual([
      'Exemplar.time_unix_nano',
      'ExponentialHistogramDataPoint.start_time_unix_nano',
      'ExponentialHistogramDataPoint.time_unix_nano',
      'HistogramDataPoint.start_time_unix_nano',
      'HistogramDataPoint.time_unix_nano',
      'NumberDataPoint.start_time_unix_nano',
      'NumberDataPoint.time_unix_nano',
      'SummaryDataPoint.start_time_unix_nano',
      'SummaryDataPoint.time_unix_nano',
    ]);
    expect(shiftedTimestampFields('logs')).toEqual(['LogRecord.observed_time_unix_nano', 'LogRecord.time_unix_nano']);
  });

  test('a shift that would move a timestamp before 1970 or past 2^64 is refused', () => {
    const { proto } = payloadFor('traces', 2);
    expect(() => shiftTimestamps('traces', proto, -2_000_000_000_000_000_000n)).toThrow(InvalidArgumentError);
    expect(() => shiftTimestamps('traces', proto, 2n ** 64n)).toThrow(InvalidArgumentError);
  });

  test('unknown fields are copied and fixed64 fields of other names are left alone', () => {
    // Span with an unknown fixed64 field 99 and an unknown message field 98; a histogram point's sum (fixed64).
    const span = wire.len(2, wire.fixed64(7, 1_000n), wire.fixed64(99, 5n), wire.len(98, wire.fixed64(1, 6n)));
    const request = wire.bytes(wire.len(1, wire.len(2, span)));
    const shifted = shiftTimestamps('traces', request, 10n).bytes;
    const expected = wire.bytes(wire.len(1, wire.len(2, wire.len(2, wire.fixed64(7, 1_010n), wire.fixed64(99, 5n), wire.len(98, wire.fixed64(1, 6n))))));
    expect([...shifted]).toEqual([...expected]);
  });

  test.each(SIGNALS.map((signal) => [signal]))('%s: broken framing is a MalformedPayloadError', (signal) => {
    const { proto } = payloadFor(signal, 1);
    expect(() => shiftTimestamps(signal, proto.subarray(0, proto.length - 3), 1n)).toThrow(MalformedPayloadError);
  });
});
