// The control-plane listener: otlpcapture.v1.CaptureService (list, get, list-objects, find-trace, replay), health and
// reflection, on its own address (server.api.listen, loopback by default) — apart from the ingest listeners, as the
// Collector keeps its admin extensions apart from its data pipelines.
import * as grpc from '@grpc/grpc-js';
import type { CallerPolicy } from '../admission/caller.js';
import { GrpcListener } from '../grpc/grpc-listener.js';
import { HEALTH_SERVICE, type HealthService } from '../grpc/health.js';
import { addReflection } from '../grpc/reflection.js';
import type { QueryService } from '../query/query-service.js';
import { rpcMetricsInterceptor } from '../telemetry/grpc-metrics.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Http2ListenerLimits } from '../transport/http2-limits.js';
import { grpcServerCredentials, type TlsFiles } from '../transport/tls.js';
import { accessInterceptor } from './access-interceptor.js';
import { addCaptureService, CAPTURE_SERVICE } from './capture-service.js';
import { ReplayTargets } from './replay-targets.js';
import { WorkLimiter } from './work-limiter.js';

export interface ApiServerOptions {
  host: string;
  port: number;
  limits: Http2ListenerLimits;
  /** Largest response: at least the largest request ingest accepts, so GetRequest can return any of them. */
  maxSendBytes: number;
  maxConcurrentReads: number;
  maxConcurrentReplays: number;
  maxFindTraceBytes: number;
  /** replay.allowedTargets */
  allowedTargets: readonly string[];
  retryAfterMs: number;
}

/** What the API listener serves, as reflection lists it. */
export const API_SERVICES: readonly string[] = [CAPTURE_SERVICE, HEALTH_SERVICE];

export class ApiServer {
  private readonly listener: GrpcListener;

  constructor(
    options: ApiServerOptions,
    deps: {
      query: QueryService;
      health: HealthService;
      callers: CallerPolicy;
      /** Null: plaintext. */
      tls: TlsFiles | null;
      logger: Logger;
      metrics: Metrics;
    },
  ) {
    this.listener = new GrpcListener({
      name: 'API',
      host: options.host,
      port: options.port,
      limits: options.limits,
      maxSendBytes: options.maxSendBytes,
      // Metrics first, so refusals by the access check are counted with their status too.
      interceptors: [rpcMetricsInterceptor(deps.metrics), accessInterceptor(deps.callers, deps.logger)],
      credentials: deps.tls ? grpcServerCredentials(deps.tls) : grpc.ServerCredentials.createInsecure(),
      logger: deps.logger,
    });
    const server = this.listener.server;
    addCaptureService(server, {
      query: deps.query,
      callers: deps.callers,
      reads: new WorkLimiter('FindTrace and GetRequest-as-JSON calls', options.maxConcurrentReads, 'server.api.maxConcurrentReads', options.retryAfterMs),
      replays: new WorkLimiter('replays', options.maxConcurrentReplays, 'server.api.maxConcurrentReplays', options.retryAfterMs),
      replayTargets: new ReplayTargets(options.allowedTargets),
      maxFindTraceBytes: options.maxFindTraceBytes,
      logger: deps.logger,
    });
    deps.health.addTo(server);
    addReflection(server, API_SERVICES);
  }

  listen(): Promise<number> {
    return this.listener.listen();
  }

  get port(): number {
    return this.listener.port;
  }

  /** Stops taking calls, lets running calls (replays) finish until the deadline, then cuts them. */
  shutdown(deadlineMs: number): Promise<void> {
    return this.listener.shutdown(deadlineMs);
  }
}
