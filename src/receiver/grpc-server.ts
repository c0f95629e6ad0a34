// The OTLP/gRPC ingest listener: the three OTLP Export services, health and reflection — nothing that reads the
// archive (that is the API listener's, src/api/api-server.ts).
import * as grpc from '@grpc/grpc-js';
import type { CallerPolicy } from '../admission/caller.js';
import { GrpcListener } from '../grpc/grpc-listener.js';
import { HEALTH_SERVICE, type HealthService } from '../grpc/health.js';
import { OTLP_SERVICE_NAMES } from '../grpc/otlp-services.js';
import { addReflection } from '../grpc/reflection.js';
import type { Http2ListenerLimits } from '../transport/http2-limits.js';
import { grpcServerCredentials, type TlsFiles } from '../transport/tls.js';
import type { Logger } from '../telemetry/logger.js';
import type { Ingest } from './ingest.js';
import { addOtlpServices, type OtlpGrpcOptions } from './otlp-grpc.js';
import { admissionInterceptor } from './grpc-admission.js';

export interface GrpcServerOptions extends OtlpGrpcOptions {
  host: string;
  port: number;
  limits: Http2ListenerLimits;
}

/** What the ingest listener serves, as reflection lists it. */
export const INGEST_SERVICES: readonly string[] = [...Object.values(OTLP_SERVICE_NAMES), HEALTH_SERVICE];

export class GrpcServer {
  private readonly listener: GrpcListener;

  constructor(
    options: GrpcServerOptions,
    deps: {
      ingest: Ingest;
      health: HealthService;
      callers: CallerPolicy;
      /** Null: plaintext. The same files serve OTLP/HTTP. */
      tls: TlsFiles | null;
      logger: Logger;
    },
  ) {
    this.listener = new GrpcListener({
      name: 'OTLP/gRPC',
      host: options.host,
      port: options.port,
      limits: options.limits,
      // Export responses are empty (or a partial_success message).
      maxSendBytes: 4 * 2 ** 20,
      // Access (token, scope, tenant) and admission are decided at the headers, before a body is read.
      interceptors: [admissionInterceptor(deps.ingest, deps.callers, options.retryAfterMs, deps.logger)],
      credentials: deps.tls ? grpcServerCredentials(deps.tls) : grpc.ServerCredentials.createInsecure(),
      logger: deps.logger,
    });
    const server = this.listener.server;
    // Health and reflection stay open to every caller (probes, grpcurl); Export checks the caller.
    addOtlpServices(server, deps.ingest, options, deps.logger);
    deps.health.addTo(server);
    addReflection(server, INGEST_SERVICES);
  }

  listen(): Promise<number> {
    return this.listener.listen();
  }

  get port(): number {
    return this.listener.port;
  }

  /** Stops taking calls, lets running calls finish until the deadline, then cuts them. */
  shutdown(deadlineMs: number): Promise<void> {
    return this.listener.shutdown(deadlineMs);
  }
}
