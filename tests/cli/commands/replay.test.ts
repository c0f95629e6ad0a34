import { formatOffset, parseReplayOptions } from '../../../src/cli/commands/replay.js';
import { UsageError } from '../../../src/cli/exit.js';

const base = { to: '127.0.0.1:4317', header: [] as string[], timeShift: 'none', speed: 'max', concurrency: '4', compression: 'none' };

test('flags become replay settings', () => {
  const settings = parseReplayOptions({
    ...base,
    to: 'collector:4317',
    ca: '/ca.pem',
    header: ['Authorization=Bearer a=b', 'x-scope-orgid=team-a'],
    signal: 'logs',
    service: 'checkout',
    since: '2026-01-01T00:00:00Z',
    tenant: 'acme',
    timeShift: '-30m',
    speed: '10',
    concurrency: '16',
    compression: 'GZIP',
    dryRun: true,
    withDuplicates: true,
  });
  expect(settings).toEqual({
    target: {
      address: 'collector:4317',
      tls: true,
      caFile: '/ca.pem',
      headers: { authorization: 'Bearer a=b', 'x-scope-orgid': 'team-a' },
      compression: 'gzip',
    },
    filter: { signal: 'logs', service: 'checkout', tenant: 'acme', sinceNs: 1_767_225_600_000_000_000n },
    timeShift: { kind: 'offset', ns: -1_800_000_000_000n },
    speed: 10,
    concurrency: 16,
    dryRun: true,
    withDuplicates: true,
  });
  expect(parseReplayOptions(base).withDuplicates).toBe(false);
  expect(parseReplayOptions(base).target).toEqual({ address: '127.0.0.1:4317', tls: false, headers: {}, compression: 'none' });
  expect(parseReplayOptions({ ...base, to: '[::1]:4317', tls: true }).target.tls).toBe(true);
  // Binary metadata is given as base64, padded or not.
  expect(parseReplayOptions({ ...base, header: ['x-token-bin=AAEC/w', 'y-bin=AAEC/w=='] }).target.headers).toEqual({ 'x-token-bin': 'AAEC/w', 'y-bin': 'AAEC/w==' });
});

test.each([
  [{ to: 'collector' }, /--to must be HOST:PORT/],
  [{ to: 'http://collector:4317' }, /--to must be HOST:PORT/],
  [{ insecure: true, tls: true }, /--insecure cannot be combined/],
  [{ insecure: true, ca: 'x' }, /--insecure cannot be combined/],
  [{ cert: 'c.pem' }, /--cert and --key go together/],
  [{ header: ['novalue'] }, /--header must be KEY=VALUE/],
  [{ header: ['bad key=1'] }, /--header must be KEY=VALUE/],
  [{ header: ['trace-bin=1'] }, /--header: header trace-bin: the value of a -bin header is base64/],
  [{ header: ['trace-bin=AAEC!w=='] }, /base64/],
  [{ signal: 'profiles' }, /--signal must be traces, metrics or logs/],
  [{ since: 'yesterday-ish' }, /--since must be a time/],
  [{ tenant: '../etc' }, /--tenant/],
  [{ timeShift: 'later' }, /--time-shift: time shift must be none, now or a duration/],
  [{ speed: '0' }, /--speed: speed must be max or a factor/],
  [{ concurrency: '0' }, /--concurrency must be an integer from 1 to 256/],
  [{ concurrency: '1.5' }, /--concurrency/],
  [{ compression: 'zstd' }, /--compression: compression must be none or gzip/],
])('%p is a usage error', (flags, message) => {
  expect(() => parseReplayOptions({ ...base, ...flags })).toThrow(UsageError);
  expect(() => parseReplayOptions({ ...base, ...flags })).toThrow(message);
});

test('offsets are shown signed and compact', () => {
  expect(formatOffset(7_200_000_000_000n)).toBe('+2h');
  expect(formatOffset(-90_000_000_000n)).toBe('-1m30s');
  expect(formatOffset(15_056_000_000n)).toBe('+15.056s');
  expect(formatOffset(86_400_000_000_001n)).toBe('+1d0.000000001s');
  expect(formatOffset(0n)).toBe('+0s');
});
