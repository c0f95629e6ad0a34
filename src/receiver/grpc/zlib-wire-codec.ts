// grpc-encoding decoders that Node's zlib provides: gzip and deflate (gRPC's "deflate" is the zlib format, as
// grpc-go and grpc-js write it). The output is capped while it is produced (zlib stops at maxOutputLength), so a
// decompression bomb costs at most `maxBytes` of memory and the time to inflate that much.
import { gunzip, inflate, type InputType, type ZlibOptions } from 'node:zlib';
import { MalformedPayloadError, PayloadTooLargeError } from '../../errors.js';

type ZlibDecoder = (buffer: InputType, options: ZlibOptions, callback: (error: Error | null, result: Buffer) => void) => void;

const ZLIB_DECODERS: Readonly<Record<string, ZlibDecoder>> = { gzip: gunzip, deflate: inflate };

/** grpc-encoding values this module decodes, in the order grpc-accept-encoding lists them. */
export const ZLIB_WIRE_ENCODINGS: readonly string[] = ['identity', 'deflate', 'gzip'];

/**
 * The plain bytes of one request message. Runs on libuv's thread pool, off the event loop.
 * @throws PayloadTooLargeError when the plain bytes exceed maxBytes; MalformedPayloadError when the bytes are not
 * valid data of that encoding (or the encoding is not one of ZLIB_WIRE_ENCODINGS).
 */
export function decodeZlibWireMessage(encoding: string, bytes: Buffer, maxBytes: number): Promise<Buffer> {
  if (encoding === 'identity') return Promise.resolve(bytes);
  const decode = ZLIB_DECODERS[encoding];
  if (decode === undefined) return Promise.reject(new MalformedPayloadError(`cannot decode grpc-encoding ${JSON.stringify(encoding)}`));
  return new Promise((resolve, reject) => {
    decode(bytes, { maxOutputLength: Math.max(1, maxBytes) }, (error, plain) => {
      if (error === null) {
        resolve(plain);
      } else if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        reject(new PayloadTooLargeError(`request message is larger than the limit of ${maxBytes} bytes after ${encoding} decompression`));
      } else {
        reject(new MalformedPayloadError(`request message is not valid ${encoding} data: ${error.message}`));
      }
    });
  });
}
