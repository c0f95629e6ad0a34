// A few admitted bodies are read at once, in the order they were admitted; one that gives up leaves the line.
import { ReadSlots } from '../../../src/receiver/grpc/read-slots.js';

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const conn = {};

test('up to the number of slots at once; the rest in order as slots free', async () => {
  const slots = new ReadSlots(2);
  const order: string[] = [];
  const take = (name: string) => slots.acquire(conn).then((release) => {
    order.push(name);
    return release;
  });
  const [a, b] = await Promise.all([take('a'), take('b')]);
  const c = take('c');
  const d = take('d');
  await flush();
  expect(order).toEqual(['a', 'b']);
  b();
  b(); // twice is harmless: frees one slot only
  await flush();
  expect(order).toEqual(['a', 'b', 'c']);
  a();
  await flush();
  expect(order).toEqual(['a', 'b', 'c', 'd']);
  (await c)();
  (await d)();
  expect(order).toHaveLength(4);
  const e = await take('e');
  const f = await take('f');
  e();
  f();
});

test('aborting a waiter takes it out of line; an aborted signal is refused at once', async () => {
  const slots = new ReadSlots(1);
  const held = await slots.acquire(conn);
  const controller = new AbortController();
  const gaveUp = slots.acquire(conn, controller.signal);
  const next = slots.acquire(conn);
  controller.abort(new Error('client gone'));
  await expect(gaveUp).rejects.toThrow('client gone');
  await expect(slots.acquire(conn, controller.signal)).rejects.toThrow('client gone');
  held();
  const release = await next;
  release();
});

test('connections take turns for free slots', async () => {
  const slots = new ReadSlots(1);
  const flood = {};
  const honest = {};
  const order: string[] = [];
  const releases: (() => void)[] = [];
  const take = (key: object, name: string): void => {
    void slots.acquire(key).then((release) => {
      order.push(name);
      releases.push(release);
    });
  };
  const held = await slots.acquire(flood);
  take(flood, 'f1');
  take(flood, 'f2');
  take(flood, 'f3');
  take(honest, 'h1');
  held();
  for (let i = 0; i < 4; i++) {
    await flush();
    releases.shift()!();
  }
  // The flood queued three before the honest connection asked, yet it gets the second slot that frees.
  expect(order).toEqual(['f1', 'h1', 'f2', 'f3']);
});
