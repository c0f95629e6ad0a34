// Deadlines from grpc-timeout reach 99999999 hours; setTimeout's longest delay is 2^31-1 ms (~24.8 days).
import { jest } from '@jest/globals';
import { onDeadline } from '../../../src/receiver/grpc/deadline-timer.js';
import { monotonicMs } from '../../../src/util/monotonic.js';

const DAY_MS = 86_400_000;

afterEach(() => jest.useRealTimers());

test('a 30-day deadline fires at 30 days, not at once (past the longest setTimeout delay)', () => {
  jest.useFakeTimers({ now: 1_000_000 });
  const fired: number[] = [];
  onDeadline(monotonicMs() + 30 * DAY_MS, () => fired.push(Date.now()));
  jest.advanceTimersByTime(29 * DAY_MS);
  expect(fired).toEqual([]);
  jest.advanceTimersByTime(DAY_MS);
  expect(fired).toEqual([1_000_000 + 30 * DAY_MS]);
});

test('a passed deadline fires on the next turn; a cancelled one never', () => {
  jest.useFakeTimers({ now: 1_000_000 });
  const fired: string[] = [];
  onDeadline(monotonicMs() - 5, () => fired.push('passed'));
  const cancel = onDeadline(monotonicMs() + 100, () => fired.push('cancelled'));
  expect(fired).toEqual([]);
  cancel();
  jest.advanceTimersByTime(1000);
  expect(fired).toEqual(['passed']);
});
