// The gRPC listener: OTLP Export services, health, reflection and CaptureService on one port, served by the
// hand-written HTTP/2 gRPC server (src/receiver/grpc/): Export admission happens at the request headers and the
// first 5 body bytes, and the wire codecs are ours.
import type { Admission } from '../admission/admission.js';
import type { CallerPolicy } from '../admission/caller.js';
import { ShuttingDownError } from '../errors.js';
import { SIGNALS } from '../model.js';
import type { QueryService } from '../query/query-service.js';
import type { Logger } from '../telemetry/logger.js';
import { addCaptureService } from './capture-service.js';
import { exportRoute } from './grpc/export-route.js';
import { Http2GrpcServer, type GrpcTransportOptions } from './grpc/http2-grpc-server.js';
import { ReadSlots } from './grpc/read-slots.js';
import type { HealthService } from './health.js';
import type { Ingest } from './ingest.js';
import { OTLP_SERVICE_NAMES } from './otlp-services.js';
import { addReflection } from './reflection.js';
import type { TlsFiles } from './tls.js';

export interface GrpcServerOptions {
  host: string;
  port: number;
  maxReceiveBytes: number;
  retryAfterMs: number;
  /** Longest an Export waits at its headers for room in the in-flight budget (admission.maxWait). */
  maxWaitMs: number;
  transport: GrpcTransportOptions;
}

/**
 * Admitted Export bodies read at once (the others stay paused until a slot frees). Under the storm, 4-16 slots gave
 * 2-3x the goodput of reading every admitted body at once on a loaded machine, and 10-50 MiB less peak memory
 * (docs/BENCHMARKS.md). 16 keeps enough bytes moving over a long round trip: each stream sends at most its 64 KiB
 * window per round trip.
 */
const BODIES_READ_AT_ONCE = 16;

export class GrpcServer {
  private readonly server: Http2GrpcServer;

  constructor(
    private readonly options: GrpcServerOptions,
    private readonly deps: {
      ingest: Ingest;
      admission: Admission;
      query: QueryService;
      health: HealthService;
      callers: CallerPolicy;
      /** Null: plaintext. The same files serve OTLP/HTTP. */
      tls: TlsFiles | null;
      logger: Logger;
    },
  ) {
    this.server = new Http2GrpcServer({
      maxReceiveBytes: options.maxReceiveBytes,
      transport: options.transport,
      tls: deps.tls,
      logger: deps.logger,
    });
    const readSlots = new ReadSlots(BODIES_READ_AT_ONCE);
    for (const signal of SIGNALS) {
      this.server.addRoute(
        `/${OTLP_SERVICE_NAMES[signal]}/Export`,
        exportRoute(signal, { ...deps, readSlots }, { maxReceiveBytes: options.maxReceiveBytes, retryAfterMs: options.retryAfterMs, maxWaitMs: options.maxWaitMs }),
      );
    }
    // Health and reflection stay open to every caller (probes, grpcurl); Export and CaptureService check the caller.
    addCaptureService(this.server, deps.query, deps.callers, deps.logger);
    deps.health.addTo(this.server);
    addReflection(this.server);
  }

  listen(): Promise<number> {
    return this.server.listen(this.options.host, this.options.port);
  }

  get port(): number {
    return this.server.port;
  }

  /** Stops taking calls, lets running calls finish until the deadline, then cuts them. */
  async shutdown(deadlineMs: number): Promise<void> {
    // Requests still waiting for room would only be refused later: refuse them now, so their clients move on.
    this.deps.admission.refuseWaiting(new ShuttingDownError('otlp-capture is shutting down; retry against another instance'));
    await this.server.shutdown(deadlineMs);
  }
}
