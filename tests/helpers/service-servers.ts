// The two gRPC servers a service implementation (health, reflection) can run on: grpc-js, and the
// hand-written HTTP/2 server of the OTLP listener. Tests of those services run against both.
import * as grpc from '@grpc/grpc-js';
import { Http2GrpcServer, type GrpcTransportOptions } from '../../src/receiver/grpc/http2-grpc-server.js';
import { createLogger } from '../../src/telemetry/logger.js';

export type ServiceServerKind = 'grpc-js' | 'otlp-capture http2';
export const SERVICE_SERVER_KINDS: ServiceServerKind[] = ['grpc-js', 'otlp-capture http2'];

export interface RunningServiceServer {
  address: string;
  stop(): Promise<void>;
}

type Registrar = (server: Pick<grpc.Server, 'addService'>) => void;

export const DEFAULT_TRANSPORT: GrpcTransportOptions = {
  maxReceiveBytes: 4 * 2 ** 20,
  maxConcurrentStreams: 100,
  maxConnections: 4096,
  initialWindowSize: 65_535,
  keepaliveTimeMs: 0,
  keepaliveTimeoutMs: 20_000,
  minPingIntervalMs: 5_000,
  permitPingsWithoutCalls: true,
  maxConnectionIdleMs: 0,
  maxConnectionAgeMs: 0,
  maxConnectionAgeGraceMs: 0,
};

export async function startServiceServer(kind: ServiceServerKind, register: Registrar): Promise<RunningServiceServer> {
  if (kind === 'grpc-js') {
    const server = new grpc.Server();
    register(server);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    return { address: `127.0.0.1:${port}`, stop: async () => server.forceShutdown() };
  }
  const server = new Http2GrpcServer({
    name: 'test',
    transport: DEFAULT_TRANSPORT,
    tls: null,
    logger: createLogger('silent'),
  });
  register(server);
  const port = await server.listen('127.0.0.1', 0);
  return { address: `127.0.0.1:${port}`, stop: () => server.shutdown(Date.now()) };
}
