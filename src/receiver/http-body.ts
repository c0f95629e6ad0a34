// Reads an HTTP request body into memory without ever holding more than the limit: the wire bytes and, for
// compressed bodies, the decompressed bytes are counted as they stream, so neither a huge body nor a
// decompression bomb gets further than `maxBytes` (plus one chunk).
import type { IncomingMessage } from 'node:http';
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { MalformedPayloadError, PayloadTooLargeError } from '../errors.js';
import { HttpRefusal } from './http-errors.js';

/** The client went away before sending its whole body: there is nobody to answer. */
export class RequestAbortedError extends Error {
  constructor() {
    super('the client closed the connection before sending the whole request body');
    this.name = 'RequestAbortedError';
  }
}

const DECODERS: Readonly<Record<string, () => Transform>> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  // HTTP "deflate" is the zlib format (RFC 9110 §8.4.1.2), as the Collector's confighttp reads it.
  deflate: createInflate,
  br: createBrotliDecompress,
};

/** Content codings this server decodes; "identity" means none. */
export const SUPPORTED_CONTENT_ENCODINGS = ['identity', ...Object.keys(DECODERS)];

function decoderFor(contentEncoding: string | undefined): Transform | null {
  const coding = (contentEncoding ?? '').trim().toLowerCase();
  if (coding === '' || coding === 'identity') return null;
  const create = DECODERS[coding];
  if (!create) {
    throw new HttpRefusal(
      415,
      `unsupported Content-Encoding ${JSON.stringify(coding.slice(0, 40))}: use ${SUPPORTED_CONTENT_ENCODINGS.join(', ')}`,
    );
  }
  return create();
}

function tooLarge(maxBytes: number, what: string): PayloadTooLargeError {
  return new PayloadTooLargeError(`request body is larger than the limit of ${maxBytes} bytes${what}`);
}

/**
 * The request's body, decompressed per Content-Encoding.
 * @throws PayloadTooLargeError over `maxBytes` (on the wire or decompressed), MalformedPayloadError for a corrupt
 * compressed body, HttpRefusal(415) for an unknown coding, RequestAbortedError when the client goes away.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const decoder = decoderFor(req.headers['content-encoding']);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.reject(tooLarge(maxBytes, ''));

  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let wireBytes = 0;
    let bodyBytes = 0;
    let settled = false;

    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      req.off('data', onWire);
      req.pause();
      decoder?.destroy();
      reject(error);
    };
    const keep = (chunk: Buffer): void => {
      if (settled) return;
      bodyBytes += chunk.length;
      if (bodyBytes > maxBytes) return fail(tooLarge(maxBytes, decoder ? ' after decompression' : ''));
      chunks.push(chunk);
    };
    const finish = (): void => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks, bodyBytes));
    };
    function onWire(chunk: Buffer): void {
      wireBytes += chunk.length;
      if (wireBytes > maxBytes) return fail(tooLarge(maxBytes, ''));
      if (!decoder) return keep(chunk);
      // Inflating is asynchronous: stop reading from the socket while the decoder catches up.
      if (!decoder.write(chunk)) {
        req.pause();
        decoder.once('drain', () => settled || req.resume());
      }
    }

    req.on('data', onWire);
    req.once('end', () => (decoder ? decoder.end() : finish()));
    req.once('aborted', () => fail(new RequestAbortedError()));
    req.on('error', () => fail(new RequestAbortedError()));
    req.once('close', () => {
      if (!req.complete) fail(new RequestAbortedError());
    });
    if (decoder) {
      decoder.on('data', keep);
      decoder.once('end', finish);
      decoder.on('error', (error: Error) => {
        const coding = String(req.headers['content-encoding']).trim().toLowerCase();
        fail(new MalformedPayloadError(`request body is not valid ${coding} data: ${error.message}`));
      });
    }
  });
}

/**
 * After an answer was sent before the body was read: take in (and drop) what is still coming, up to `limitBytes`,
 * so the client reads the answer rather than a connection reset; beyond that, cut the connection.
 */
export function discardBody(req: IncomingMessage, limitBytes: number): void {
  if (req.complete) return;
  let seen = 0;
  req.removeAllListeners('data');
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > limitBytes) req.socket.destroy();
  });
  req.resume();
}
