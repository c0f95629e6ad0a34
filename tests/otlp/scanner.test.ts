import fc from 'fast-check';
import { SIGNALS } from '../../src/model.js';
import type { ScanResult } from '../../src/model.js';
import { scanRequest } from '../../src/otlp/scanner.js';
import {
  logsPayload, metricsPayload, metricsPayloadWithSummaryAndExemplars, payloadFor, referenceScan, tracePayload,
  traceRequestOfSize, wire,
} from '../helpers/otlp-payloads.js';

const withoutFlags = ({ ambiguousServices: _ignored, ...rest }: ScanResult & { ambiguousServices: boolean }): ScanResult => rest;

describe('scanRequest on generated payloads', () => {
  test.each(SIGNALS.map((signal) => [signal]))('%s: equals what the generator put in, and a full protobufjs decode', (signal) => {
    for (const seed of [1, 2, 3, 42]) {
      const payload = payloadFor(signal, seed);
      const scan = scanRequest(signal, payload.proto);
      expect(scan).toEqual(payload.expected);
      expect(scan).toEqual(withoutFlags(referenceScan(signal, payload.proto)));
    }
  });

  test('generated payloads exercise what the scanner must handle', () => {
    const traces = tracePayload(1);
    expect(traces.expected.services).toEqual(expect.arrayContaining(['zahlungsdienst-ü', '注文サービス']));
    expect(traces.expected.traceIds.length).toBeGreaterThan(3);
    const logs = logsPayload(1);
    expect(logs.expected.traceIds.length).toBeGreaterThan(0);
    expect(logs.expected.traceIds.length).toBeLessThan(logs.expected.items);
    expect(metricsPayload(1).expected.items).toBeGreaterThan(30);
  });

  test('summary metrics and exemplars: every data point kind counts, exemplar trace ids are collected', () => {
    const payload = metricsPayloadWithSummaryAndExemplars(5);
    const scan = scanRequest('metrics', payload.proto);
    expect(scan).toEqual(payload.expected);
    expect(scan).toEqual(withoutFlags(referenceScan('metrics', payload.proto)));
  });

  test('a request of about 1 MiB is scanned exactly', () => {
    const payload = traceRequestOfSize(1 << 20, 9);
    expect(payload.proto.length).toBeGreaterThan(0.95 * (1 << 20));
    expect(payload.proto.length).toBeLessThan(1.05 * (1 << 20));
    expect(scanRequest('traces', payload.proto)).toEqual(payload.expected);
  });

  test('a view into a larger buffer is scanned from its own offset', () => {
    const payload = logsPayload(7);
    const backing = new Uint8Array(payload.proto.length + 100).fill(0xff);
    backing.set(payload.proto, 37);
    expect(scanRequest('logs', backing.subarray(37, 37 + payload.proto.length))).toEqual(payload.expected);
  });
});

