// One place that turns typed errors into gRPC statuses, so every service answers the same way.
import * as grpc from '@grpc/grpc-js';
import {
  BackendUnavailableError,
  CorruptDataError,
  InvalidArgumentError,
  MalformedPayloadError,
  NotFoundError,
  OverloadedError,
  PayloadTooLargeError,
  PermissionDeniedError,
  ResultTooLargeError,
  ShuttingDownError,
  SpoolFullError,
  UnauthenticatedError,
  internalErrorText,
  newErrorRef,
} from '../errors.js';
import type { RejectReason } from '../telemetry/metrics.js';
import { retryableError } from './rpc-status.js';

export interface MappedError {
  status: Partial<grpc.StatusObject>;
  reason: RejectReason;
  /** Unexpected errors are logged with their stack; expected refusals are not. */
  unexpected: boolean;
  /** Set when the caller was told only this reference: log it with the error. */
  ref?: string;
}

/**
 * `hideInternals`: the caller is told a log reference instead of the text of any unexpected error (ingest answers
 * callers without a token; a backend's message can carry paths and endpoints). Otherwise only errors of no known
 * kind are hidden.
 */
export function toGrpcError(error: unknown, retryAfterMs: number, options: { hideInternals?: boolean } = {}): MappedError {
  const mapped = classify(error, retryAfterMs);
  if (!options.hideInternals || !mapped.unexpected || mapped.ref !== undefined) return mapped;
  const ref = newErrorRef();
  const code = mapped.status.code ?? grpc.status.UNAVAILABLE;
  const status = code === grpc.status.UNAVAILABLE ? retryableError(code, internalErrorText(ref), retryAfterMs) : { code, details: internalErrorText(ref) };
  return { ...mapped, status, ref };
}

function classify(error: unknown, retryAfterMs: number): MappedError {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof MalformedPayloadError) {
    return { status: { code: grpc.status.INVALID_ARGUMENT, details: message }, reason: 'malformed', unexpected: false };
  }
  if (error instanceof InvalidArgumentError) {
    return { status: { code: grpc.status.INVALID_ARGUMENT, details: message }, reason: 'invalid_tenant', unexpected: false };
  }
  if (error instanceof UnauthenticatedError) {
    return { status: { code: grpc.status.UNAUTHENTICATED, details: message }, reason: 'unauthenticated', unexpected: false };
  }
  if (error instanceof PermissionDeniedError) {
    return { status: { code: grpc.status.PERMISSION_DENIED, details: message }, reason: 'permission_denied', unexpected: false };
  }
  if (error instanceof PayloadTooLargeError) {
    return { status: { code: grpc.status.RESOURCE_EXHAUSTED, details: message }, reason: 'too_large', unexpected: false };
  }
  if (error instanceof ResultTooLargeError) {
    return { status: { code: grpc.status.RESOURCE_EXHAUSTED, details: message }, reason: 'too_large', unexpected: false };
  }
  if (error instanceof NotFoundError) {
    return { status: { code: grpc.status.NOT_FOUND, details: message }, reason: 'internal', unexpected: false };
  }
  if (error instanceof OverloadedError) {
    return {
      status: retryableError(grpc.status.UNAVAILABLE, message, error.retryAfterMs),
      reason: error.reason === 'spool_full' ? 'spool_full' : 'over_budget',
      unexpected: false,
    };
  }
  if (error instanceof SpoolFullError) {
    return { status: retryableError(grpc.status.UNAVAILABLE, message, retryAfterMs), reason: 'spool_full', unexpected: false };
  }
  if (error instanceof ShuttingDownError) {
    return { status: retryableError(grpc.status.UNAVAILABLE, message, retryAfterMs), reason: 'shutting_down', unexpected: false };
  }
  if (error instanceof BackendUnavailableError) {
    return { status: retryableError(grpc.status.UNAVAILABLE, message, retryAfterMs), reason: 'internal', unexpected: true };
  }
  if (error instanceof CorruptDataError) {
    return { status: { code: grpc.status.DATA_LOSS, details: message }, reason: 'internal', unexpected: true };
  }
  // Anything else while spooling (disk full, I/O error) leaves nothing acknowledged: the client may safely retry.
  const ref = newErrorRef();
  return {
    status: retryableError(grpc.status.UNAVAILABLE, internalErrorText(ref), retryAfterMs),
    reason: 'internal',
    unexpected: true,
    ref,
  };
}
