// Facts of the gRPC-over-HTTP/2 protocol (grpc/grpc doc/PROTOCOL-HTTP2.md) that the hand-written server needs:
// header names, the grpc-timeout format, grpc-message's percent-encoding and status objects.
import type * as grpc from '@grpc/grpc-js';

export const GRPC_CONTENT_TYPE = 'application/grpc';
export const HEADER_GRPC_STATUS = 'grpc-status';
export const HEADER_GRPC_MESSAGE = 'grpc-message';
export const HEADER_GRPC_ENCODING = 'grpc-encoding';
export const HEADER_GRPC_ACCEPT_ENCODING = 'grpc-accept-encoding';
export const HEADER_GRPC_TIMEOUT = 'grpc-timeout';

/** gRPC status codes (the numbers are the protocol's; grpc-js' enum has the same values). */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** What ends a call: a status code, a message for a person and trailing metadata (custom trailers). */
export interface GrpcStatus {
  code: number;
  details: string;
  metadata?: grpc.Metadata | null | undefined;
}

/** "application/grpc", "application/grpc+proto", "application/grpc; charset=…": the gRPC family. */
export function isGrpcContentType(value: string | undefined): boolean {
  if (value === undefined || !value.startsWith(GRPC_CONTENT_TYPE)) return false;
  const next = value.charAt(GRPC_CONTENT_TYPE.length);
  return next === '' || next === '+' || next === ';';
}

const TIMEOUT_PATTERN = /^(\d{1,8})([HMSmun])$/;
const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** grpc-timeout ("1S", "250m", at most 8 digits) in milliseconds, or null when malformed. */
export function parseGrpcTimeout(value: string): number | null {
  const match = TIMEOUT_PATTERN.exec(value);
  if (match === null) return null;
  return Number(match[1]) * (TIMEOUT_UNIT_MS[match[2] as string] as number);
}

/**
 * grpc-message is percent-encoded UTF-8: every byte outside printable ASCII (0x20-0x7E), and '%' itself, becomes
 * %XX, so any text survives HTTP/2 header rules.
 */
export function percentEncodeGrpcMessage(text: string): string {
  let plain = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return text;
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The status a handler's error means, as grpc-js reads it: code and details when given, UNKNOWN otherwise. */
export function statusFromError(error: unknown): GrpcStatus {
  if (error === null || typeof error !== 'object') return { code: Status.UNKNOWN, details: String(error) };
  const candidate = error as { code?: unknown; details?: unknown; message?: unknown; metadata?: unknown };
  const metadata = (candidate.metadata ?? null) as grpc.Metadata | null;
  const message = typeof candidate.message === 'string' ? candidate.message : 'Unknown Error';
  if (typeof candidate.code === 'number' && Number.isInteger(candidate.code) && candidate.code >= 0 && candidate.code <= 16) {
    return { code: candidate.code, details: typeof candidate.details === 'string' ? candidate.details : message, metadata };
  }
  return { code: Status.UNKNOWN, details: message, metadata };
}
