import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import {
  RETRY_INFO_TYPE_URL, STATUS_DETAILS_KEY, decodeRetryDelayMs, encodeStatusWithRetryInfo, retryableError,
} from '../../src/grpc/rpc-status.js';
import { PROTO_DIR } from '../../src/protos.js';

// An independent decoder: protobufjs built from the project's google/rpc .proto files.
const schema = new protobuf.Root().loadSync([
  path.join(PROTO_DIR, 'google/rpc/status.proto'),
  path.join(PROTO_DIR, 'google/rpc/error_details.proto'),
], { keepCase: true });
const Status = schema.lookupType('google.rpc.Status');
const RetryInfo = schema.lookupType('google.rpc.RetryInfo');

interface DecodedStatus {
  code?: number;
  message?: string;
  details?: { type_url: string; value: Uint8Array }[];
}
interface DecodedRetryInfo {
  retry_delay?: { seconds?: string; nanos?: number };
}

function detailsBin(status: Partial<grpc.StatusObject>): Buffer {
  const [value, ...rest] = status.metadata?.get(STATUS_DETAILS_KEY) ?? [];
  expect(rest).toEqual([]);
  if (!Buffer.isBuffer(value)) throw new Error(`${STATUS_DETAILS_KEY} is not binary`);
  return value;
}

function metadataWith(bytes: Uint8Array): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set(STATUS_DETAILS_KEY, Buffer.from(bytes));
  return metadata;
}

test('retryableError builds code, details and a RetryInfo trailer that protobufjs decodes as google.rpc.Status', () => {
  const error = retryableError(grpc.status.UNAVAILABLE, 'spool is full', 2500);
  expect(error.code).toBe(grpc.status.UNAVAILABLE);
  expect(error.details).toBe('spool is full');

  const status = Status.toObject(Status.decode(detailsBin(error)), { longs: String }) as DecodedStatus;
  expect(status.code).toBe(grpc.status.UNAVAILABLE);
  expect(status.message).toBe('spool is full');
  expect(status.details).toHaveLength(1);
  expect(status.details?.[0]?.type_url).toBe('type.googleapis.com/google.rpc.RetryInfo');
  const retryInfo = RetryInfo.toObject(RetryInfo.decode(status.details?.[0]?.value ?? new Uint8Array()),
    { longs: String }) as DecodedRetryInfo;
  expect(retryInfo.retry_delay).toEqual({ seconds: '2', nanos: 500_000_000 });
});

test('whole seconds and sub-millisecond delays are encoded exactly', () => {
  const decode = (ms: number): DecodedRetryInfo => {
    const status = Status.decode(encodeStatusWithRetryInfo(grpc.status.RESOURCE_EXHAUSTED, 'busy', ms)) as unknown as
      DecodedStatus;
    return RetryInfo.toObject(RetryInfo.decode(status.details?.[0]?.value ?? new Uint8Array()),
      { longs: String }) as DecodedRetryInfo;
  };
  expect(decode(3000).retry_delay).toEqual({ seconds: '3' });
  expect(decode(0.25).retry_delay).toEqual({ nanos: 250_000 });
  expect(decode(0).retry_delay).toEqual({});
});

test('encode → decodeRetryDelayMs round-trips whole milliseconds exactly', () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 10 * 365 * 24 * 3600 * 1000 }),
    fc.constantFrom(grpc.status.UNAVAILABLE, grpc.status.RESOURCE_EXHAUSTED),
    fc.string(),
    (ms, code, message) => {
      expect(decodeRetryDelayMs(retryableError(code, message, ms).metadata ?? new grpc.Metadata())).toBe(ms);
    },
  ));
});

test('encode → decodeRetryDelayMs keeps sub-millisecond delays to the nanosecond', () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 24 * 3600 * 1000 }),
    fc.integer({ min: 0, max: 999_999 }),
    (wholeMs, extraNanos) => {
      const ms = wholeMs + extraNanos / 1e6;
      const decoded = decodeRetryDelayMs(retryableError(grpc.status.UNAVAILABLE, 'x', ms).metadata ?? new grpc.Metadata());
      expect(Math.abs((decoded ?? Number.NaN) - ms)).toBeLessThan(1e-6);
    },
  ));
});

test('decodeRetryDelayMs reads RetryInfo written by another encoder, among other details', () => {
  const retryInfo = RetryInfo.encode(RetryInfo.create({ retry_delay: { seconds: 7, nanos: 3_000_000 } })).finish();
  const bytes = Status.encode(Status.fromObject({
    code: grpc.status.RESOURCE_EXHAUSTED,
    message: 'slow down',
    details: [
      { type_url: 'type.googleapis.com/google.rpc.DebugInfo', value: Buffer.from([0x0a, 0x01, 0x78]) },
      { type_url: RETRY_INFO_TYPE_URL, value: retryInfo },
    ],
  })).finish();
  expect(decodeRetryDelayMs(metadataWith(bytes))).toBe(7003);
});

test('decodeRetryDelayMs is null without a usable RetryInfo', () => {
  expect(decodeRetryDelayMs(new grpc.Metadata())).toBeNull();
  const withoutRetryInfo = Status.encode(Status.fromObject({ code: grpc.status.UNAVAILABLE, message: 'x' })).finish();
  expect(decodeRetryDelayMs(metadataWith(withoutRetryInfo))).toBeNull();
  expect(decodeRetryDelayMs(metadataWith(Buffer.from([0x1a, 0x10, 0x0a])))).toBeNull(); // truncated
  expect(decodeRetryDelayMs(metadataWith(Buffer.from([0x0f, 0xff])))).toBeNull(); // invalid wire type
});

test('a negative delay is sent as "retry now"; a non-finite one is a programming error', () => {
  expect(decodeRetryDelayMs(retryableError(grpc.status.UNAVAILABLE, 'x', -250).metadata ?? new grpc.Metadata())).toBe(0);
  expect(() => retryableError(grpc.status.UNAVAILABLE, 'x', Number.NaN)).toThrow(RangeError);
  expect(() => retryableError(grpc.status.UNAVAILABLE, 'x', Number.POSITIVE_INFINITY)).toThrow(RangeError);
});
