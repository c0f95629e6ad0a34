// Carries the access decision made at a call's headers (by an interceptor) to the call's handler. grpc-js hands the
// handler the very Metadata object the interceptor passed on, so the decision is keyed on it; a handler that finds
// none refuses the call rather than deciding again.
import type * as grpc from '@grpc/grpc-js';
import type { Grant } from '../admission/caller.js';
import { OtlpCaptureError } from '../errors.js';

const grants = new WeakMap<grpc.Metadata, Grant>();

export function attachGrant(metadata: grpc.Metadata, grant: Grant): void {
  grants.set(metadata, grant);
}

/** The decision for this call. @throws when no interceptor decided (a wiring mistake: fail closed). */
export function grantOf<G extends Grant>(metadata: grpc.Metadata, action: G['action'] | readonly G['action'][]): G {
  const grant = grants.get(metadata);
  const wanted: readonly string[] = Array.isArray(action) ? action : [action];
  if (grant === undefined || !wanted.includes(grant.action)) {
    throw new OtlpCaptureError('internal error: no access decision was made for this call');
  }
  return grant as G;
}
