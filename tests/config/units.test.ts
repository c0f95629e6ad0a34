// Human units in configuration: every accepted form gives the exact value, everything else gives null.
import { formatListen, parseBytes, parseDuration, parseListen } from '../../src/config/units.js';

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

  test('a number is milliseconds', () => {
    expect(parseDuration(0)).toBe(0);
    expect(parseDuration(60_000)).toBe(60_000);
  });

  test.each(['', '   ', '60', 'm', '5x', '1m30', '1h 30m', '10S', '1ms5', '-5s', 'junk', 's5', '1.s'])('%j is not a duration', (text) => {
    expect(parseDuration(text)).toBeNull();
  });

  test.each([-5, Number.NaN, Number.POSITIVE_INFINITY])('the number %d is not a duration', (value) => {
    expect(parseDuration(value)).toBeNull();
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
