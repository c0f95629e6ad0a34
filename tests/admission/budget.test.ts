// The in-flight byte budget: what fits is taken, what does not is refused, and releases give back exactly once.
import fc from 'fast-check';
import { ByteBudget } from '../../src/admission/budget.js';

test('requests are admitted while they fit and refused once the next would pass the limit', () => {
  const budget = new ByteBudget(1000);
  const a = budget.tryAcquire(400);
  const b = budget.tryAcquire(600);
  expect(a).not.toBeNull();
  expect(b).not.toBeNull();
  expect(budget.inUse).toBe(1000); // exactly at the limit is still within it
  expect(budget.tryAcquire(1)).toBeNull();
  expect(budget.inUse).toBe(1000); // a refusal takes nothing
  a!.release();
  expect(budget.inUse).toBe(600);
  expect(budget.tryAcquire(401)).toBeNull();
  const c = budget.tryAcquire(400);
  expect(c).not.toBeNull();
  expect(budget.inUse).toBe(1000);
});

test('a single request larger than the whole budget is admitted when nothing else is in flight, and only then', () => {
  const budget = new ByteBudget(1000);
  const small = budget.tryAcquire(1)!;
  expect(budget.tryAcquire(5000)).toBeNull(); // something is in flight: refused like any other
  small.release();
  const huge = budget.tryAcquire(5000);
  expect(huge).not.toBeNull();
  expect(budget.inUse).toBe(5000);
  expect(budget.tryAcquire(1)).toBeNull(); // while it is in flight, nothing else fits
  expect(budget.tryAcquire(5000)).toBeNull();
  huge!.release();
  expect(budget.inUse).toBe(0);
  expect(budget.tryAcquire(1000)).not.toBeNull();
});

test('releasing twice is harmless: the second call gives back nothing', () => {
  const budget = new ByteBudget(100);
  const a = budget.tryAcquire(60)!;
  const b = budget.tryAcquire(40)!;
  a.release();
  a.release();
  expect(budget.inUse).toBe(40);
  expect(budget.tryAcquire(61)).toBeNull(); // a double release did not free b's bytes
  b.release();
  b.release();
  expect(budget.inUse).toBe(0);
});

test('a zero-byte request (an empty Export) fits a budget that is exactly full', () => {
  const budget = new ByteBudget(10);
  const full = budget.tryAcquire(10)!;
  const empty = budget.tryAcquire(0);
  expect(empty).not.toBeNull();
  expect(budget.inUse).toBe(10);
  empty!.release();
  full.release();
  expect(budget.inUse).toBe(0);
});

test('property: in use is the sum of unreleased leases and never passes the limit except for one lone oversized lease', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('acquire' as const), bytes: fc.integer({ min: 0, max: 300 }) }),
    fc.record({ kind: fc.constant('release' as const), index: fc.nat() }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 200 }), fc.array(op, { maxLength: 60 }), (limit, ops) => {
      const budget = new ByteBudget(limit);
      const leases: { bytes: number; release(): void; live: boolean }[] = [];
      for (const step of ops) {
        if (step.kind === 'acquire') {
          const live = leases.filter((l) => l.live);
          const used = live.reduce((sum, l) => sum + l.bytes, 0);
          const lease = budget.tryAcquire(step.bytes);
          const shouldFit = used === 0 || used + step.bytes <= limit;
          expect(lease !== null).toBe(shouldFit);
          if (lease) leases.push({ bytes: step.bytes, release: () => lease.release(), live: true });
        } else if (leases.length > 0) {
          const lease = leases[step.index % leases.length]!;
          lease.release();
          lease.live = false;
        }
        const live = leases.filter((l) => l.live);
        const used = live.reduce((sum, l) => sum + l.bytes, 0);
        expect(budget.inUse).toBe(used);
        if (used > limit) expect(live.filter((l) => l.bytes > 0)).toHaveLength(1);
      }
    }),
  );
});
