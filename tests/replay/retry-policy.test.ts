import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { partialSuccess } from '../../src/replay/grpc-target.js';
import { RetryState } from '../../src/replay/retry-policy.js';

const policy = { initialBackoffMs: 100, maxBackoffMs: 1000, maxRetryTimeMs: 10_000 };
const refused = (code: grpc.status, retryDelayMs: number | null) => ({ ok: false as const, code, details: 'no', retryDelayMs });

test('UNAVAILABLE is retried after the RetryInfo delay when the target sends one', () => {
  const state = new RetryState(policy, 0);
  expect(state.decide(refused(grpc.status.UNAVAILABLE, 1234), 0)).toEqual({ retry: true, delayMs: 1234 });
});

test('UNAVAILABLE without RetryInfo backs off exponentially (with jitter), up to the maximum', () => {
  const state = new RetryState(policy, 0);
  const delays = Array.from({ length: 8 }, () => {
    const decision = state.decide(refused(grpc.status.UNAVAILABLE, null), 0);
    if (!decision.retry) throw new Error('expected a retry');
    return decision.delayMs;
  });
  expect(delays[0]).toBeGreaterThanOrEqual(50);
  expect(delays[0]).toBeLessThanOrEqual(100);
  expect(delays[3]).toBeGreaterThanOrEqual(400);
  for (const delay of delays.slice(5)) {
    expect(delay).toBeGreaterThanOrEqual(500);
    expect(delay).toBeLessThanOrEqual(1000);
  }
});

test('RESOURCE_EXHAUSTED is retried only with RetryInfo; other codes are final', () => {
  const state = new RetryState(policy, 0);
  expect(state.decide(refused(grpc.status.RESOURCE_EXHAUSTED, 500), 0)).toEqual({ retry: true, delayMs: 500 });
  expect(state.decide(refused(grpc.status.RESOURCE_EXHAUSTED, null), 0)).toEqual({ retry: false, reason: 'RESOURCE_EXHAUSTED: no' });
  for (const code of [grpc.status.INVALID_ARGUMENT, grpc.status.UNAUTHENTICATED, grpc.status.PERMISSION_DENIED, grpc.status.UNIMPLEMENTED]) {
    expect(state.decide(refused(code, 100), 0).retry).toBe(false);
  }
});

test('a request still refused after maxRetryTimeMs fails for good, saying so', () => {
  const state = new RetryState(policy, 1000);
  expect(state.decide(refused(grpc.status.UNAVAILABLE, 2000), 8000)).toEqual({ retry: true, delayMs: 2000 });
  const decision = state.decide(refused(grpc.status.UNAVAILABLE, 2000), 10_000);
  expect(decision.retry).toBe(false);
  if (!decision.retry) expect(decision.reason).toMatch(/UNAVAILABLE: no \(still refused after retrying for 9 s\)/);
});

test('partial_success of an Export response: rejected count and message; empty or junk means full success', () => {
  const inner = protobuf.Writer.create().uint32(8).int64(7).uint32(18).string('bad spans').finish();
  const response = Buffer.from(protobuf.Writer.create().uint32(10).bytes(inner).finish());
  expect(partialSuccess(response)).toEqual({ rejectedItems: 7, rejectedMessage: 'bad spans' });
  expect(partialSuccess(Buffer.alloc(0))).toEqual({ rejectedItems: 0, rejectedMessage: '' });
  expect(partialSuccess(undefined)).toEqual({ rejectedItems: 0, rejectedMessage: '' });
  expect(partialSuccess(Buffer.from([0x0a, 0x05, 0x01]))).toEqual({ rejectedItems: 0, rejectedMessage: '' });
});
