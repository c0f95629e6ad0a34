// A grpc-js OTLP client that sends pre-encoded request bytes and reports the exact outcome (status, RetryInfo),
// which the OpenTelemetry exporters hide. Compression per client: none, deflate or gzip.
import * as grpc from '@grpc/grpc-js';
import type { Signal } from '../../src/model.js';
import { OTLP_SERVICE_NAMES } from '../../src/grpc/otlp-services.js';
import { decodeRetryDelayMs } from '../../src/grpc/rpc-status.js';

export type ExportOutcome =
  | { ok: true }
  | { ok: false; code: grpc.status; details: string; retryDelayMs: number | null };

const COMPRESSION = { none: 0, deflate: 1, gzip: 2 } as const;
const identity = (value: Buffer): Buffer => value;

export class RawOtlpClient {
  private readonly client: grpc.Client;

  /** `ownConnection`: a connection of its own, not shared with other clients of the same address and options. */
  constructor(address: string, options: { compression?: keyof typeof COMPRESSION; maxSendBytes?: number; ownConnection?: boolean } = {}) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), {
      'grpc.default_compression_algorithm': COMPRESSION[options.compression ?? 'none'],
      'grpc.max_send_message_length': options.maxSendBytes ?? -1,
      ...(options.ownConnection ? { 'grpc.use_local_subchannel_pool': 1 } : {}),
    });
  }

  export(signal: Signal, payload: Uint8Array, headers: Record<string, string> = {}, timeoutMs = 30_000): Promise<ExportOutcome> {
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
    return new Promise((resolve) => {
      this.client.makeUnaryRequest(
        `/${OTLP_SERVICE_NAMES[signal]}/Export`,
        identity,
        identity,
        Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
        metadata,
        { deadline: Date.now() + timeoutMs },
        (error: grpc.ServiceError | null) => {
          if (!error) return resolve({ ok: true });
          resolve({ ok: false, code: error.code, details: error.details, retryDelayMs: decodeRetryDelayMs(error.metadata) });
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}
