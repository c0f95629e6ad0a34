// Writing gRPC responses on an HTTP/2 stream: response headers, length-prefixed messages, and the status as
// trailers — or, when the call ends before any message, as a Trailers-Only response (one HEADERS frame).
import http2 from 'node:http2';
import type * as grpc from '@grpc/grpc-js';
import {
  GRPC_CONTENT_TYPE,
  HEADER_GRPC_ACCEPT_ENCODING,
  HEADER_GRPC_MESSAGE,
  HEADER_GRPC_STATUS,
  percentEncodeGrpcMessage,
  type GrpcStatus,
} from './grpc-protocol.js';
import { ACCEPT_ENCODING } from './wire-codec.js';
import { boundedDetails } from '../../grpc/status-details.js';

/** Headers of every response: what the body is and which request encodings this server decodes. */
export function responseHeaders(metadata?: grpc.Metadata | null): http2.OutgoingHttpHeaders {
  return {
    ...metadataHeaders(metadata),
    [http2.constants.HTTP2_HEADER_STATUS]: 200,
    [http2.constants.HTTP2_HEADER_CONTENT_TYPE]: GRPC_CONTENT_TYPE,
    [HEADER_GRPC_ACCEPT_ENCODING]: ACCEPT_ENCODING,
  };
}

/** grpc-status, percent-encoded grpc-message and the status' metadata (e.g. grpc-status-details-bin). */
export function statusTrailers(status: GrpcStatus): http2.OutgoingHttpHeaders {
  const trailers: http2.OutgoingHttpHeaders = { ...metadataHeaders(status.metadata) };
  trailers[HEADER_GRPC_STATUS] = String(status.code);
  if (status.details !== '') trailers[HEADER_GRPC_MESSAGE] = percentEncodeGrpcMessage(boundedDetails(status.details));
  return trailers;
}

/**
 * Custom metadata as HTTP/2 headers. Binary (-bin) values are base64 without padding, as the protocol asks senders
 * to write them; reserved names (grpc-*, pseudo-headers) that a handler put in its metadata are not sent.
 */
export function metadataHeaders(metadata: grpc.Metadata | null | undefined): http2.OutgoingHttpHeaders {
  const headers: http2.OutgoingHttpHeaders = {};
  if (!metadata) return headers;
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    if (key.startsWith(':') || (key.startsWith('grpc-') && key !== 'grpc-status-details-bin')) continue;
    const encoded = values.map((value) => (typeof value === 'string' ? value : unpaddedBase64(value)));
    if (encoded.length > 0) headers[key] = encoded.length === 1 ? encoded[0] : encoded;
  }
  return headers;
}

function unpaddedBase64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}

/** Whether the stream can still carry an answer. */
export function writable(stream: http2.ServerHttp2Stream): boolean {
  return !stream.destroyed && !stream.closed;
}

/**
 * Ends the call with `status` in one HEADERS frame. With `stopBody`, the request body that may still be coming is
 * refused with RST_STREAM(NO_ERROR) after the answer (RFC 9113 §8.1): the client stops sending it, and the bytes
 * in flight do not compete with admitted streams for the connection.
 */
export function sendTrailersOnly(stream: http2.ServerHttp2Stream, status: GrpcStatus, stopBody: boolean, httpStatus = 200): void {
  if (!writable(stream)) return;
  if (stream.headersSent) {
    endWithStatus(stream, status);
  } else {
    const headers = { ...responseHeaders(), ...statusTrailers(status), [http2.constants.HTTP2_HEADER_STATUS]: httpStatus };
    stream.respond(headers, { endStream: true });
  }
  if (stopBody && !stream.readableEnded) {
    stream.close(http2.constants.NGHTTP2_NO_ERROR);
    discardBody(stream);
  }
}

/**
 * Drops what is left of a request body. Node destroys a closed stream (and frees its place among the connection's
 * concurrent streams) only once its readable side has ended; a body left unread would hold that place until the
 * connection closes, and the connection would refuse new streams with ENHANCE_YOUR_CALM.
 */
export function discardBody(stream: http2.ServerHttp2Stream): void {
  stream.removeAllListeners('readable');
  stream.removeAllListeners('data');
  stream.on('data', () => undefined);
  stream.resume();
}

/** After response headers (and messages) were sent: the status as trailers. */
export function endWithStatus(stream: http2.ServerHttp2Stream, status: GrpcStatus): void {
  if (!writable(stream)) return;
  if (!stream.headersSent) {
    sendTrailersOnly(stream, status, false);
    return;
  }
  if (stream.writableEnded) return;
  stream.once('wantTrailers', () => {
    if (writable(stream)) stream.sendTrailers(statusTrailers(status));
  });
  stream.end();
}

/** A unary answer: headers, the one framed message, the status trailers. Needs `waitForTrailers` headers. */
export function sendUnaryResponse(stream: http2.ServerHttp2Stream, frame: Buffer, status: GrpcStatus, metadata?: grpc.Metadata | null): void {
  if (!writable(stream)) return;
  stream.respond(responseHeaders(metadata), { waitForTrailers: true });
  stream.once('wantTrailers', () => {
    if (writable(stream)) stream.sendTrailers(statusTrailers(status));
  });
  stream.end(frame);
}
