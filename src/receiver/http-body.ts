// Reads an HTTP request body into memory without ever holding more than the limit: the wire bytes and, for
// compressed bodies, the decompressed bytes are counted as they stream, so neither a huge body nor a
// decompression bomb gets further than `maxBytes` (plus one chunk).
import type { IncomingMessage } from 'node:http';
import { createBodyDecoder, type BodyDecoder } from '../compression/body-decoder.js';
import { parseWireEncoding, WIRE_ENCODING_NAMES, type WireEncoding } from '../compression/wire-encoding.js';
import { isKeepableEncoding } from '../compression/wire-block.js';
import type { WireBody } from '../model.js';
import { PayloadTooLargeError } from '../errors.js';
import { HttpRefusal } from './http-errors.js';

/** The client went away before sending its whole body: there is nobody to answer. */
export class RequestAbortedError extends Error {
  constructor() {
    super('the client closed the connection before sending the whole request body');
    this.name = 'RequestAbortedError';
  }
}

/** Content codings this server decodes (src/compression); "identity" means none. */
export const SUPPORTED_CONTENT_ENCODINGS = WIRE_ENCODING_NAMES;

function decoderFor(encoding: WireEncoding | null, contentEncoding: string | undefined, maxBytes: number): BodyDecoder | null {
  if (encoding === 'identity') return null;
  if (encoding === null) {
    const coding = (contentEncoding ?? '').trim().toLowerCase();
    throw new HttpRefusal(
      415,
      `unsupported Content-Encoding ${JSON.stringify(coding.slice(0, 40))}: use ${SUPPORTED_CONTENT_ENCODINGS.join(', ')}`,
    );
  }
  return createBodyDecoder(encoding, maxBytes);
}

function tooLarge(maxBytes: number, what: string): PayloadTooLargeError {
  return new PayloadTooLargeError(`request body is larger than the limit of ${maxBytes} bytes${what}`);
}

/**
 * The request's body, decompressed per Content-Encoding; with `keepWire`, also the body as it arrived when it was
 * gzip- or zstd-coded (for the archiver, which may store it as the request's block: src/compression/wire-block.ts).
 * The wire bytes are bounded by the same limit.
 * @throws PayloadTooLargeError over `maxBytes` (on the wire or decompressed), MalformedPayloadError for a corrupt
 * compressed body, HttpRefusal(415) for an unknown coding, RequestAbortedError when the client goes away.
 */
export function readBody(req: IncomingMessage, maxBytes: number, keepWire = false): Promise<{ body: Buffer; wire?: WireBody }> {
  const coding = parseWireEncoding(req.headers['content-encoding']);
  const decoder = decoderFor(coding, req.headers['content-encoding'], maxBytes);
  const wireChunks: Buffer[] | null = keepWire && coding !== null && isKeepableEncoding(coding) ? [] : null;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.reject(tooLarge(maxBytes, ''));

  return new Promise<{ body: Buffer; wire?: WireBody }>((resolve, reject) => {
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
      if (bodyBytes > maxBytes) return fail(tooLarge(maxBytes, ''));
      chunks.push(chunk);
    };
    // Decoding may be asynchronous (zlib runs on the threadpool): one piece at a time, the socket paused meanwhile.
    let decoding: Promise<void> = Promise.resolve();
    const finish = (): void => {
      if (settled) return;
      settled = true;
      resolve({ body: Buffer.concat(chunks, bodyBytes) });
    };
    function onWire(chunk: Buffer): void {
      wireBytes += chunk.length;
      if (wireBytes > maxBytes) return fail(tooLarge(maxBytes, ''));
      if (!decoder) return keep(chunk);
      wireChunks?.push(chunk);
      req.pause();
      decoding = decoding
        .then(() => decoder.write(chunk))
        .then(() => {
          if (!settled) req.resume();
        });
      decoding.catch(fail);
    }
    function finishDecoding(decoder: BodyDecoder): void {
      decoding
        .then(() => decoder.end())
        .then((body) => {
          if (settled) return;
          settled = true;
          resolve(wireChunks === null || coding === null ? { body } : { body, wire: { encoding: coding, bytes: Buffer.concat(wireChunks, wireBytes) } });
        }, fail);
    }

    req.on('data', onWire);
    req.once('end', () => (decoder ? finishDecoding(decoder) : finish()));
    req.once('aborted', () => fail(new RequestAbortedError()));
    req.on('error', () => fail(new RequestAbortedError()));
    req.once('close', () => {
      if (!req.complete) fail(new RequestAbortedError());
    });
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
