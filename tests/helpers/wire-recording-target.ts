// An OTLP/gRPC target on node:http2 that records each Export as it came over the wire — the grpc-encoding header
// and the length-prefixed message with its compressed flag — which a grpc-js server hides (it decodes and strips
// both). It acknowledges every Export with an empty response.
import http2 from 'node:http2';
import { gunzipSync } from 'node:zlib';

export interface WireArrival {
  path: string;
  encoding: string | undefined;
  /** The message's compressed flag (the first byte of the gRPC frame). */
  compressed: boolean;
  /** The message bytes as sent. */
  wire: Buffer;
  /** The message after undoing its grpc-encoding (gzip or none). */
  bytes: Buffer;
  /** The request's headers as sent (binary metadata in its base64 form). */
  headers: Record<string, string>;
}

export interface WireRecordingTarget {
  address: string;
  arrivals: WireArrival[];
  close(): Promise<void>;
}

export async function startWireRecordingTarget(): Promise<WireRecordingTarget> {
  const arrivals: WireArrival[] = [];
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      const compressed = body[0] === 1;
      const wire = body.subarray(5, 5 + body.readUInt32BE(1));
      const encoding = headers['grpc-encoding'] as string | undefined;
      const sent = Object.fromEntries(Object.entries(headers).map(([key, value]) => [key, String(value)]));
      arrivals.push({ path: String(headers[':path']), encoding, compressed, wire, bytes: compressed && encoding === 'gzip' ? gunzipSync(wire) : wire, headers: sent });
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-accept-encoding': 'identity,gzip' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    arrivals,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
