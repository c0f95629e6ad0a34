// How captured requests are shown: ISO-8601 with nanoseconds where the data has them, and time arguments parsed
// back to exact nanoseconds. Expected strings are written by hand, not computed with the code under test.
import type { ArchivedRequest } from '../../src/model.js';
import { nanosToIso, parseTimeArg, requestView } from '../../src/query/request-view.js';

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
});

describe('parseTimeArg', () => {
  const now = Date.UTC(2024, 0, 2, 3, 4, 5, 678); // 2024-01-02T03:04:05.678Z
  const nowNs = BigInt(now) * 1_000_000n;

  test.each([
    ['2024-01-02T03:04:05Z', 1_704_164_645_000_000_000n],
    ['2024-01-02T03:04:05.1Z', 1_704_164_645_100_000_000n],
    ['2024-01-02T03:04:05.12Z', 1_704_164_645_120_000_000n],
    ['2024-01-02T03:04:05.123Z', 1_704_164_645_123_000_000n],
    ['2024-01-02T03:04:05.1234Z', 1_704_164_645_123_400_000n],
    ['2024-01-02T03:04:05.123456Z', 1_704_164_645_123_456_000n],
    ['2024-01-02T03:04:05.12345678Z', 1_704_164_645_123_456_780n],
    ['2024-01-02T03:04:05.123456789Z', 1_704_164_645_123_456_789n],
    ['2024-01-02T03:04:05.000000001Z', 1_704_164_645_000_000_001n],
    ['2024-01-02T04:04:05.5+01:00', 1_704_164_645_500_000_000n],
    ['2024-01-02T04:04:05.5+0100', 1_704_164_645_500_000_000n],
    ['2024-01-01T21:34:05.987654321-05:30', 1_704_164_645_987_654_321n],
    ['2024-01-02T04:04:05+01:00', 1_704_164_645_000_000_000n],
    ['2024-01-02', 1_704_153_600_000_000_000n],
    ['1970-01-01T00:00:00Z', 0n],
    ['  2024-01-02T03:04:05.123456789Z  ', 1_704_164_645_123_456_789n],
  ])('%j → %s ns', (text, expected) => {
    expect(parseTimeArg(text, now)).toBe(expected);
  });

  test.each([
    ['30s', 30_000n],
    ['15m', 900_000n],
    ['2h', 7_200_000n],
    ['7d', 604_800_000n],
    ['0m', 0n],
    [' 15m ', 900_000n],
  ])('%j is that long before now', (text, agoMs) => {
    expect(parseTimeArg(text, now)).toBe(nowNs - agoMs * 1_000_000n);
  });

  test('relative times default to the real clock', () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const parsed = parseTimeArg('1h')!;
    const after = BigInt(Date.now()) * 1_000_000n;
    expect(parsed).toBeGreaterThanOrEqual(before - 3_600_000_000_000n);
    expect(parsed).toBeLessThanOrEqual(after - 3_600_000_000_000n);
  });

  test.each([
    '',
    '   ',
    'junk',
    'yesterday',
    '15',
    '-5m',
    '1.5h',
    '15 m',
    '15M',
    '1w', // durations in config know weeks; time arguments do not
    '2024-13-45T00:00:00Z',
    '2024-01-02T25:00:00Z',
    'junkT00:00:00.5Z',
    `${'9'.repeat(400)}d`, // overflows to Infinity: junk, not a crash
  ])('%j is not a time', (text) => {
    expect(parseTimeArg(text, now)).toBeNull();
  });

  test('round trip: nanosToIso output parses back to the same nanoseconds', () => {
    for (const ns of [0n, 1n, 1_700_000_000_123_456_789n, 1_700_000_000_123_000_000n, 1_767_225_599_999_999_999n]) {
      expect(parseTimeArg(nanosToIso(ns), now)).toBe(ns);
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
    });
    // JSON-able as is: `list --json` writes it with JSON.stringify (a bigint would throw).
    expect(() => JSON.stringify(requestView(request))).not.toThrow();
  });
});
