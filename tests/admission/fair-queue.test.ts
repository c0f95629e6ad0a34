// FIFO per key, keys served in turn: what per-connection fairness in admission rests on.
import { FairQueue } from '../../src/admission/fair-queue.js';

const drain = <T>(queue: FairQueue<T>): T[] => {
  const out: T[] = [];
  for (let item = queue.shift(); item !== undefined; item = queue.shift()) out.push(item);
  return out;
};

test('one key: first in, first out', () => {
  const queue = new FairQueue<string>();
  const a = {};
  for (const item of ['a1', 'a2', 'a3']) queue.push(a, item);
  expect(queue.size).toBe(3);
  expect(queue.peek()).toBe('a1');
  expect(drain(queue)).toEqual(['a1', 'a2', 'a3']);
  expect(queue.size).toBe(0);
  expect(queue.peek()).toBeUndefined();
});

test('keys take turns: a flood on one key delays another by one item per round, not by its backlog', () => {
  const queue = new FairQueue<string>();
  const flood = {};
  const honest = {};
  for (let i = 1; i <= 5; i++) queue.push(flood, `f${i}`);
  queue.shift(); // f1 served; the flood's turn passes
  queue.push(honest, 'h1');
  queue.push(honest, 'h2');
  expect(drain(queue)).toEqual(['f2', 'h1', 'f3', 'h2', 'f4', 'f5']);
});

test('a key that joins waits a full round, as if it had been there', () => {
  const queue = new FairQueue<string>();
  const [a, b, c] = [{}, {}, {}];
  queue.push(a, 'a1');
  queue.push(b, 'b1');
  queue.push(a, 'a2');
  queue.push(b, 'b2');
  expect(queue.shift()).toBe('a1');
  queue.push(c, 'c1');
  expect(drain(queue)).toEqual(['b1', 'a2', 'c1', 'b2']);
});

test('remove takes an item out wherever it is and keeps the turn order of the rest', () => {
  const queue = new FairQueue<string>();
  const [a, b] = [{}, {}];
  queue.push(a, 'a1');
  queue.push(b, 'b1');
  queue.push(a, 'a2');
  expect(queue.remove(b, 'b1')).toBe(true);
  expect(queue.remove(b, 'b1')).toBe(false);
  expect(queue.has(b)).toBe(false);
  expect(queue.has(a)).toBe(true);
  expect(queue.size).toBe(2);
  expect(drain(queue)).toEqual(['a1', 'a2']);
});

test('clear returns everything and leaves an empty queue', () => {
  const queue = new FairQueue<number>();
  const [a, b] = [{}, {}];
  queue.push(a, 1);
  queue.push(b, 2);
  queue.push(a, 3);
  expect(queue.clear().sort()).toEqual([1, 2, 3]);
  expect(queue.size).toBe(0);
  expect(queue.shift()).toBeUndefined();
});
