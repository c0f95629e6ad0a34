// The OTLP/HTTP error mapping and body encodings: each typed error gets the status the specification asks for, the
// retryable ones (and only those) a delay, and the Status bodies decode with the google.rpc protos.
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
  ShuttingDownError,
  SpoolFullError,
  UnauthenticatedError,
} from '../../src/errors.js';
import { HttpRefusal, retryAfterSeconds, toHttpError } from '../../src/receiver/http-errors.js';
import { encodingOf, statusBody, successBody } from '../../src/receiver/otlp-http-encoding.js';
import { decodeStatus } from '../helpers/otlp-http-client.js';

test.each([
  [new MalformedPayloadError('bad'), 400, grpc.status.INVALID_ARGUMENT, null, 'malformed'],
  [new InvalidArgumentError('bad tenant'), 400, grpc.status.INVALID_ARGUMENT, null, 'invalid_tenant'],
  [new UnauthenticatedError('no token'), 401, grpc.status.UNAUTHENTICATED, null, 'unauthenticated'],
  [new PermissionDeniedError('other tenant'), 403, grpc.status.PERMISSION_DENIED, null, 'permission_denied'],
  [new HttpRefusal(404, 'where'), 404, grpc.status.NOT_FOUND, null, 'malformed'],
  [new HttpRefusal(405, 'how'), 405, grpc.status.UNIMPLEMENTED, null, 'malformed'],
  [new PayloadTooLargeError('big'), 413, grpc.status.RESOURCE_EXHAUSTED, null, 'too_large'],
  [new HttpRefusal(415, 'what'), 415, grpc.status.INVALID_ARGUMENT, null, 'malformed'],
  [new OverloadedError('busy', 1500, 'over_budget'), 429, grpc.status.RESOURCE_EXHAUSTED, 1500, 'over_budget'],
  [new OverloadedError('full', 2500, 'spool_full'), 503, grpc.status.UNAVAILABLE, 2500, 'spool_full'],
  [new SpoolFullError('full'), 503, grpc.status.UNAVAILABLE, 700, 'spool_full'],
  [new ShuttingDownError('bye'), 503, grpc.status.UNAVAILABLE, 700, 'shutting_down'],
  [new BackendUnavailableError('s3 down'), 503, grpc.status.UNAVAILABLE, 700, 'internal'],
  [new Error('EIO'), 503, grpc.status.UNAVAILABLE, 700, 'internal'],
  [new CorruptDataError('crc'), 500, grpc.status.DATA_LOSS, null, 'internal'],
  [new NotFoundError('nope'), 404, grpc.status.NOT_FOUND, null, 'internal'],
] as const)('%p → HTTP %d', (error, httpStatus, code, retryAfterMs, reason) => {
  const mapped = toHttpError(error, 700);
  expect(mapped).toMatchObject({ httpStatus, code, retryAfterMs, reason });
  // Retryable for an OTLP client (429, 502, 503, 504) exactly when a delay is given.
  expect([429, 502, 503, 504].includes(mapped.httpStatus)).toBe(mapped.retryAfterMs !== null);
});

test('unexpected errors (to be logged with a stack) are the ones that are not a refusal', () => {
  expect(toHttpError(new Error('EIO'), 1).unexpected).toBe(true);
  expect(toHttpError(new BackendUnavailableError('x'), 1).unexpected).toBe(true);
  expect(toHttpError(new OverloadedError('x', 1, 'over_budget'), 1).unexpected).toBe(false);
  expect(toHttpError(new UnauthenticatedError('x'), 1).unexpected).toBe(false);
  // The caller needs no token: an unexpected error's text (paths, endpoints) stays in the log, under a reference.
  for (const error of [new Error("EIO: i/o error, write '/var/lib/otlp-capture/spool'"), new BackendUnavailableError('s3 at http://minio:9000 down'), new CorruptDataError('crc at /data/x')]) {
    const mapped = toHttpError(error, 1);
    expect(mapped.ref).toMatch(/^[0-9a-f]{8}$/);
    expect(mapped.message).toBe(`internal error (the server logged its cause as ref ${mapped.ref})`);
  }
  expect(toHttpError(new Error('EIO'), 1).ref).not.toBe(toHttpError(new Error('EIO'), 1).ref);
  expect(toHttpError(new UnauthenticatedError('no token'), 1)).not.toHaveProperty('ref');
});

test('Retry-After is whole seconds, rounded up, at least 1', () => {
  expect([0, 1, 999, 1000, 1001, 1500, 60_000].map(retryAfterSeconds)).toEqual(['1', '1', '1', '1', '2', '2', '60']);
});

test('content types: media type only, case-insensitive, parameters ignored', () => {
  expect(encodingOf('application/x-protobuf')).toBe('protobuf');
  expect(encodingOf('Application/X-Protobuf; proto=foo')).toBe('protobuf');
  expect(encodingOf('application/json; charset=utf-8')).toBe('json');
  for (const other of [undefined, '', 'text/plain', 'application/protobuf', 'application/jsonx', 'application/grpc']) {
    expect(encodingOf(other)).toBeNull();
  }
});

test('bodies: empty responses, and Status with and without RetryInfo in both encodings', () => {
  expect(successBody('protobuf')).toEqual(Buffer.alloc(0));
  expect(successBody('json').toString()).toBe('{}');
  for (const encoding of ['protobuf', 'json'] as const) {
    expect(decodeStatus(statusBody(encoding, 3, 'bad input ü', null), encoding)).toEqual({ code: 3, message: 'bad input ü', retryDelayMs: null });
    expect(decodeStatus(statusBody(encoding, 14, 'later', 2500), encoding)).toEqual({ code: 14, message: 'later', retryDelayMs: 2500 });
    expect(decodeStatus(statusBody(encoding, 8, 'now', 0), encoding)).toEqual({ code: 8, message: 'now', retryDelayMs: 0 });
  }
  expect(JSON.parse(statusBody('json', 14, 'later', 1500).toString())).toEqual({
    code: 14,
    message: 'later',
    details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1.5s' }],
  });
});
