// The gRPC way into the budget: a request that does not fit waits (FIFO per connection, connections in turn) and
// is refused only when the waiting room is full, when its wait is over, or at once when the spool is full.
import { Admission } from '../../src/admission/admission.js';
import { OverloadedError } from '../../src/errors.js';

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function admission(options: Partial<ConstructorParameters<typeof Admission>[0]> = {}): Admission {
  return new Admission({ maxInFlightBytes: 1000, retryAfterMs: 700, spoolHasRoomFor: () => true, ...options });
}

/** Records the order in which waiters are granted. */
function track(promise: Promise<{ release(): void }>, name: string, order: string[]) {
  return promise.then((lease) => {
    order.push(name);
    return lease;
  });
}

test('room now: granted at once; the lease can grow past its guess and gives its bytes back', async () => {
  const a = admission();
  const lease = await a.waitForRoom(600, { queue: {}, maxWaitMs: 1000 });
  expect(a.inFlightBytes).toBe(600);
  lease.resize(1500); // the body turned out larger: charged as it is
  expect(a.inFlightBytes).toBe(1500);
  lease.release();
  lease.release();
  expect(a.inFlightBytes).toBe(0);
});

test('a request larger than the whole budget is admitted when nothing else is in flight', async () => {
  const a = admission();
  const lease = await a.waitForRoom(5000, { queue: {}, maxWaitMs: 0 });
  expect(a.inFlightBytes).toBe(5000);
  lease.release();
});

test('no room: waits, and is admitted in arrival order as room frees, each when it fits', async () => {
  const waited: number[] = [];
  const a = admission({ onWaited: (ms) => waited.push(ms) });
  const conn = {};
  const first = await a.waitForRoom(900, { queue: conn, maxWaitMs: 5000 });
  const order: string[] = [];
  const second = track(a.waitForRoom(600, { queue: conn, maxWaitMs: 5000 }), 'second', order);
  const third = track(a.waitForRoom(300, { queue: conn, maxWaitMs: 5000 }), 'third', order);
  await flush();
  expect(order).toEqual([]);
  expect(a.queued).toEqual({ requests: 2, bytes: 900, held: 0 });
  first.release();
  await flush();
  expect(order).toEqual(['second', 'third']);
  expect(a.inFlightBytes).toBe(900);
  expect(a.queued).toEqual({ requests: 0, bytes: 0, held: 0 });
  expect(waited).toHaveLength(2);
  (await second).release();
  (await third).release();
  expect(a.inFlightBytes).toBe(0);
});

test('a large request at the head is not overtaken by smaller ones behind it', async () => {
  const a = admission();
  const conn = {};
  const held = await a.waitForRoom(500, { queue: conn, maxWaitMs: 5000 });
  const order: string[] = [];
  const large = track(a.waitForRoom(800, { queue: conn, maxWaitMs: 5000 }), 'large', order);
  const small = track(a.waitForRoom(100, { queue: conn, maxWaitMs: 5000 }), 'small', order);
  await flush();
  expect(order).toEqual([]); // 500 + 100 would fit, but the large one came first
  held.release();
  await flush();
  expect(order).toEqual(['large', 'small']);
  (await large).release();
  (await small).release();
});

test('connections take turns: an honest connection is admitted before a flood queued ahead of it', async () => {
  const a = admission({ maxQueuedRequests: 100, maxQueuedBytes: 100_000 });
  const flood = {};
  const honest = {};
  const held = await a.waitForRoom(1000, { queue: flood, maxWaitMs: 5000 });
  const order: string[] = [];
  const flooded = Array.from({ length: 5 }, (_, i) => track(a.waitForRoom(1000, { queue: flood, maxWaitMs: 5000 }), `flood${i}`, order));
  const honestOne = track(a.waitForRoom(1000, { queue: honest, maxWaitMs: 5000 }), 'honest', order);
  held.release();
  await flush();
  expect(order).toEqual(['flood0']);
  (await flooded[0]!).release();
  await flush();
  expect(order).toEqual(['flood0', 'honest']);
  (await honestOne).release();
  for (const next of flooded.slice(1)) (await next).release();
  expect(order).toEqual(['flood0', 'honest', 'flood1', 'flood2', 'flood3', 'flood4']);
});

test('no room within maxWait: over_budget with the retry delay, and the waiter leaves the room', async () => {
  const a = admission();
  const held = await a.waitForRoom(1000, { queue: {}, maxWaitMs: 0 });
  const began = Date.now();
  const error = await a.waitForRoom(10, { queue: {}, maxWaitMs: 50 }).catch((e: unknown) => e);
  expect(Date.now() - began).toBeGreaterThanOrEqual(45);
  expect(error).toBeInstanceOf(OverloadedError);
  expect(error).toMatchObject({ reason: 'over_budget', retryAfterMs: 700, message: expect.stringMatching(/in flight .*no room within 50 ms/) });
  expect(a.queued).toEqual({ requests: 0, bytes: 0, held: 0 });
  // maxWait 0: refused at once rather than queued.
  await expect(a.waitForRoom(10, { queue: {}, maxWaitMs: 0 })).rejects.toMatchObject({ reason: 'over_budget' });
  held.release();
});

