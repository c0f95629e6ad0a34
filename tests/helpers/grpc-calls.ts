// One-off gRPC calls with any channel credentials and metadata, for tests of who may call what: an OTLP Export with
// raw bytes, and unary and server-streaming calls to Health and CaptureService (keepCase field names, enums as strings).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Signal } from '../../src/model.js';
import { PROTO_DIR } from '../../src/protos.js';
import { OTLP_SERVICE_NAMES } from '../../src/grpc/otlp-services.js';

export type Outcome = { ok: true } | { ok: false; code: grpc.status; details: string };

const identity = (value: Buffer): Buffer => value;

function metadataOf(headers: Record<string, string>): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  return metadata;
}

export function grpcExport(
  address: string,
  credentials: grpc.ChannelCredentials,
  payload: Buffer,
  headers: Record<string, string> = {},
  signal: Signal = 'traces',
): Promise<Outcome> {
  const client = new grpc.Client(address, credentials);
  return new Promise((resolve) => {
    client.makeUnaryRequest(`/${OTLP_SERVICE_NAMES[signal]}/Export`, identity, identity, payload, metadataOf(headers), { deadline: Date.now() + 10_000 }, (error) => {
      client.close();
      resolve(error ? { ok: false, code: error.code, details: error.details } : { ok: true });
    });
  });
}

const FILES: Record<string, string> = {
  'grpc.health.v1.Health': 'grpc/health/v1/health.proto',
  'otlpcapture.v1.CaptureService': 'otlpcapture/v1/capture.proto',
};

type Method = (request: object, metadata: grpc.Metadata, callback: (error: grpc.ServiceError | null, response: unknown) => void) => void;

export function unary<T = unknown>(
  address: string,
  credentials: grpc.ChannelCredentials,
  service: keyof typeof FILES,
  method: string,
  request: object,
  headers: Record<string, string> = {},
): Promise<{ error: grpc.ServiceError | null; response: T }> {
  const definition = protoLoader.loadSync(FILES[service]!, { includeDirs: [PROTO_DIR], longs: String, enums: String, defaults: true, keepCase: true });
  const Client = grpc.makeGenericClientConstructor(definition[service] as grpc.ServiceDefinition, service);
  const client = new Client(address, credentials) as unknown as grpc.Client & Record<string, Method>;
  return new Promise((resolve) => {
    client[method]!.call(client, request, metadataOf(headers), (error, response) => {
      client.close();
      resolve({ error, response: response as T });
    });
  });
}

/** A server-streaming call (CaptureService.Replay): every message, then the final status (null when OK). */
export function serverStream<T = unknown>(
  address: string,
  credentials: grpc.ChannelCredentials,
  service: keyof typeof FILES,
  method: string,
  request: object,
  headers: Record<string, string> = {},
): Promise<{ error: grpc.ServiceError | null; messages: T[] }> {
  const definition = protoLoader.loadSync(FILES[service]!, { includeDirs: [PROTO_DIR], longs: String, enums: String, defaults: true, keepCase: true });
  const Client = grpc.makeGenericClientConstructor(definition[service] as grpc.ServiceDefinition, service);
  const client = new Client(address, credentials) as unknown as grpc.Client & Record<string, (request: object, metadata: grpc.Metadata) => grpc.ClientReadableStream<T>>;
  return new Promise((resolve) => {
    const messages: T[] = [];
    const call = client[method]!.call(client, request, metadataOf(headers));
    call.on('data', (message: T) => messages.push(message));
    call.on('error', (error: grpc.ServiceError) => {
      client.close();
      resolve({ error, messages });
    });
    call.on('end', () => {
      client.close();
      resolve({ error: null, messages });
    });
  });
}
