// The OTLP/gRPC ingest listener: the three OTLP Export services, health and reflection — nothing that reads the
// archive (that is the API listener's, src/api/api-server.ts). Served by the hand-written HTTP/2 gRPC server
// (src/receiver/grpc/): Export admission happens at the request headers and the first 5 body bytes, and the wire
// codecs are ours.
import type { Admission } from '../admission/admission.js';
import type { CallerPolicy } from '../admission/caller.js';
import { ShuttingDownError } from '../errors.js';
import { HEALTH_SERVICE, type HealthService } from '../grpc/health.js';
import { OTLP_SERVICE_NAMES } from '../grpc/otlp-services.js';
import { addReflection } from '../grpc/reflection.js';
import { SIGNALS } from '../model.js';
import type { Logger } from '../telemetry/logger.js';
import type { TlsFiles } from '../transport/tls.js';
import { exportRoute } from './grpc/export-route.js';
import { Http2GrpcServer, type GrpcTransportOptions } from './grpc/http2-grpc-server.js';
import { ReadSlots } from './grpc/read-slots.js';
import type { Ingest } from './ingest.js';

export interface GrpcServerOptions {
  host: string;
  port: number;
  /** Transport limits (server.grpc.*), the receive limit among them. */
  limits: GrpcTransportOptions;
  retryAfterMs: number;
  /** Longest an Export waits at its headers for room in the in-flight budget (admission.maxWait). */
  maxWaitMs: number;
}

/** What the ingest listener serves, as reflection lists it. */
export const INGEST_SERVICES: readonly string[] = [...Object.values(OTLP_SERVICE_NAMES), HEALTH_SERVICE];

/**
 * Admitted Export bodies read at once (the others stay paused until a slot frees). In the storm bench cases during
 * development, 4-16 slots gave 2-3x the goodput of reading every admitted body at once on a loaded machine, and
 * 10-50 MiB less peak memory (the result with 16: docs/BENCHMARKS.md, "Storm"). 16 keeps enough bytes moving over a
 * long round trip: each stream sends at most its 64 KiB window per round trip.
 */
const BODIES_READ_AT_ONCE = 16;

export class GrpcServer {
  private readonly server: Http2GrpcServer;

  constructor(
    private readonly options: GrpcServerOptions,
    private readonly deps: {
      ingest: Ingest;
      admission: Admission;
      health: HealthService;
      callers: CallerPolicy;
      /** Null: plaintext. The same files serve OTLP/HTTP. */
      tls: TlsFiles | null;
      logger: Logger;
    },
  ) {
    this.server = new Http2GrpcServer({ name: 'OTLP/gRPC', transport: options.limits, tls: deps.tls, logger: deps.logger });
    const readSlots = new ReadSlots(BODIES_READ_AT_ONCE);
    const routeOptions = { maxReceiveBytes: options.limits.maxReceiveBytes, retryAfterMs: options.retryAfterMs, maxWaitMs: options.maxWaitMs };
    for (const signal of SIGNALS) {
      this.server.addRoute(`/${OTLP_SERVICE_NAMES[signal]}/Export`, exportRoute(signal, { ...deps, readSlots }, routeOptions));
    }
    // Health and reflection stay open to every caller (probes, grpcurl); Export checks the caller.
    deps.health.addTo(this.server);
    addReflection(this.server, INGEST_SERVICES);
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
