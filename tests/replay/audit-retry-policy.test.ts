// The OTLP/gRPC retry table (specification, "OTLP/gRPC Failures"), code by code: which statuses a replay retries.
import * as grpc from '@grpc/grpc-js';
import { RetryState } from '../../src/replay/retry-policy.js';

const policy = { initialBackoffMs: 100, maxBackoffMs: 1000, maxRetryTimeMs: 10_000 };
const refused = (code: grpc.status, retryDelayMs: number | null) => ({ ok: false as const, code, details: 'no', retryDelayMs });

const RETRYABLE = ['CANCELLED', 'DEADLINE_EXCEEDED', 'ABORTED', 'OUT_OF_RANGE', 'UNAVAILABLE', 'DATA_LOSS'];
const FINAL = [
  'UNKNOWN', 'INVALID_ARGUMENT', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'FAILED_PRECONDITION',
  'UNIMPLEMENTED', 'INTERNAL', 'UNAUTHENTICATED',
];

test.each(RETRYABLE)('%s is retryable: with backoff, or after the RetryInfo delay when the target sends one', (name) => {
  const code = grpc.status[name as keyof typeof grpc.status] as grpc.status;
  const state = new RetryState(policy, 0);
  const first = state.decide(refused(code, null), 0);
  expect(first.retry).toBe(true);
  if (first.retry) {
    expect(first.delayMs).toBeGreaterThanOrEqual(50);
    expect(first.delayMs).toBeLessThanOrEqual(100);
  }
  expect(state.decide(refused(code, 777), 0)).toEqual({ retry: true, delayMs: 777 });
});

test.each(FINAL)('%s is final, RetryInfo or not', (name) => {
  const code = grpc.status[name as keyof typeof grpc.status] as grpc.status;
  const state = new RetryState(policy, 0);
  expect(state.decide(refused(code, null), 0)).toEqual({ retry: false, reason: `${name}: no` });
  expect(state.decide(refused(code, 100), 0).retry).toBe(false);
});

test('RESOURCE_EXHAUSTED: retryable only with RetryInfo', () => {
  const state = new RetryState(policy, 0);
  expect(state.decide(refused(grpc.status.RESOURCE_EXHAUSTED, null), 0).retry).toBe(false);
  expect(state.decide(refused(grpc.status.RESOURCE_EXHAUSTED, 300), 0)).toEqual({ retry: true, delayMs: 300 });
});
