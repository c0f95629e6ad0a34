// The seam between the gRPC server and the wire decoders: which grpc-encodings requests may use (listed in
// grpc-accept-encoding, so clients only pick what decodes) and how one message is decoded under the receive limit.
// src/compression/ (bounded zstd, snappy, gzip and deflate decoders) replaces the zlib module here in one line.
export {
  ZLIB_WIRE_ENCODINGS as WIRE_ENCODINGS,
  decodeZlibWireMessage as decodeWireMessage,
} from './zlib-wire-codec.js';
