// Is this HTTP/2 request a gRPC call we can serve? Checked from the headers alone, in the order a client's mistake
// is easiest to understand: method, content-type, te, grpc-timeout, grpc-encoding.
import http2 from 'node:http2';
import {
  HEADER_GRPC_ENCODING,
  HEADER_GRPC_TIMEOUT,
  Status,
  isGrpcContentType,
  parseGrpcTimeout,
  type GrpcStatus,
} from './grpc-protocol.js';
import { ACCEPT_ENCODING, isWireEncoding, type GrpcWireEncoding } from './wire-codec.js';

export interface GrpcRequest {
  path: string;
  /** grpc-encoding of compressed messages ("identity" when absent). */
  encoding: GrpcWireEncoding;
  /** From grpc-timeout; null when the client set no deadline. */
  timeoutMs: number | null;
}

/** A refusal: the HTTP status (200 for a gRPC status, 4xx when the request is not gRPC at all) and the status. */
export interface RequestRefusal {
  httpStatus: number;
  status: GrpcStatus;
}

export type RequestCheck = { ok: true; request: GrpcRequest } | { ok: false; refusal: RequestRefusal };

const refuse = (httpStatus: number, code: number, details: string): RequestCheck => ({
  ok: false,
  refusal: { httpStatus, status: { code, details } },
});

export function checkGrpcRequest(headers: http2.IncomingHttpHeaders): RequestCheck {
  const method = headers[http2.constants.HTTP2_HEADER_METHOD];
  if (method !== 'POST') return refuse(405, Status.UNIMPLEMENTED, `gRPC calls use POST, not ${String(method)}`);
  const contentTypeHeader = headers[http2.constants.HTTP2_HEADER_CONTENT_TYPE];
  const contentType = typeof contentTypeHeader === 'string' ? contentTypeHeader : undefined;
  if (!isGrpcContentType(contentType)) {
    return refuse(415, Status.INTERNAL, `content-type ${JSON.stringify(contentType ?? '')} is not application/grpc: this port speaks gRPC (OTLP/HTTP has its own port)`);
  }
  // Clients send "te: trailers" so that proxies which would drop trailers are detected; anything else means one did.
  const te = headers[http2.constants.HTTP2_HEADER_TE];
  if (te !== undefined && te !== 'trailers') return refuse(400, Status.INTERNAL, `te must be "trailers", not ${JSON.stringify(te)}`);
  let timeoutMs: number | null = null;
  const timeout = headers[HEADER_GRPC_TIMEOUT];
  if (typeof timeout === 'string') {
    timeoutMs = parseGrpcTimeout(timeout);
    if (timeoutMs === null) return refuse(200, Status.INTERNAL, `malformed grpc-timeout ${JSON.stringify(timeout.slice(0, 20))}`);
  }
  const encodingHeader = headers[HEADER_GRPC_ENCODING];
  const encoding = typeof encodingHeader === 'string' && encodingHeader !== '' ? encodingHeader : 'identity';
  // The gRPC spec's answer to an encoding the server lacks: UNIMPLEMENTED, with grpc-accept-encoding (on every
  // response) naming what it has.
  if (!isWireEncoding(encoding)) {
    return refuse(200, Status.UNIMPLEMENTED, `grpc-encoding ${JSON.stringify(encoding.slice(0, 40))} is not supported: use one of ${ACCEPT_ENCODING}`);
  }
  const path = headers[http2.constants.HTTP2_HEADER_PATH];
  return { ok: true, request: { path: typeof path === 'string' ? path : '', encoding, timeoutMs } };
}
