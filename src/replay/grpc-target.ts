// Where a replay sends to: an OTLP/gRPC endpoint, called with an identity serializer so the archived (or
// time-shifted) bytes go out exactly as they are — no decode, no re-encode.
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { InvalidArgumentError } from '../errors.js';
import type { Signal } from '../model.js';
import { OTLP_SERVICE_NAMES } from '../grpc/otlp-services.js';
import { decodeRetryDelayMs } from '../grpc/rpc-status.js';
import { metadataValue, type ReplayCompression } from './replay-options.js';

export type ExportOutcome =
  | {
      ok: true;
      /** Items the target reported as rejected in partial_success (they must not be retried). */
      rejectedItems: number;
      rejectedMessage: string;
    }
  | { ok: false; code: grpc.status; details: string; retryDelayMs: number | null };

/** Anything a replay can export to. */
export interface ReplayTarget {
  /**
   * Resolves once the target is connected, or after `timeoutMs` (never rejects: a target that is down answers the
   * first Export with UNAVAILABLE, which the retry policy handles).
   */
  ready?(timeoutMs: number): Promise<void>;
  export(signal: Signal, payload: Buffer, abort?: AbortSignal): Promise<ExportOutcome>;
  close(): void;
  describe(): string;
}

export interface GrpcTargetOptions {
  /** HOST:PORT */
  address: string;
  /** Plaintext when false. */
  tls: boolean;
  /** PEM files: CA to verify the target with (default: the system's roots), client certificate and key (mTLS). */
  caFile?: string;
  /** PEM CA certificates given inline (the API); wins over caFile. */
  caPem?: Buffer;
  certFile?: string;
  keyFile?: string;
  /** Sent as gRPC metadata with every Export (e.g. authorization, a tenant header). */
  headers?: Record<string, string>;
  /** Per-call deadline. Default 60 s. */
  timeoutMs?: number;
  /** Largest answer taken from the target (an Export response is a few bytes). Default 1 MiB. */
  maxResponseBytes?: number;
  /** gzip every Export (grpc-encoding: gzip); default none. */
  compression?: ReplayCompression;
}

const identity = (value: Buffer): Buffer => value;
const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_RESPONSE_BYTES = 2 ** 20;

export class GrpcTarget implements ReplayTarget {
  private readonly client: grpc.Client;
  private readonly metadata: grpc.Metadata;
  private readonly timeoutMs: number;

  constructor(private readonly options: GrpcTargetOptions) {
    this.client = new grpc.Client(options.address, credentialsFor(options), {
      // Archived requests may be larger than grpc-js' 4 MiB default; the target decides what it accepts.
      'grpc.max_send_message_length': -1,
      // What comes back is bounded: a target is not trusted to answer with a few bytes.
      'grpc.max_receive_message_length': options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
      // grpc-js falls back to identity by itself when the target's grpc-accept-encoding leaves gzip out.
      ...(options.compression === 'gzip' ? { 'grpc.default_compression_algorithm': grpc.compressionAlgorithms.gzip } : {}),
    });
    this.metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(options.headers ?? {})) {
      try {
        this.metadata.add(key, metadataValue(key, value));
      } catch (error) {
        this.client.close();
        if (error instanceof InvalidArgumentError) throw error;
        throw new InvalidArgumentError(`header ${JSON.stringify(key)}: ${(error as Error).message}`, { cause: error });
      }
    }
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  describe(): string {
    return `${this.options.tls ? 'https' : 'http'}://${this.options.address}${this.options.compression === 'gzip' ? ' (gzip)' : ''}`;
  }

  ready(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => this.client.waitForReady(Date.now() + timeoutMs, () => resolve()));
  }

  export(signal: Signal, payload: Buffer, abort?: AbortSignal): Promise<ExportOutcome> {
    return new Promise((resolve) => {
      const call = this.client.makeUnaryRequest(
        `/${OTLP_SERVICE_NAMES[signal]}/Export`,
        identity,
        identity,
        payload,
        this.metadata.clone(),
        { deadline: Date.now() + this.timeoutMs },
        (error: grpc.ServiceError | null, response?: Buffer) => {
          abort?.removeEventListener('abort', cancel);
          if (error) {
            resolve({ ok: false, code: error.code, details: error.details, retryDelayMs: decodeRetryDelayMs(error.metadata) });
            return;
          }
          resolve({ ok: true, ...partialSuccess(response) });
        },
      );
      function cancel(): void {
        call.cancel();
      }
      abort?.addEventListener('abort', cancel, { once: true });
    });
  }

  close(): void {
    this.client.close();
  }
}

function credentialsFor(options: GrpcTargetOptions): grpc.ChannelCredentials {
  const files = [options.caFile, options.caPem, options.certFile, options.keyFile];
  if (!options.tls) {
    if (files.some((file) => file !== undefined)) throw new InvalidArgumentError('--ca, --cert and --key need --tls');
    return grpc.credentials.createInsecure();
  }
  if ((options.certFile === undefined) !== (options.keyFile === undefined)) {
    throw new InvalidArgumentError('--cert and --key go together (client certificate and its key)');
  }
  const read = (file: string | undefined, what: string): Buffer | null => {
    if (file === undefined) return null;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new InvalidArgumentError(`cannot read the ${what} ${file}: ${(error as Error).message}`, { cause: error });
    }
  };
  return grpc.credentials.createSsl(options.caPem ?? read(options.caFile, 'CA file'), read(options.keyFile, 'key file'), read(options.certFile, 'certificate file'));
}

/**
 * partial_success of an Export*ServiceResponse (field 1): rejected count (field 1, int64) and error_message
 * (field 2). The three signals' responses share this shape. An unreadable response counts as full success: the
 * target accepted the call.
 */
export function partialSuccess(response: Buffer | undefined): { rejectedItems: number; rejectedMessage: string } {
  const none = { rejectedItems: 0, rejectedMessage: '' };
  if (!response || response.length === 0) return none;
  try {
    let rejectedItems = 0;
    let rejectedMessage = '';
    const reader = protobuf.Reader.create(response);
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag !== ((1 << 3) | 2)) {
        reader.skipType(tag & 7);
        continue;
      }
      const inner = protobuf.Reader.create(reader.bytes());
      while (inner.pos < inner.len) {
        const innerTag = inner.uint32();
        if (innerTag === ((1 << 3) | 0)) rejectedItems = protobuf.util.LongBits.from(inner.int64()).toNumber();
        else if (innerTag === ((2 << 3) | 2)) rejectedMessage = inner.string();
        else inner.skipType(innerTag & 7);
      }
    }
    return { rejectedItems, rejectedMessage };
  } catch {
    return none;
  }
}
