import * as grpc from '@grpc/grpc-js';
import { expect, test } from '@jest/globals';
import { BackendUnavailableError, CorruptDataError, InvalidArgumentError, ShuttingDownError } from '../../src/errors.js';
import { toGrpcError } from '../../src/grpc/grpc-errors.js';
import { STATUS_DETAILS_KEY, decodeRetryDelayMs } from '../../src/grpc/rpc-status.js';

const REF_TEXT = /^internal error \(the server logged its cause as ref ([0-9a-f]{8})\)$/;

test('an error of no known kind is told as a log reference, to every caller', () => {
  const mapped = toGrpcError(new Error("EIO: i/o error, open '/var/lib/otlp-capture/spool/1.spool'"), 500);
  expect(mapped.status.code).toBe(grpc.status.UNAVAILABLE);
  expect(mapped.status.details).toMatch(REF_TEXT);
  expect(REF_TEXT.exec(mapped.status.details!)![1]).toBe(mapped.ref);
  expect(mapped.unexpected).toBe(true);
});

test('hideInternals: a backend or corruption error keeps its code (and RetryInfo) but not its text', () => {
  const backend = toGrpcError(new BackendUnavailableError('spool write failed: /data/spool: EROFS'), 700, { hideInternals: true });
  expect(backend.status.code).toBe(grpc.status.UNAVAILABLE);
  expect(backend.status.details).toMatch(REF_TEXT);
  expect(decodeRetryDelayMs(backend.status.metadata!)).toBe(700);
  // The binary google.rpc.Status repeats the message: the path is not in it either.
  expect(Buffer.concat(backend.status.metadata!.get(STATUS_DETAILS_KEY) as Buffer[]).toString('latin1')).not.toContain('/data');
  const corrupt = toGrpcError(new CorruptDataError('crc mismatch in /data/x'), 700, { hideInternals: true });
  expect(corrupt.status).toEqual({ code: grpc.status.DATA_LOSS, details: expect.stringMatching(REF_TEXT) });
  // Without it (the token-gated read API), a backend's message helps the operator reading it.
  expect(toGrpcError(new BackendUnavailableError('S3 unreachable'), 700).status.details).toBe('S3 unreachable');
  // Expected refusals say what they are, whoever asks.
  expect(toGrpcError(new InvalidArgumentError('bad tenant'), 700, { hideInternals: true }).status.details).toBe('bad tenant');
  expect(toGrpcError(new ShuttingDownError('shutting down'), 700, { hideInternals: true })).not.toHaveProperty('ref');
});
