// gRPC calls made by hand over node:http2, to see exactly what the server answers: HTTP status, headers, trailers,
// and how the stream ended (RST_STREAM code).
import http2 from 'node:http2';

export interface RawAnswer {
  /** Response headers (for a Trailers-Only answer they hold grpc-status too). */
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders | null;
  /** grpc-status from the trailers, or from the headers of a Trailers-Only answer. */
  grpcStatus: number | null;
  grpcMessage: string | null;
  body: Buffer;
  /** The RST_STREAM code the stream closed with (0 = NO_ERROR), as Node reports it. */
  rstCode: number;
}

export const EXPORT_TRACES_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

export function grpcHeaders(path: string, extra: http2.OutgoingHttpHeaders = {}): http2.OutgoingHttpHeaders {
  return {
    ':method': 'POST',
    ':path': path,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...extra,
  };
}

/** A length-prefixed message. */
export function frame(message: Buffer, compressed = false): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = compressed ? 1 : 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/**
 * Sends `headers` and `body` (ended unless `keepOpen`) and resolves once the stream closes. `onStream` sees the
 * request stream as soon as it exists (to write more, or to cancel).
 */
export function rawCall(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body: Buffer | null,
  options: { keepOpen?: boolean; onStream?: (stream: http2.ClientHttp2Stream) => void } = {},
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const stream = session.request(headers, { endStream: body === null && !options.keepOpen });
    let responseHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | null = null;
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (responseHeaders = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', () => undefined);
    stream.on('close', () => {
      const source = trailers ?? responseHeaders;
      const status = source['grpc-status'];
      const message = source['grpc-message'];
      resolve({
        headers: responseHeaders,
        trailers,
        grpcStatus: status === undefined ? null : Number(status),
        grpcMessage: typeof message === 'string' ? message : null,
        body: Buffer.concat(chunks),
        rstCode: stream.rstCode ?? -1,
      });
    });
    options.onStream?.(stream);
    if (body !== null) {
      if (options.keepOpen) stream.write(body);
      else stream.end(body);
    }
  });
}
