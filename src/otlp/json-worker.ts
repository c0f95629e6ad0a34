// The worker-thread side of src/otlp/json-workers.ts: converts OTLP/JSON request bodies with the same parseOtlpJson
// the event loop would otherwise run ('parse'), or captured protobuf requests to their OTLP/JSON text with the same
// toOtlpJson the read paths would otherwise run ('view'), and answers with the bytes (moved, not copied) or the
// error's kind and text, which the main thread turns back into its typed error. It runs only compiled
// (dist/otlp/json-worker.js).
import { parentPort } from 'node:worker_threads';
import { MalformedPayloadError } from '../errors.js';
import type { Signal } from '../model.js';
import { parseOtlpJson, toOtlpJson } from './json.js';
import { detachedCopy } from '../util/worker-slots.js';

/** 'parse': OTLP/JSON body → protobuf. 'view': protobuf request → OTLP/JSON text (UTF-8). */
export type JsonJobKind = 'parse' | 'view';

export interface JsonJob {
  id: number;
  kind: JsonJobKind;
  signal: Signal;
  /** The request body (OTLP/JSON for 'parse', protobuf for 'view'), exactly its bytes, moved here by the main thread. */
  body: ArrayBuffer;
}

export type JsonReply =
  | { id: number; output: ArrayBuffer }
  /** 'malformed': a MalformedPayloadError (the caller's fault); 'failed': anything else. */
  | { id: number; error: { kind: 'malformed' | 'failed'; message: string } };

/** An ArrayBuffer holding exactly `bytes` that may be transferred: protobufjs may hand back a view of a pooled one. */
function ownBuffer(bytes: Buffer): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes.buffer;
  return detachedCopy(bytes);
}

const port = parentPort;
if (port === null) throw new Error('json-worker.js runs only as a worker thread (see src/otlp/json-workers.ts)');

port.on('message', (job: JsonJob) => {
  let output: ArrayBuffer;
  try {
    const body = new Uint8Array(job.body);
    output = ownBuffer(job.kind === 'view' ? Buffer.from(JSON.stringify(toOtlpJson(job.signal, body))) : parseOtlpJson(job.signal, body));
  } catch (error) {
    const kind = error instanceof MalformedPayloadError ? 'malformed' : 'failed';
    port.postMessage({ id: job.id, error: { kind, message: error instanceof Error ? error.message : String(error) } } satisfies JsonReply);
    return;
  }
  port.postMessage({ id: job.id, output } satisfies JsonReply, [output]);
});
