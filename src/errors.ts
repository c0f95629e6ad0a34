// Typed errors. Each carries a message meant for a person; `cause` keeps the underlying error for logs.
import { randomBytes } from 'node:crypto';

export class OtlpCaptureError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * What a caller is told about an error nobody expected: a reference into the server's log, not the error's own text
 * (file paths, endpoints and library internals are the operator's business, and ingest answers callers without a
 * token).
 */
export function internalErrorText(ref: string): string {
  return `internal error (the server logged its cause as ref ${ref})`;
}

/** A short reference that ties a caller's error to the server's log line. */
export function newErrorRef(): string {
  return randomBytes(4).toString('hex');
}

/** Configuration that cannot be used as given. */
export class ConfigError extends OtlpCaptureError {}

/** The OTLP payload is not valid protobuf for its message type. Final: retrying cannot help. */
export class MalformedPayloadError extends OtlpCaptureError {}

/** The request is larger than the configured limit. */
export class PayloadTooLargeError extends OtlpCaptureError {}

/** An answer would be larger than the configured limit: the caller must ask for less. Final. */
export class ResultTooLargeError extends OtlpCaptureError {}

/** Temporarily unable to accept: the client should retry after `retryAfterMs`. */
export class OverloadedError extends OtlpCaptureError {
  constructor(message: string, readonly retryAfterMs: number, readonly reason: string) {
    super(message);
  }
}

/** The spool cannot take more bytes until the archiver catches up. */
export class SpoolFullError extends OtlpCaptureError {}

/** Data on disk failed its checksum or framing check. */
export class CorruptDataError extends OtlpCaptureError {}

/** Something asked for does not exist. */
export class NotFoundError extends OtlpCaptureError {}

/** A request the caller may not make (bad tenant, bad filter). */
export class InvalidArgumentError extends OtlpCaptureError {}

/** No credentials, or not valid ones. The message never contains what the caller presented. */
export class UnauthenticatedError extends OtlpCaptureError {}

/** Valid credentials that do not allow this request (a token bound to another tenant). */
export class PermissionDeniedError extends OtlpCaptureError {}

/** A backend (blob store, index) cannot be reached or used. */
export class BackendUnavailableError extends OtlpCaptureError {}

/** The component is shutting down and takes no new work. */
export class ShuttingDownError extends OtlpCaptureError {}

/** A compressed body that inflates past its limit (a decompression bomb or an oversized request). */
export class DecodedTooLargeError extends PayloadTooLargeError {
  constructor(message: string, readonly limitBytes: number) {
    super(message);
  }
}

/** A compressed body that is not valid data of its encoding (truncated, corrupt, wrong format). */
export class MalformedEncodingError extends MalformedPayloadError {}

/** A content/message encoding this server does not decode (HTTP 415, gRPC UNIMPLEMENTED). */
export class UnsupportedEncodingError extends OtlpCaptureError {
  constructor(message: string, readonly encoding: string) {
    super(message);
  }
}
