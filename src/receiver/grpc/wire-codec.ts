// The gRPC message encodings this server decodes, and decoding one message under the receive limit — through
// src/compression, the same bounded decoders OTLP/HTTP uses: every decoder stops once its output passes the limit,
// so a decompression bomb costs at most the limit in memory.
//
// What the Collector's `otlp` exporter sends under each name (configgrpc registers grpc-go's gzip and the
// go-grpc-compression codecs; src/compression/wire-encoding.ts has the details): gzip — one gzip member; zstd —
// klauspost/compress frames without a content size (512 KiB window); snappy — the snappy *framed* stream
// (golang/snappy's buffered writer), not a raw block. deflate is the zlib format (grpc-js, C-core); the decoder also
// takes raw deflate and a raw snappy block, telling the forms apart by their first bytes.
import { decodeBody } from '../../compression/body-decoder.js';
import type { WireEncoding } from '../../compression/wire-encoding.js';
import { DecodedTooLargeError } from '../../errors.js';

/** grpc-encoding values requests may use, in the order grpc-accept-encoding lists them (names are exact, lowercase). */
export const WIRE_ENCODINGS = ['identity', 'gzip', 'deflate', 'zstd', 'snappy'] as const satisfies readonly WireEncoding[];
export type GrpcWireEncoding = (typeof WIRE_ENCODINGS)[number];

/** grpc-accept-encoding: the names, comma-separated without spaces (as grpc-go and C-core write it). */
export const ACCEPT_ENCODING = WIRE_ENCODINGS.join(',');

export function isWireEncoding(name: string): name is GrpcWireEncoding {
  return (WIRE_ENCODINGS as readonly string[]).includes(name);
}

/**
 * The plain bytes of one compressed request message. gzip and deflate inflate on libuv's thread pool, zstd of 64 KiB
 * and more on the zstd worker threads, snappy and small zstd inline.
 * @throws DecodedTooLargeError when the plain bytes pass maxBytes (the message names the encoding and the limit);
 *   MalformedEncodingError when the bytes are not valid data of that encoding.
 */
export async function decodeWireMessage(encoding: GrpcWireEncoding, bytes: Buffer, maxBytes: number): Promise<Buffer> {
  try {
    return await decodeBody(encoding, bytes, maxBytes);
  } catch (error) {
    if (error instanceof DecodedTooLargeError) {
      throw new DecodedTooLargeError(
        `request message is larger than the limit of ${maxBytes} bytes after ${encoding} decompression (server.grpc.maxReceiveBytes)`,
        maxBytes,
      );
    }
    throw error;
  }
}
