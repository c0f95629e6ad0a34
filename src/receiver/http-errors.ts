// One place that turns typed errors into OTLP/HTTP responses: an HTTP status, the google.rpc.Status code that goes
// in the response body, and a Retry-After delay for what the client should retry. The OTLP/HTTP specification makes
// 429, 502, 503 and 504 retryable; everything else is final.
import * as grpc from '@grpc/grpc-js';
import {
  CorruptDataError,
  InvalidArgumentError,
  MalformedPayloadError,
  NotFoundError,
  OverloadedError,
  PayloadTooLargeError,
  PermissionDeniedError,
  ShuttingDownError,
  SpoolFullError,
  UnauthenticatedError,
  internalErrorText,
  newErrorRef,
} from '../errors.js';
import type { RejectReason } from '../telemetry/metrics.js';

export interface HttpError {
  httpStatus: number;
  /** google.rpc.Code for the Status in the response body. */
  code: grpc.status;
  message: string;
  /** Delay for the Retry-After header (and RetryInfo); null for final errors. */
  retryAfterMs: number | null;
  reason: RejectReason;
  /** Unexpected errors are logged with their stack; expected refusals are not. */
  unexpected: boolean;
  /** Set when the caller was told only this reference: log it with the error. */
  ref?: string;
}

/** A refusal that only exists on HTTP: unknown path, wrong method, unsupported media type or content coding. */
export class HttpRefusal extends Error {
  constructor(
    readonly httpStatus: 404 | 405 | 415,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpRefusal';
  }
}

const final = (httpStatus: number, code: grpc.status, message: string, reason: RejectReason): HttpError => ({
  httpStatus,
  code,
  message,
  retryAfterMs: null,
  reason,
  unexpected: false,
});

export function toHttpError(error: unknown, retryAfterMs: number): HttpError {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof HttpRefusal) {
    const code = error.httpStatus === 404 ? grpc.status.NOT_FOUND : error.httpStatus === 405 ? grpc.status.UNIMPLEMENTED : grpc.status.INVALID_ARGUMENT;
    return final(error.httpStatus, code, message, 'malformed');
  }
  if (error instanceof MalformedPayloadError) return final(400, grpc.status.INVALID_ARGUMENT, message, 'malformed');
  if (error instanceof InvalidArgumentError) return final(400, grpc.status.INVALID_ARGUMENT, message, 'invalid_tenant');
  if (error instanceof UnauthenticatedError) return final(401, grpc.status.UNAUTHENTICATED, message, 'unauthenticated');
  if (error instanceof PermissionDeniedError) return final(403, grpc.status.PERMISSION_DENIED, message, 'permission_denied');
  if (error instanceof PayloadTooLargeError) return final(413, grpc.status.RESOURCE_EXHAUSTED, message, 'too_large');
  if (error instanceof NotFoundError) return final(404, grpc.status.NOT_FOUND, message, 'internal');
  if (error instanceof OverloadedError) {
    // Over the in-flight budget is this client sending too much at once (429); a full spool is the server's own
    // trouble (503). Both are retryable and carry the delay.
    const spoolFull = error.reason === 'spool_full';
    return {
      httpStatus: spoolFull ? 503 : 429,
      code: spoolFull ? grpc.status.UNAVAILABLE : grpc.status.RESOURCE_EXHAUSTED,
      message,
      retryAfterMs: error.retryAfterMs,
      reason: spoolFull ? 'spool_full' : 'over_budget',
      unexpected: false,
    };
  }
  const unavailable = (reason: RejectReason, unexpected: boolean, text = message): HttpError => ({
    httpStatus: 503,
    code: grpc.status.UNAVAILABLE,
    message: text,
    retryAfterMs,
    reason,
    unexpected,
  });
  if (error instanceof SpoolFullError) return unavailable('spool_full', false);
  if (error instanceof ShuttingDownError) return unavailable('shutting_down', false);
  // The rest is unexpected: the caller (who needs no token to export) is told a reference into the log, not the
  // error's text, which can carry the server's paths and endpoints.
  const ref = newErrorRef();
  if (error instanceof CorruptDataError) return { ...final(500, grpc.status.DATA_LOSS, internalErrorText(ref), 'internal'), unexpected: true, ref };
  // Anything else while spooling (I/O error, a backend down) leaves nothing acknowledged: the client may safely retry.
  return { ...unavailable('internal', true, internalErrorText(ref)), ref };
}

/** Retry-After is whole seconds; round up so a client never comes back before the server asked. */
export function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}