test('a full waiting room: refused when the wait is over (not at once); a connection with nothing waiting still gets a place', async () => {
  const a = admission({ maxQueuedRequests: 2, maxQueuedBytes: 10_000 });
  const busy = {};
  const held = await a.waitForRoom(1000, { queue: busy, maxWaitMs: 0 });
  const queued = [a.waitForRoom(100, { queue: busy, maxWaitMs: 5000 }), a.waitForRoom(100, { queue: busy, maxWaitMs: 5000 })];
  const began = Date.now();
  const noPlace = a.waitForRoom(100, { queue: busy, maxWaitMs: 80 });
  expect(a.queued).toEqual({ requests: 2, bytes: 200, held: 1 });
  await expect(noPlace).rejects.toMatchObject({ reason: 'over_budget', message: expect.stringMatching(/waiting room is full/) });
  expect(Date.now() - began).toBeGreaterThanOrEqual(75);
  expect(a.queued.held).toBe(0);
  const newcomer = a.waitForRoom(100, { queue: {}, maxWaitMs: 5000 });
  expect(a.queued.requests).toBe(3);
  // By bytes too: the room holds 1500 bytes of requests from a connection already waiting.
  const b = admission({ maxQueuedBytes: 1500 });
  const heldB = await b.waitForRoom(1000, { queue: busy, maxWaitMs: 0 });
  const inRoom = b.waitForRoom(1000, { queue: busy, maxWaitMs: 5000 });
  await expect(b.waitForRoom(600, { queue: busy, maxWaitMs: 20 })).rejects.toMatchObject({ reason: 'over_budget' });
  held.release();
  heldB.release();
  for (const lease of await Promise.all([...queued, newcomer, inRoom])) lease.release();
});

test('held refusals are bounded: beyond maxQueuedRequests of them, refused at once; a held one can give up', async () => {
  const a = admission({ maxQueuedRequests: 1, maxQueuedBytes: 10_000 });
  const conn = {};
  const lease = await a.waitForRoom(1000, { queue: conn, maxWaitMs: 0 });
  const queued = a.waitForRoom(100, { queue: conn, maxWaitMs: 5000 });
  const controller = new AbortController();
  const heldOne = a.waitForRoom(100, { queue: conn, maxWaitMs: 5000, signal: controller.signal });
  const began = Date.now();
  await expect(a.waitForRoom(100, { queue: conn, maxWaitMs: 5000 })).rejects.toMatchObject({ reason: 'over_budget' });
  expect(Date.now() - began).toBeLessThan(1000);
  controller.abort(new Error('client went away'));
  await expect(heldOne).rejects.toThrow('client went away');
  expect(a.queued.held).toBe(0);
  lease.release();
  (await queued).release();
});

test('the spool without room refuses at once with spool_full, queue or not', async () => {
  let room = true;
  const a = admission({ spoolHasRoomFor: () => room });
  const held = await a.waitForRoom(1000, { queue: {}, maxWaitMs: 0 });
  room = false;
  await expect(a.waitForRoom(10, { queue: {}, maxWaitMs: 5000 })).rejects.toMatchObject({ reason: 'spool_full' });
  expect(() => a.assertSpoolRoom()).toThrow(/spool is full/);
  expect(a.queued.requests).toBe(0);
  held.release();
});

test('a waiter that gives up (abort) leaves the room and rejects with the abort reason', async () => {
  const a = admission();
  const held = await a.waitForRoom(1000, { queue: {}, maxWaitMs: 0 });
  const controller = new AbortController();
  const waiting = a.waitForRoom(500, { queue: {}, maxWaitMs: 5000, signal: controller.signal });
  expect(a.queued).toEqual({ requests: 1, bytes: 500, held: 0 });
  controller.abort(new Error('client went away'));
  await expect(waiting).rejects.toThrow('client went away');
  expect(a.queued).toEqual({ requests: 0, bytes: 0, held: 0 });
  held.release();
  expect(a.inFlightBytes).toBe(0);
});

test('refuseWaiting (shutdown) rejects every waiter with the given error', async () => {
  const a = admission();
  const held = await a.waitForRoom(1000, { queue: {}, maxWaitMs: 0 });
  const waiters = [a.waitForRoom(10, { queue: {}, maxWaitMs: 5000 }), a.waitForRoom(10, { queue: {}, maxWaitMs: 5000 })];
  const heldOne = a.waitForRoom(10_000, { queue: {}, maxWaitMs: 5000 }); // no place in the room: held
  a.refuseWaiting(new Error('shutting down'));
  for (const waiter of [...waiters, heldOne]) await expect(waiter).rejects.toThrow('shutting down');
  expect(a.queued).toEqual({ requests: 0, bytes: 0, held: 0 });
  held.release();
});

test('OTLP/HTTP requests (admit) give room to gRPC waiters when they finish, and see the queued bytes', async () => {
  const a = admission();
  const http = a.admit(800);
  const waiting = a.waitForRoom(500, { queue: {}, maxWaitMs: 5000 });
  // An HTTP request at its headers counts the waiting room as spoken for.
  expect(() => a.beginReceive()).toThrow(OverloadedError);
  http.release();
  const lease = await waiting;
  expect(a.inFlightBytes).toBe(500);
  lease.release();
});
