// google.rpc.Status with a google.rpc.RetryInfo detail, carried in the `grpc-status-details-bin` trailer. The OTLP
// specification makes RESOURCE_EXHAUSTED retryable only with RetryInfo, and Collectors honour its delay.
//
// Three small messages, so they are encoded by hand with protobufjs' wire Reader/Writer: no schema to load at
// start-up. Field numbers are those of proto/google/rpc/*.proto and google/protobuf/{any,duration}.proto.
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';
export const RETRY_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.RetryInfo';

const VARINT = 0;
const LENGTH_DELIMITED = 2;
const tag = (field: number, wireType: number): number => (field << 3) | wireType;

/** A status for a gRPC callback that tells the client to retry after `retryAfterMs`. */
export function retryableError(code: grpc.status, message: string, retryAfterMs: number): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  metadata.set(STATUS_DETAILS_KEY, encodeStatusWithRetryInfo(code, message, retryAfterMs));
  return { code, details: message, metadata };
}

/**
 * Serialized google.rpc.Status { code, message, details: [Any(RetryInfo { retry_delay })] }. Negative delays are
 * sent as zero; NaN and infinities throw RangeError.
 */
export function encodeStatusWithRetryInfo(code: number, message: string, retryAfterMs: number): Buffer {
  if (!Number.isFinite(retryAfterMs)) throw new RangeError(`retryAfterMs must be finite, got ${retryAfterMs}`);
  // A delay computed as negative (a deadline already passed) means "retry now"; error paths should not throw for it.
  const delayMs = Math.max(0, retryAfterMs);
  // Split before scaling: ms * 1e6 would lose nanoseconds beyond 2^53 ns (~104 days).
  let seconds = Math.floor(delayMs / 1000);
  let nanos = Math.round((delayMs - seconds * 1000) * 1e6);
  if (nanos >= 1e9) {
    seconds += 1;
    nanos -= 1e9;
  }

  const duration = protobuf.Writer.create();
  if (seconds !== 0) duration.uint32(tag(1, VARINT)).int64(seconds);
  if (nanos !== 0) duration.uint32(tag(2, VARINT)).int32(nanos);

  const retryInfo = protobuf.Writer.create().uint32(tag(1, LENGTH_DELIMITED)).bytes(duration.finish()).finish();

  const any = protobuf.Writer.create()
    .uint32(tag(1, LENGTH_DELIMITED)).string(RETRY_INFO_TYPE_URL)
    .uint32(tag(2, LENGTH_DELIMITED)).bytes(retryInfo)
    .finish();

  const status = protobuf.Writer.create();
  if (code !== 0) status.uint32(tag(1, VARINT)).int32(code);
  if (message !== '') status.uint32(tag(2, LENGTH_DELIMITED)).string(message);
  status.uint32(tag(3, LENGTH_DELIMITED)).bytes(any);
  return Buffer.from(status.finish());
}

/**
 * The retry delay in milliseconds that a `grpc-status-details-bin` trailer asks for, or null when the trailer is
 * absent, carries no RetryInfo, or is not valid protobuf (a server's bad trailer should not break a client).
 */
export function decodeRetryDelayMs(metadata: grpc.Metadata): number | null {
  for (const value of metadata.get(STATUS_DETAILS_KEY)) {
    if (typeof value === 'string') continue;
    let delay: number | null = null;
    try {
      delay = retryDelayFromStatus(value);
    } catch {
      continue; // protobufjs' Reader throws only on malformed input
    }
    if (delay !== null) return delay;
  }
  return null;
}

function retryDelayFromStatus(bytes: Uint8Array): number | null {
  for (const detail of fields(bytes, 3)) {
    let typeUrl = '';
    let value: Uint8Array | undefined;
    const any = protobuf.Reader.create(detail);
    while (any.pos < any.len) {
      const t = any.uint32();
      if (t === tag(1, LENGTH_DELIMITED)) typeUrl = any.string();
      else if (t === tag(2, LENGTH_DELIMITED)) value = any.bytes();
      else any.skipType(t & 7);
    }
    if (typeUrl !== RETRY_INFO_TYPE_URL) continue;
    // An Any without value is a RetryInfo with every field at its default: no delay.
    const retryDelay = value ? fields(value, 1).at(-1) : undefined;
    return retryDelay ? durationMs(retryDelay) : 0;
  }
  return null;
}

function durationMs(bytes: Uint8Array): number {
  let seconds = 0;
  let nanos = 0;
  const reader = protobuf.Reader.create(bytes);
  while (reader.pos < reader.len) {
    const t = reader.uint32();
    if (t === tag(1, VARINT)) {
      seconds = protobuf.util.LongBits.from(reader.int64()).toNumber();
    } else if (t === tag(2, VARINT)) {
      nanos = reader.int32();
    } else {
      reader.skipType(t & 7);
    }
  }
  // A negative Duration is valid protobuf but means "now" for a retry.
  return Math.max(0, seconds * 1000 + nanos / 1e6);
}

/** Every length-delimited occurrence of `field` in a message. */
function fields(bytes: Uint8Array, field: number): Uint8Array[] {
  const found: Uint8Array[] = [];
  const reader = protobuf.Reader.create(bytes);
  while (reader.pos < reader.len) {
    const t = reader.uint32();
    if (t === tag(field, LENGTH_DELIMITED)) found.push(reader.bytes());
    else reader.skipType(t & 7);
  }
  return found;
}
