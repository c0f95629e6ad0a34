// OTLP/JSON views of captured requests, and OTLP/JSON input turned into the protobuf encoding we store.
import { MalformedPayloadError } from '../errors.js';
import type { Signal } from '../model.js';
import { jsonToMessage } from './json-read.js';
import { messageToJson } from './json-write.js';
import { requestType } from './proto-root.js';
import { scanRequest } from './scanner.js';

/**
 * The OTLP/JSON form of an encoded Export request, as a plain JSON-able object.
 * @throws MalformedPayloadError when `bytes` is not a valid request (the same checks as the wire scanner).
 */
export function toOtlpJson(signal: Signal, bytes: Uint8Array): Record<string, unknown> {
  // The scanner's checks are stricter than protobufjs's (id lengths, framing) and its messages clearer.
  scanRequest(signal, bytes);
  const type = requestType(signal);
  let message;
  try {
    message = type.decode(bytes);
  } catch (error) {
    throw new MalformedPayloadError(`malformed ${type.name}: ${(error as Error).message}`, { cause: error });
  }
  return messageToJson(type, message);
}

/**
 * The protobuf encoding of an Export request given as parsed OTLP/JSON.
 * @throws MalformedPayloadError naming the offending field path when the JSON is not a valid request.
 */
export function fromOtlpJson(signal: Signal, json: unknown): Buffer {
  const type = requestType(signal);
  const message = jsonToMessage(type, json);
  const encoded = type.encode(message).finish();
  return Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
}

/** Like fromOtlpJson, for JSON text (e.g. an OTLP/HTTP request body). */
export function parseOtlpJson(signal: Signal, text: string | Uint8Array): Buffer {
  let json: unknown;
  try {
    json = JSON.parse(typeof text === 'string' ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('utf8'));
  } catch (error) {
    throw new MalformedPayloadError(`invalid OTLP/JSON ${requestType(signal).name}: not JSON (${(error as Error).message})`, { cause: error });
  }
  return fromOtlpJson(signal, json);
}
