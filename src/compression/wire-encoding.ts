// The content codings a request body may arrive in, by the names clients put in `Content-Encoding` (OTLP/HTTP) and
// `grpc-encoding` (gRPC). What the OpenTelemetry Collector sends under each name (config/confighttp and
// config/configgrpc, checked against its sources):
//
// - gzip: one gzip member. deflate / zlib: the zlib format (RFC 1950); some other clients send raw deflate
//   (RFC 1951) under "deflate", so the decoder tells the two apart by the zlib header.
// - zstd: what klauspost/compress's streaming encoder writes: one or more frames, the content size in the frame
//   header or not (gRPC: 512 KiB window).
// - snappy over gRPC: the snappy *framed* stream (golang/snappy's buffered writer). snappy over HTTP: since
//   Collector v0.125 (feature gate confighttp.framedSnappy, beta) a raw snappy *block*; before that the framed
//   stream under the same name. x-snappy-framed: the framed stream. The decoder accepts both forms under either
//   name and tells them apart by the framed stream's identifier chunk, as the Collector's own receiver does.
// - br: brotli, accepted on OTLP/HTTP since the first release (not a Collector encoding).

export const WIRE_ENCODINGS = ['identity', 'gzip', 'deflate', 'zstd', 'snappy', 'br'] as const;
export type WireEncoding = (typeof WIRE_ENCODINGS)[number];

const ALIASES: Readonly<Record<string, WireEncoding>> = {
  '': 'identity',
  identity: 'identity',
  gzip: 'gzip',
  'x-gzip': 'gzip',
  deflate: 'deflate',
  zlib: 'deflate',
  zstd: 'zstd',
  snappy: 'snappy',
  'x-snappy-framed': 'snappy',
  br: 'br',
};

/** Every name `parseWireEncoding` accepts, for error messages and `grpc-accept-encoding`-style lists. */
export const WIRE_ENCODING_NAMES: readonly string[] = Object.keys(ALIASES).filter((name) => name !== '');

/** The encoding a header value names (case and surrounding space ignored; empty means identity), or null. */
export function parseWireEncoding(name: string | undefined): WireEncoding | null {
  const key = (name ?? '').trim().toLowerCase();
  return Object.hasOwn(ALIASES, key) ? ALIASES[key]! : null;
}
