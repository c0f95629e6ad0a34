// How captured requests are shown: ISO-8601 with nanoseconds where the data has them, and time arguments parsed
// back to exact nanoseconds. Expected strings are written by hand, not computed with the code under test.
import type { ArchivedRequest } from '../../src/model.js';
import { parseTime } from '../../src/config/units.js';
import { nanosToIso, requestView } from '../../src/query/request-view.js';

describe('nanosToIso', () => {
  test.each([
    [0n, '1970-01-01T00:00:00.000Z'],
    [1n, '1970-01-01T00:00:00.000000001Z'],
    [999_999n, '1970-01-01T00:00:00.000999999Z'],
    [1_000_000n, '1970-01-01T00:00:00.001Z'],
    [1_700_000_000_000_000_000n, '2023-11-14T22:13:20.000Z'],
    [1_700_000_000_123_000_000n, '2023-11-14T22:13:20.123Z'],
    [1_700_000_000_123_456_789n, '2023-11-14T22:13:20.123456789Z'],
    [1_700_000_000_123_456_000n, '2023-11-14T22:13:20.123456000Z'],
    [1_700_000_000_000_000_001n, '2023-11-14T22:13:20.000000001Z'],
    [1_767_225_599_999_999_999n, '2025-12-31T23:59:59.999999999Z'],
    [1_704_067_200_000_000_000n, '2024-01-01T00:00:00.000Z'],
    // Before 1970 (not from OTLP, whose timestamps are unsigned, but the function takes any bigint).
    [-1n, '1969-12-31T23:59:59.999999999Z'],
    [-1_000_000n, '1969-12-31T23:59:59.999Z'],
    [-1_500_000n, '1969-12-31T23:59:59.998500000Z'],
  ])('%s ns → %s', (ns, expected) => {
    expect(nanosToIso(ns)).toBe(expected);
  });

  test('the largest signed 64-bit value (where the index clamps garbage timestamps) still formats', () => {
    expect(nanosToIso(2n ** 63n - 1n)).toBe('2262-04-11T23:47:16.854775807Z');
  });

  test('round trip: what nanosToIso shows, --since/--until (parseTime) read back to the same nanoseconds', () => {
    for (const ns of [0n, 1n, 1_700_000_000_123_456_789n, 1_700_000_000_123_000_000n, 1_767_225_599_999_999_999n]) {
      expect(parseTime(nanosToIso(ns))).toBe(ns);
    }
  });
});

describe('requestView', () => {
  test('every field, times in ISO-8601 with their nanoseconds, bytes as the raw size', () => {
    const request: ArchivedRequest = {
      id: '01HQ3Z6B8Y4V2N1K0M9P7R5T3W',
      tenant: 'acme',
      signal: 'logs',
      receivedAtMs: 1_700_000_005_250,
      items: 12,
      services: ['checkout', 'payments'],
      startNs: 1_700_000_000_000_000_001n,
      endNs: 1_700_000_002_500_000_000n,
      rawBytes: 4096,
      objectKey: 'acme/logs/2023/11/14/22/01HQ3Z6B8Y4V2N1K0M9P7R5T3X.otlpc',
      offset: 24,
      length: 1234,
      codec: 'gzip',
      crc32: 0xdeadbeef,
    };
    expect(requestView(request)).toEqual({
      id: '01HQ3Z6B8Y4V2N1K0M9P7R5T3W',
      signal: 'logs',
      tenant: 'acme',
      receivedAt: '2023-11-14T22:13:25.250Z',
      items: 12,
      services: ['checkout', 'payments'],
      timeRange: { start: '2023-11-14T22:13:20.000000001Z', end: '2023-11-14T22:13:22.500Z' },
      bytes: 4096,
      object: 'acme/logs/2023/11/14/22/01HQ3Z6B8Y4V2N1K0M9P7R5T3X.otlpc',
      offset: 24,
      length: 1234,
      codec: 'gzip',
      tier: 'archive',
    });
    // JSON-able as is: `list --json` writes it with JSON.stringify (a bigint would throw).
    expect(() => JSON.stringify(requestView(request))).not.toThrow();
  });
});
