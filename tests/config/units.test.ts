// Human units in configuration and flags: every accepted form gives the exact value, everything else gives null; a
// duration or time written as a bare number is refused with a hint.
import { durationHint, formatListen, parseBytes, parseDuration, parseListen, parseTime, timeHint } from '../../src/config/units.js';

describe('parseBytes', () => {
  test.each([
    ['0', 0],
    ['1048576', 1_048_576],
    ['512b', 512],
    ['512B', 512],
    ['64MiB', 64 * 2 ** 20],
    ['64mib', 64 * 2 ** 20],
    ['1.5GiB', 1_610_612_736],
    ['1.5KiB', 1536],
    ['2TiB', 2 * 2 ** 40],
    ['1kb', 1000],
    ['1.5GB', 1_500_000_000],
    ['3TB', 3e12],
    [' 12 kb ', 12_000],
    ['10 MiB', 10 * 2 ** 20],
  ])('%j → %d', (text, expected) => {
    expect(parseBytes(text)).toBe(expected);
  });

  test.each([0, 1, 1_048_576, Number.MAX_SAFE_INTEGER])('the number %d is taken as bytes', (value) => {
    expect(parseBytes(value)).toBe(value);
  });

  test.each(['', '   ', 'junk', 'MiB', '-1', '-1MiB', '1e3', '5XB', '1 2 MiB', '1..5MiB', '0x10', '64 MiBs', '9007199254740993'])(
    '%j is not a size',
    (text) => {
      expect(parseBytes(text)).toBeNull();
    },
  );

  test.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60])('the number %d is not a size', (value) => {
    expect(parseBytes(value)).toBeNull();
  });

  test('a size past 2^53 bytes is refused rather than rounded', () => {
    expect(parseBytes('8191TiB')).toBe(8191 * 2 ** 40);
    expect(parseBytes('8192TiB')).toBeNull(); // 2^53: no longer a safe integer
  });
});

