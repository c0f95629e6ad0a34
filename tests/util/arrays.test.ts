// minOf / maxOf / pushAll at lengths where spreading into a call (Math.min(...xs), push(...xs)) throws.
import { maxOf, minOf, pushAll } from '../../src/util/arrays.js';

const N = 200_000;

test('work over 200,000 items, where the spread forms throw', () => {
  const items = Array.from({ length: N }, (_, i) => ({ at: (i * 7919) % N }));
  expect(() => Math.min(...items.map((x) => x.at))).toThrow(RangeError); // what the helpers replace
  expect(minOf(items, (x) => x.at)).toBe(0);
  expect(maxOf(items, (x) => x.at)).toBe(N - 1);
  const target = [-1];
  pushAll(target, items.map((x) => x.at));
  expect(target).toHaveLength(N + 1);
  expect(target[1]).toBe(0);
  expect(target[N]).toBe(((N - 1) * 7919) % N);
});

test('empty arrays give what Math.min() and Math.max() give', () => {
  expect(minOf([], (x: number) => x)).toBe(Infinity);
  expect(maxOf([], (x: number) => x)).toBe(-Infinity);
});