describe('scanRequest edge cases', () => {
  const empty: ScanResult = { items: 0, services: [], startNs: null, endNs: null, traceIds: [] };

  test.each(SIGNALS.map((signal) => [signal]))('%s: an empty buffer is a valid empty request', (signal) => {
    expect(scanRequest(signal, new Uint8Array(0))).toEqual(empty);
  });

  test('unknown fields of every valid wire type are skipped at every level', () => {
    const unknown = [
      ...wire.uvarint(99, 300), ...wire.fixed64(98, 7n), ...wire.len(97, [1, 2, 3]), ...wire.tag(96, 5), 1, 2, 3, 4,
      ...wire.uvarint(536870911, 1), // the largest field number protobuf allows
    ];
    const traceId = Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex');
    const span = wire.len(2, unknown, wire.len(1, traceId), wire.fixed64(7, 10n), unknown, wire.fixed64(8, 20n));
    const resource = wire.len(1, unknown, wire.len(1, wire.string(1, 'service.name'), unknown, wire.len(2, wire.string(1, 'svc'), unknown)));
    const request = wire.bytes(unknown, wire.len(1, resource, unknown, wire.len(2, unknown, span)), unknown);
    expect(scanRequest('traces', request)).toEqual({
      items: 1, services: ['svc'], startNs: 10n, endNs: 20n, traceIds: ['0102030405060708090a0b0c0d0e0f10'],
    });
  });

  test('trace ids are listed once however they repeat, also when two share their first bytes', () => {
    const a = '0102030405060708090a0b0c0d0e0f10';
    const b = 'ffeeddccbbaa99887766554433221100';
    const sameStart = '01020344ffffffffffffffffffffffff'; // a's first 30 bits (0x44 & 0x3f = 0x04), then different
    const span = (hex: string) => wire.len(2, wire.len(1, [...Buffer.from(hex, 'hex')]));
    const scope = (...spans: number[][]) => wire.len(2, ...spans);
    const request = wire.bytes(wire.len(1, scope(span(a), span(b)), scope(span(sameStart), span(a)), scope(span(b), span(sameStart), span(a))));
    expect(scanRequest('traces', request)).toMatchObject({ items: 7, traceIds: [a, sameStart, b] });
  });

  test('trace ids are listed once when there are more than the lookup table holds, or all look alike to it', () => {
    const id = (n: number, alike: boolean) => {
      const bytes = Buffer.alloc(16, 0xab);
      // alike: only bytes the lookup does not hash differ
      if (alike) bytes.writeUInt16BE(n, 0);
      else bytes.writeUInt32BE(n * 2654435761 >>> 0, 12);
      return bytes.toString('hex');
    };
    for (const [count, alike] of [[6000, false], [40, true]] as const) {
      const ids = Array.from({ length: count }, (_, n) => id(n, alike));
      const span = (hex: string) => wire.len(2, wire.len(1, [...Buffer.from(hex, 'hex')]));
      // Every id twice, the second time after all the others.
      const request = wire.bytes(wire.len(1, wire.len(2, ...ids.map(span)), wire.len(2, ...ids.map(span))));
      const scan = scanRequest('traces', request);
      expect({ items: scan.items, traceIds: scan.traceIds }).toEqual({ items: count * 2, traceIds: [...new Set(ids)].sort() });
    }
  });

  test('zero timestamps are ignored; a request without any has no range', () => {
    const spanWithoutTimes = wire.len(2, wire.string(5, 'x'));
    const request = wire.bytes(wire.len(1, wire.len(2, spanWithoutTimes, spanWithoutTimes)));
    expect(scanRequest('traces', request)).toEqual({ ...empty, items: 2 });
    const span = wire.len(2, wire.fixed64(7, 0n), wire.fixed64(8, 50n));
    expect(scanRequest('traces', wire.bytes(wire.len(1, wire.len(2, span))))).toMatchObject({ startNs: 50n, endNs: 50n });
  });

  test('the range holds every counted timestamp, so start <= end even when a span ends before it starts', () => {
    const span = wire.len(2, wire.fixed64(7, 900n), wire.fixed64(8, 100n));
    expect(scanRequest('traces', wire.bytes(wire.len(1, wire.len(2, span))))).toMatchObject({ startNs: 100n, endNs: 900n });
  });

  test('timestamps above 2^63 keep full precision', () => {
    const big = 2n ** 64n - 5n;
    const span = wire.len(2, wire.fixed64(7, 2n ** 63n + 1n), wire.fixed64(8, big));
    expect(scanRequest('traces', wire.bytes(wire.len(1, wire.len(2, span))))).toMatchObject({ startNs: 2n ** 63n + 1n, endNs: big });
  });

  test('the range is the exact min and max of the set timestamps, for any 64-bit values (property)', () => {
    // Values that share their high or low 32 bits, zeros (not set), and the extremes: the comparison is byte-wise.
    const base = 1_764_000_000_000_000_000n;
    const stamp = fc.oneof(
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.bigInt({ min: base - 2n ** 33n, max: base + 2n ** 33n }),
      fc.constantFrom(0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(stamp, stamp), { minLength: 1, maxLength: 20 }), (pairs) => {
        const spans = pairs.map(([start, end]) => wire.len(2, wire.fixed64(7, start), wire.fixed64(8, end)));
        const scan = scanRequest('traces', wire.bytes(wire.len(1, wire.len(2, ...spans))));
        const set = pairs.flat().filter((t) => t !== 0n);
        const min = set.length === 0 ? null : set.reduce((a, b) => (b < a ? b : a));
        const max = set.length === 0 ? null : set.reduce((a, b) => (b > a ? b : a));
        expect({ startNs: scan.startNs, endNs: scan.endNs }).toEqual({ startNs: min, endNs: max });
      }),
      { numRuns: 300 },
    );
  });

  test('logs fall back to observed time; metrics to the point time when the start is zero', () => {
    const record = wire.len(2, wire.fixed64(1, 0n), wire.fixed64(11, 77n));
    expect(scanRequest('logs', wire.bytes(wire.len(1, wire.len(2, record))))).toMatchObject({ items: 1, startNs: 77n, endNs: 77n });
    const point = wire.len(1, wire.fixed64(2, 0n), wire.fixed64(3, 66n));
    const metric = wire.len(2, wire.string(1, 'g'), wire.len(5, point, point));
    expect(scanRequest('metrics', wire.bytes(wire.len(1, wire.len(2, metric))))).toMatchObject({ items: 2, startNs: 66n, endNs: 66n });
  });

  test('empty trace ids are not collected; span links are not trace ids of the request', () => {
    const link = wire.len(13, wire.len(1, Buffer.alloc(16, 0xab)), wire.len(2, Buffer.alloc(8, 1)));
    const span = wire.len(2, wire.len(1, []), link);
    const record = wire.len(2, wire.len(9, []));
    expect(scanRequest('traces', wire.bytes(wire.len(1, wire.len(2, span))))).toMatchObject({ items: 1, traceIds: [] });
    expect(scanRequest('logs', wire.bytes(wire.len(1, wire.len(2, record))))).toMatchObject({ items: 1, traceIds: [] });
  });

  test('service.name: only string values count; repeated fields merge as protobuf says (last one wins)', () => {
    const attribute = (...parts: number[][]): number[] => wire.len(1, ...parts);
    const resource = wire.len(1,
      attribute(wire.string(1, 'service.name'), wire.len(2, wire.uvarint(3, 5))), // an int: not a service name
      attribute(wire.string(1, 'service.namespace'), wire.len(2, wire.string(1, 'not-me'))),
      attribute(wire.string(1, 'other'), wire.string(1, 'service.name'), wire.len(2, wire.string(1, 'a'))), // last key wins
      attribute(wire.string(1, 'service.name'), wire.len(2, wire.string(1, 'lost'), wire.uvarint(2, 1))), // bool set last
      attribute(wire.string(1, 'service.name'), wire.len(2, wire.uvarint(2, 1)), wire.len(2, wire.string(1, 'b'))),
      attribute(wire.string(1, 'service.name'), wire.len(2, wire.string(1, 'c')), wire.len(2)), // an empty merge keeps 'c'
      attribute(wire.string(1, 'service.name'), wire.len(2, wire.string(1, 'a'))), // duplicates collapse
    );
    expect(scanRequest('logs', wire.bytes(wire.len(1, resource)))).toEqual({ ...empty, services: ['a', 'b', 'c'] });
  });

  test('services are sorted and distinct across resources', () => {
    const resourceX = (name: string): number[] =>
      wire.len(1, wire.len(1, wire.len(1, wire.string(1, 'service.name'), wire.len(2, wire.string(1, name)))));
    const request = wire.bytes(resourceX('zeta'), resourceX('alpha'), resourceX('zeta'), resourceX(''));
    expect(scanRequest('metrics', request).services).toEqual(['', 'alpha', 'zeta']);
  });

  test('packed and unpacked repeated numbers are both accepted', () => {
    const packed = wire.len(1, wire.fixed64(3, 10n), wire.len(6, Buffer.alloc(16)), wire.len(7, Buffer.alloc(8)));
    const unpacked = wire.len(1, wire.fixed64(3, 11n), wire.fixed64(6, 1n), wire.fixed64(6, 2n), wire.fixed64(7, 3n));
    const buckets = wire.len(8, wire.uvarint(1, 3), wire.len(2, [1, 0x80, 0x01, 3]), wire.uvarint(2, 9));
    const exponential = wire.len(1, wire.fixed64(3, 12n), buckets);
    const metric = wire.len(2, wire.len(9, packed, unpacked), wire.len(10, exponential));
    expect(scanRequest('metrics', wire.bytes(wire.len(1, wire.len(2, metric))))).toMatchObject({ items: 3, startNs: 10n, endNs: 12n });
  });
});