describe('parseDuration', () => {
  test.each([
    ['250ms', 250],
    ['60s', 60_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['2d3h', 2 * 86_400_000 + 3 * 3_600_000],
    ['1w', 604_800_000],
    ['1.5s', 1500],
    ['0s', 0],
    ['1m30s', 90_000],
    ['1s500ms', 1500],
    ['  90s  ', 90_000],
  ])('%j → %d ms', (text, expected) => {
    expect(parseDuration(text)).toBe(expected);
  });

  test('a bare number is refused (it used to mean milliseconds); 0 is 0 in every unit', () => {
    expect(parseDuration(0)).toBe(0);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration(60)).toBeNull();
    expect(parseDuration(60_000)).toBeNull();
    expect(parseDuration('60')).toBeNull();
  });

  test.each(['', '   ', '60', 'm', '5x', '1m30', '1h 30m', '10S', '1ms5', '-5s', 'junk', 's5', '1.s', `${'9'.repeat(400)}d`])(
    '%j is not a duration',
    (text) => {
      expect(parseDuration(text)).toBeNull();
    },
  );

  test.each([-5, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('the number %d is not a duration', (value) => {
    expect(parseDuration(value)).toBeNull();
  });

  test('a bare number gets a hint naming the units; other mistakes do not', () => {
    expect(durationHint(60)).toBe(' (a duration needs a unit: write 60s for seconds or 60ms for milliseconds; units: ms, s, m, h, d, w)');
    expect(durationHint(' 90 ')).toContain('write 90s for seconds');
    expect(durationHint('soon')).toBe('');
    expect(durationHint('5x')).toBe('');
  });
});

describe('parseTime', () => {
  const now = Date.UTC(2024, 0, 2, 3, 4, 5, 678); // 2024-01-02T03:04:05.678Z
  const nowNs = BigInt(now) * 1_000_000n;

  test.each([
    ['2024-01-02T03:04:05Z', 1_704_164_645_000_000_000n],
    ['2024-01-02T03:04:05.1Z', 1_704_164_645_100_000_000n],
    ['2024-01-02T03:04:05.123Z', 1_704_164_645_123_000_000n],
    ['2024-01-02T03:04:05.1234Z', 1_704_164_645_123_400_000n],
    ['2024-01-02T03:04:05.12345678Z', 1_704_164_645_123_456_780n],
    ['2024-01-02T03:04:05.123456789Z', 1_704_164_645_123_456_789n],
    ['2024-01-02T03:04:05.000000001Z', 1_704_164_645_000_000_001n],
    ['2024-01-02T04:04:05.5+01:00', 1_704_164_645_500_000_000n],
    ['2024-01-02T04:04:05.5+0100', 1_704_164_645_500_000_000n],
    ['2024-01-01T21:34:05.987654321-05:30', 1_704_164_645_987_654_321n],
    ['2024-01-02T04:04:05+01:00', 1_704_164_645_000_000_000n],
    ['2024-01-02T03:04:05', 1_704_164_645_000_000_000n], // no offset: UTC, whatever the machine's zone
    ['2024-01-02 03:04', 1_704_164_640_000_000_000n],
    ['2024-01-02', 1_704_153_600_000_000_000n],
    ['1970-01-01T00:00:00Z', 0n],
    ['  2024-01-02T03:04:05.123456789Z  ', 1_704_164_645_123_456_789n],
  ])('%j → %s ns', (text, expected) => {
    expect(parseTime(text, now)).toBe(expected);
  });

  test.each([
    ['30s', 30_000],
    ['15m', 900_000],
    ['2h', 7_200_000],
    ['1h30m', 5_400_000], // refused before durations and times shared one grammar
    ['1.5h', 5_400_000],
    ['7d', 604_800_000],
    ['1w', 604_800_000],
    ['250ms', 250],
    ['0m', 0],
    [' 15m ', 900_000],
  ])('%j is that long before now', (text, agoMs) => {
    expect(parseTime(text, now)).toBe(nowNs - BigInt(agoMs) * 1_000_000n);
  });

  test('relative times default to the real clock', () => {
    const before = BigInt(Date.now()) * 1_000_000n;
    const parsed = parseTime('1h')!;
    const after = BigInt(Date.now()) * 1_000_000n;
    expect(parsed).toBeGreaterThanOrEqual(before - 3_600_000_000_000n);
    expect(parsed).toBeLessThanOrEqual(after - 3_600_000_000_000n);
  });

  test.each([
    '',
    '   ',
    'junk',
    'yesterday',
    '1', // Date.parse reads this as 2001-01-01
    '15',
    '2024',
    '-5m',
    '15 m',
    '15M',
    'Jan 2 2024',
    '2024-13-45T00:00:00Z',
    '2024-02-30',
    '2024-01-02T25:00:00Z',
    '2024-01-02T03:60Z',
    'junkT00:00:00.5Z',
    `${'9'.repeat(400)}d`,
  ])('%j is not a time', (text) => {
    expect(parseTime(text, now)).toBeNull();
  });

  test('a bare number gets a hint', () => {
    expect(timeHint('1')).toBe(' (a bare number is not a time: write 1h or 1d for that long ago, or a date such as 2024-05-01T12:00:00Z)');
    expect(timeHint('yesterday')).toBe('');
  });
});

describe('parseListen / formatListen', () => {
  test.each([
    ['0.0.0.0:4317', '0.0.0.0', 4317],
    ['127.0.0.1:0', '127.0.0.1', 0],
    ['localhost:65535', 'localhost', 65535],
    ['collector.example.com:4318', 'collector.example.com', 4318],
    ['[::1]:4317', '::1', 4317],
    ['[::]:80', '::', 80],
    ['[::ffff:10.0.0.1]:8888', '::ffff:10.0.0.1', 8888],
    ['[2001:db8::1]:1', '2001:db8::1', 1],
    [' 0.0.0.0:4317 ', '0.0.0.0', 4317],
  ])('%j → %s port %d', (text, host, port) => {
    expect(parseListen(text)).toEqual({ host, port });
  });

  test.each([
    '',
    'localhost',
    ':4317',
    'localhost:',
    'localhost:65536',
    'localhost:99999',
    'localhost:123456',
    'localhost:-1',
    'localhost:http',
    '::1:4317', // IPv6 needs brackets, or host and port are ambiguous
    '[::1]',
    '[]:80',
    '[zz::1]:80',
    'a b:80',
    'host:4317:4318',
  ])('%j is not a listen address', (text) => {
    expect(parseListen(text)).toBeNull();
  });

  test('formatListen brackets IPv6 hosts only, and round-trips through parseListen', () => {
    expect(formatListen('::1', 4317)).toBe('[::1]:4317');
    expect(formatListen('0.0.0.0', 4317)).toBe('0.0.0.0:4317');
    expect(formatListen('localhost', 0)).toBe('localhost:0');
    for (const [host, port] of [['::', 80], ['10.1.2.3', 65535], ['fe80::1', 1]] as const) {
      expect(parseListen(formatListen(host, port))).toEqual({ host, port });
    }
  });
});
