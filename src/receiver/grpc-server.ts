// The gRPC listener: OTLP Export services, health, reflection and CaptureService on one port.
import * as grpc from '@grpc/grpc-js';
import type { CallerPolicy } from '../admission/caller.js';
import { formatListen } from '../config/units.js';
import { ConfigError } from '../errors.js';
import type { QueryService } from '../query/query-service.js';
import type { Logger } from '../telemetry/logger.js';
import { addCaptureService } from '../api/capture-service.js';
import type { HealthService } from '../grpc/health.js';
import type { Ingest } from './ingest.js';
import { addOtlpServices, type OtlpGrpcOptions } from './otlp-grpc.js';
import { admissionInterceptor } from './grpc-admission.js';
import { addReflection } from '../grpc/reflection.js';
import { grpcServerCredentials, type TlsFiles } from '../transport/tls.js';

export interface GrpcServerOptions extends OtlpGrpcOptions {
  host: string;
  port: number;
  maxReceiveBytes: number;
}

export class GrpcServer {
  private readonly server: grpc.Server;
  private readonly credentials: grpc.ServerCredentials;
  private boundPort = 0;

  constructor(
    private readonly options: GrpcServerOptions,
    deps: {
      ingest: Ingest;
      query: QueryService;
      health: HealthService;
      callers: CallerPolicy;
      /** Null: plaintext. The same files serve OTLP/HTTP. */
      tls: TlsFiles | null;
      logger: Logger;
    },
  ) {
    this.server = new grpc.Server({
      // Decompressed size is checked against this too, which is what stops gzip bombs.
      'grpc.max_receive_message_length': options.maxReceiveBytes,
      'grpc.max_send_message_length': Math.max(options.maxReceiveBytes, 64 * 2 ** 20),
      interceptors: [admissionInterceptor(deps.ingest, options.retryAfterMs, deps.logger)],
    });
    this.credentials = deps.tls ? grpcServerCredentials(deps.tls) : grpc.ServerCredentials.createInsecure();
    // Health and reflection stay open to every caller (probes, grpcurl); Export and CaptureService check the caller.
    addOtlpServices(this.server, deps.ingest, deps.callers, options, deps.logger);
    addCaptureService(this.server, deps.query, deps.callers, deps.logger);
    deps.health.addTo(this.server);
    addReflection(this.server);
  }

  async listen(): Promise<number> {
    const address = formatListen(this.options.host, this.options.port);
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(address, this.credentials, (error, port) => {
        if (error) reject(new ConfigError(`cannot listen for OTLP/gRPC on ${address}: ${error.message}`));
        else resolve(port);
      });
    });
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Stops taking calls, lets running calls finish until the deadline, then cuts them. */
  async shutdown(deadlineMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, Math.max(0, deadlineMs - Date.now()));
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
