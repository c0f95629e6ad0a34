import { InvalidArgumentError } from '../../src/errors.js';
import { parseSpeed, parseTimeShift, timeShiftOffset } from '../../src/replay/replay-options.js';

const H = 3_600_000_000_000n;

test('time shifts: none, now, signed durations', () => {
  expect(parseTimeShift('none')).toEqual({ kind: 'none' });
  expect(parseTimeShift('now')).toEqual({ kind: 'now' });
  expect(parseTimeShift('+2h')).toEqual({ kind: 'offset', ns: 2n * H });
  expect(parseTimeShift('2h')).toEqual({ kind: 'offset', ns: 2n * H });
  expect(parseTimeShift('-30m')).toEqual({ kind: 'offset', ns: -H / 2n });
  expect(parseTimeShift('1d')).toEqual({ kind: 'offset', ns: 24n * H });
  expect(parseTimeShift('1h30m')).toEqual({ kind: 'offset', ns: H + H / 2n });
  expect(parseTimeShift('-250ms')).toEqual({ kind: 'offset', ns: -250_000_000n });
  expect(parseTimeShift('+0s')).toEqual({ kind: 'none' });
  // 400 days in ns is past 2^53: still exact.
  expect(parseTimeShift('400d')).toEqual({ kind: 'offset', ns: 400n * 24n * H });
  for (const bad of ['', 'later', '2 hours', '+-2h', 'h', '1y', '++1h']) {
    expect(() => parseTimeShift(bad)).toThrow(InvalidArgumentError);
  }
});

test('speeds: max or a positive factor', () => {
  expect(parseSpeed('max')).toBe('max');
  expect(parseSpeed('10')).toBe(10);
  expect(parseSpeed('0.5')).toBe(0.5);
  for (const bad of ['0', '-1', 'fast', '1e3', '', 'Infinity']) expect(() => parseSpeed(bad)).toThrow(InvalidArgumentError);
});

test('the offset a shift applies', () => {
  expect(timeShiftOffset({ kind: 'none' }, 5n, 100n)).toBe(0n);
  expect(timeShiftOffset({ kind: 'offset', ns: -7n }, 5n, 100n)).toBe(-7n);
  expect(timeShiftOffset({ kind: 'now' }, 5n, 100n)).toBe(95n);
  // Nothing selected: nothing to move.
  expect(timeShiftOffset({ kind: 'now' }, null, 100n)).toBe(0n);
});
