// A small OTLP/gRPC server of the test's own, as a replay target: records every Export it receives (bytes and
// arrival time) and answers what the test says — success, or an error with or without RetryInfo.
import * as grpc from '@grpc/grpc-js';
import type { Signal } from '../../src/model.js';
import { SIGNALS } from '../../src/model.js';
import { otlpServiceDefinition } from '../../src/grpc/otlp-services.js';
import { retryableError } from '../../src/grpc/rpc-status.js';

export interface Arrival {
  signal: Signal;
  bytes: Buffer;
  /** performance.now() at arrival. */
  atMs: number;
  metadata: Record<string, string>;
}

/** What to answer one attempt: ok, or a status (with RetryInfo when retryAfterMs is set). */
export type Answer = { ok: true; response?: Buffer } | { ok: false; code: grpc.status; details?: string; retryAfterMs?: number };

export interface RecordingTarget {
  address: string;
  /** Every attempt, answered however. */
  attempts: Arrival[];
  /** Attempts answered with success. */
  accepted: Arrival[];
  close(): Promise<void>;
}

export async function startRecordingTarget(answer: (arrival: Arrival, attempt: number) => Answer = () => ({ ok: true })): Promise<RecordingTarget> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': -1 });
  const attempts: Arrival[] = [];
  const accepted: Arrival[] = [];
  for (const signal of SIGNALS) {
    server.addService(otlpServiceDefinition(signal), {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        const metadata: Record<string, string> = {};
        for (const [key, value] of Object.entries(call.metadata.getMap())) metadata[key] = String(value);
        const arrival: Arrival = { signal, bytes: call.request, atMs: performance.now(), metadata };
        attempts.push(arrival);
        const reply = answer(arrival, attempts.length);
        if (reply.ok) {
          accepted.push(arrival);
          callback(null, reply.response ?? Buffer.alloc(0));
          return;
        }
        const details = reply.details ?? grpc.status[reply.code] ?? 'refused';
        callback((reply.retryAfterMs === undefined ? { code: reply.code, details } : retryableError(reply.code, details, reply.retryAfterMs)) as grpc.ServerErrorResponse);
      },
    });
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return {
    address: `127.0.0.1:${port}`,
    attempts,
    accepted,
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
}
