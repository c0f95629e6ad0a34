// What an API caller sees of a replay target's refusal: a class and a count, never the target's words.
import * as grpc from '@grpc/grpc-js';
import { describeFailureForCaller, targetErrorClass } from '../../src/api/target-errors.js';

test.each([
  [grpc.status.UNAVAILABLE, 'unavailable'],
  [grpc.status.DEADLINE_EXCEEDED, 'unavailable'],
  [grpc.status.RESOURCE_EXHAUSTED, 'refused'],
  [grpc.status.UNAUTHENTICATED, 'refused'],
  [grpc.status.PERMISSION_DENIED, 'refused'],
  [grpc.status.INVALID_ARGUMENT, 'invalid'],
  [grpc.status.UNIMPLEMENTED, 'invalid'],
  [grpc.status.INTERNAL, 'failed'],
  [grpc.status.UNKNOWN, 'failed'],
  [99, 'failed'],
] as const)('status %s is class %s', (code, expected) => {
  expect(targetErrorClass(code)).toBe(expected);
});

test('a target refusal is described by class and attempts; the reason text (which quotes the target) is left out', () => {
  const described = describeFailureForCaller({
    requestId: '01KF0000000000000000000000',
    signal: 'traces',
    reason: 'was refused by the target: UNAVAILABLE: connect ECONNREFUSED 10.1.2.3:4317',
    target: { code: grpc.status.UNAVAILABLE, attempts: 7 },
  });
  expect(described).toBe('traces request 01KF0000000000000000000000 was not delivered: the target answered "unavailable" (7 attempts)');
  expect(described).not.toMatch(/ECONNREFUSED|10\.1\.2\.3/);
  expect(describeFailureForCaller({ requestId: 'X', signal: 'logs', reason: 'r', target: { code: grpc.status.PERMISSION_DENIED, attempts: 1 } })).toMatch(/"refused" \(1 attempt\)$/);
  // Failures of our own (the archive) are not the target's words: they stay as they are.
  expect(describeFailureForCaller({ requestId: 'X', signal: 'logs', reason: 'cannot be read from the archive: checksum mismatch' })).toBe(
    'logs request X cannot be read from the archive: checksum mismatch',
  );
});
