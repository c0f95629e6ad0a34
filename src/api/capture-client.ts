// A client of otlpcapture.v1.CaptureService on another instance (the CLI's `--server`): the read token as a bearer
// token, plaintext on loopback by default or TLS verified against the system roots or a given CA.
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { BackendUnavailableError, InvalidArgumentError, NotFoundError, PermissionDeniedError, UnauthenticatedError } from '../errors.js';
import { isSignal, type ArchivedRequest, type Codec, type Signal } from '../model.js';
import { captureServiceDefinition } from './capture-service.js';

export interface CaptureClientOptions {
  /** HOST:PORT of the instance's API listener (server.api.listen). */
  address: string;
  /** Sent as `authorization: Bearer …` (a token with the read scope). */
  token?: string;
  tls?: boolean;
  /** PEM CA to verify the server with (implies TLS). */
  caFile?: string;
  /** Per unary call. Default 30 s. */
  timeoutMs?: number;
}

interface Timestamp {
  seconds?: string;
  nanos?: number;
}

/** CapturedRequest as proto-loader decodes it (longs as strings, enums as names). */
export interface CapturedRequestMessage {
  id: string;
  signal: string;
  tenant: string;
  receivedAt?: Timestamp | null;
  items: string;
  services: string[];
  startTime?: Timestamp | null;
  endTime?: Timestamp | null;
  bytes: string;
  objectKey: string;
  offset: string;
  length: string;
  codec: string;
  tier?: string;
  fingerprint?: string;
}

const Client = grpc.makeGenericClientConstructor(captureServiceDefinition(), 'CaptureService');

export class CaptureClient {
  private readonly client: grpc.Client;
  private readonly timeoutMs: number;

  constructor(readonly options: CaptureClientOptions) {
    if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/.test(options.address)) {
      throw new InvalidArgumentError(`--server must be HOST:PORT (the API listener, e.g. 127.0.0.1:4319), not ${JSON.stringify(options.address.slice(0, 80))}`);
    }
    const tls = options.tls === true || options.caFile !== undefined;
    const credentials = tls
      ? grpc.credentials.createSsl(options.caFile === undefined ? null : readFileSync(options.caFile))
      : grpc.credentials.createInsecure();
    this.client = new Client(options.address, credentials, {
      'grpc.max_receive_message_length': -1,
    });
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    if (this.options.token) metadata.set('authorization', `Bearer ${this.options.token}`);
    return metadata;
  }

  unary<T>(method: string, request: Record<string, unknown>): Promise<T> {
    return new Promise((resolve, reject) => {
      const call = (this.client as unknown as Record<string, Function>)[method]!.bind(this.client);
      call(request, this.metadata(), { deadline: Date.now() + this.timeoutMs }, (error: grpc.ServiceError | null, response: T) => {
        if (error) reject(this.describe(error));
        else resolve(response);
      });
    });
  }

  /** A server-streaming call; the caller cancels it. */
  stream(method: string, request: Record<string, unknown>): grpc.ClientReadableStream<unknown> {
    const call = (this.client as unknown as Record<string, Function>)[method]!.bind(this.client);
    return call(request, this.metadata()) as grpc.ClientReadableStream<unknown>;
  }

  /** The call's error as this project's typed error, naming the server. */
  describe(error: grpc.ServiceError): Error {
    const message = `server ${this.options.address}: ${error.details || error.message}`;
    switch (error.code) {
      case grpc.status.NOT_FOUND:
        return new NotFoundError(message, { cause: error });
      case grpc.status.INVALID_ARGUMENT:
        return new InvalidArgumentError(message, { cause: error });
      case grpc.status.UNAUTHENTICATED:
        return new UnauthenticatedError(`${message} (give a read token: --token or OTLP_CAPTURE_READ_TOKEN)`, { cause: error });
      case grpc.status.PERMISSION_DENIED:
        return new PermissionDeniedError(message, { cause: error });
      default:
        return new BackendUnavailableError(message, { cause: error });
    }
  }

  close(): void {
    this.client.close();
  }
}

export function fromCapturedRequest(message: CapturedRequestMessage): ArchivedRequest {
  const signal = message.signal.replace(/^SIGNAL_/, '').toLowerCase();
  return {
    id: message.id,
    tenant: message.tenant,
    signal: (isSignal(signal) ? signal : 'traces') as Signal,
    receivedAtMs: Number(nanosOf(message.receivedAt) / 1_000_000n),
    items: Number(message.items),
    services: message.services ?? [],
    startNs: nanosOf(message.startTime),
    endNs: nanosOf(message.endTime),
    rawBytes: Number(message.bytes),
    objectKey: message.objectKey,
    offset: Number(message.offset),
    length: Number(message.length),
    codec: message.codec as Codec,
    crc32: 0,
    tier: message.tier === 'TIER_HOT' ? 'hot' : 'archive',
    ...(message.fingerprint ? { fingerprint: message.fingerprint } : {}),
  };
}

function nanosOf(timestamp: Timestamp | null | undefined): bigint {
  if (!timestamp) return 0n;
  return BigInt(timestamp.seconds ?? 0) * 1_000_000_000n + BigInt(timestamp.nanos ?? 0);
}
