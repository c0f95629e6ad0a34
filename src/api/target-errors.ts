// What an API caller learns when a replay target refuses: a class and a count, never the target's own words. The
// text of a connection error or of a foreign server's status says what is listening where (a port scanner's
// oracle); the class is all a caller needs to act on.
import * as grpc from '@grpc/grpc-js';
import type { ReplayFailure } from '../replay/replay-progress.js';

export type TargetErrorClass = 'unavailable' | 'refused' | 'invalid' | 'failed';

const CLASS_BY_CODE: ReadonlyMap<number, TargetErrorClass> = new Map([
  // Could not be reached, or did not answer in time: connection refused, DNS, TLS, deadline, overload.
  [grpc.status.UNAVAILABLE, 'unavailable'],
  [grpc.status.DEADLINE_EXCEEDED, 'unavailable'],
  [grpc.status.CANCELLED, 'unavailable'],
  [grpc.status.ABORTED, 'unavailable'],
  // Reached, and said no: to these credentials, or to this much (a quota, a size; or an answer too large to take).
  [grpc.status.UNAUTHENTICATED, 'refused'],
  [grpc.status.PERMISSION_DENIED, 'refused'],
  [grpc.status.RESOURCE_EXHAUSTED, 'refused'],
  // Reached, and said the request (or the service) is wrong for it.
  [grpc.status.INVALID_ARGUMENT, 'invalid'],
  [grpc.status.UNIMPLEMENTED, 'invalid'],
  [grpc.status.FAILED_PRECONDITION, 'invalid'],
  [grpc.status.OUT_OF_RANGE, 'invalid'],
  [grpc.status.NOT_FOUND, 'invalid'],
  [grpc.status.ALREADY_EXISTS, 'invalid'],
]);

export function targetErrorClass(code: number): TargetErrorClass {
  return CLASS_BY_CODE.get(code) ?? 'failed';
}

/** A replay failure as an API caller may see it. */
export function describeFailureForCaller(failure: ReplayFailure): string {
  const what = `${failure.signal} request ${failure.requestId}`;
  if (failure.target === undefined) return `${what} ${failure.reason}`;
  const { code, attempts } = failure.target;
  return `${what} was not delivered: the target answered "${targetErrorClass(code)}" (${attempts} attempt${attempts === 1 ? '' : 's'})`;
}
