// OTLP/HTTP bodies: which encoding a request uses, and the responses in that same encoding. Success is an empty
// Export*ServiceResponse (no partial_success: everything was accepted); failures carry a google.rpc.Status, as the
// OTLP/HTTP specification requires for 4xx and 5xx responses, with RetryInfo when the client should retry.
import protobuf from 'protobufjs';
import { encodeStatusWithRetryInfo, RETRY_INFO_TYPE_URL } from '../grpc/rpc-status.js';

export type BodyEncoding = 'protobuf' | 'json';

export const CONTENT_TYPES: Readonly<Record<BodyEncoding, string>> = {
  protobuf: 'application/x-protobuf',
  json: 'application/json',
};

/** The encoding named by a Content-Type header (parameters such as charset ignored), or null when unsupported. */
export function encodingOf(contentType: string | undefined): BodyEncoding | null {
  const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (mediaType === CONTENT_TYPES.protobuf) return 'protobuf';
  if (mediaType === CONTENT_TYPES.json) return 'json';
  return null;
}

const EMPTY_JSON_RESPONSE = Buffer.from('{}');
const EMPTY_PROTOBUF_RESPONSE = Buffer.alloc(0);

export function successBody(encoding: BodyEncoding): Buffer {
  return encoding === 'json' ? EMPTY_JSON_RESPONSE : EMPTY_PROTOBUF_RESPONSE;
}

/** A google.rpc.Status { code, message, details: [RetryInfo] when retryAfterMs is not null } in `encoding`. */
export function statusBody(encoding: BodyEncoding, code: number, message: string, retryAfterMs: number | null): Buffer {
  if (encoding === 'json') {
    const status: Record<string, unknown> = { code, message };
    if (retryAfterMs !== null) status.details = [{ '@type': RETRY_INFO_TYPE_URL, retryDelay: jsonDuration(retryAfterMs) }];
    return Buffer.from(JSON.stringify(status));
  }
  if (retryAfterMs !== null) return encodeStatusWithRetryInfo(code, message, retryAfterMs);
  // Status: code = 1 (varint), message = 2 (string); proto3 leaves defaults out.
  const writer = protobuf.Writer.create();
  if (code !== 0) writer.uint32((1 << 3) | 0).int32(code);
  if (message !== '') writer.uint32((2 << 3) | 2).string(message);
  return Buffer.from(writer.finish());
}

/** google.protobuf.Duration in proto3 JSON: seconds with up to millisecond fractions, e.g. "1.5s". */
function jsonDuration(ms: number): string {
  const seconds = Math.max(0, ms) / 1000;
  return `${seconds.toFixed(3).replace(/\.?0+$/, '')}s`;
}
