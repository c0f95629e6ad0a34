// OTLP/JSON views of captured requests, and OTLP/JSON input turned into the protobuf encoding we store.
import { MalformedPayloadError } from '../errors.js';
import type { Signal } from '../model.js';
import { jsonToMessage, MAX_DEPTH } from './json-read.js';
import { maxJsonDepth, readJsonText } from './json-text.js';
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

/**
 * Like fromOtlpJson, for JSON text (e.g. an OTLP/HTTP request body): UTF-8, nesting bounded before parsing, 64-bit
 * integers written as JSON numbers kept exact (src/otlp/json-text.ts).
 */
export function parseOtlpJson(signal: Signal, text: string | Uint8Array): Buffer {
  const type = requestType(signal);
  const bytes = typeof text === 'string' ? Buffer.from(text) : Buffer.from(text.buffer, text.byteOffset, text.byteLength);
  const fail = (what: string): never => {
    throw new MalformedPayloadError(`invalid OTLP/JSON ${type.name}: ${what}`);
  };
  const { value, numberMarker } = readJsonText(bytes, maxJsonDepth(MAX_DEPTH), fail);
  const encoded = type.encode(jsonToMessage(type, value, numberMarker)).finish();
  return Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
}
