// What every route of the gRPC server gets for one call: the HTTP/2 stream, its headers as checked, and the
// connection it came on (the key for per-connection fairness in admission).
import type http2 from 'node:http2';
import type { GrpcRequest } from './request-check.js';

export interface CallContext {
  stream: http2.ServerHttp2Stream;
  headers: http2.IncomingHttpHeaders;
  request: GrpcRequest;
  /** The HTTP/2 connection: one identity per client connection. */
  connection: http2.ServerHttp2Session;
  /**
   * When the client wants its answer by (from grpc-timeout), on the monotonic clock (util/monotonic.ts) so a step of
   * the wall clock neither expires it at once nor keeps it for an hour; null without grpc-timeout.
   */
  deadline: number | null;
}

export type Route = (call: CallContext) => void;

/** "ip:port" of the client, as grpc-js reports peers. */
export function peerOf(stream: http2.ServerHttp2Stream): string {
  const socket = stream.session?.socket;
  if (!socket || socket.remoteAddress === undefined) return 'unknown';
  const host = socket.remoteAddress.includes(':') ? `[${socket.remoteAddress}]` : socket.remoteAddress;
  return `${host}:${socket.remotePort ?? 0}`;
}
