// The control-plane listener: otlpcapture.v1.CaptureService (list, get, list-objects, find-trace, replay), health and
// reflection, on its own address (server.api.listen, loopback by default) — apart from the ingest listeners, as the
// Collector keeps its admin extensions apart from its data pipelines.
import * as grpc from '@grpc/grpc-js';
import type { CallerPolicy } from '../admission/caller.js';
import { GrpcListener } from '../grpc/grpc-listener.js';
import { HEALTH_SERVICE, type HealthService } from '../grpc/health.js';
import { addReflection } from '../grpc/reflection.js';
import { QueryService } from '../query/query-service.js';
import type { IndexStore } from '../index/index-store.js';
import type { TailObserver } from '../query/hot-tier-metrics.js';
import type { SpoolHotTier } from '../query/spool-hot-tier.js';
import { TieredIndex, isTieredIndex } from '../query/tiered-index.js';
import { PendingIndexTier } from '../query/pending-index-tier.js';
import type { BlobStore } from '../storage/blob-store.js';
import { DEFAULT_TAIL_BUFFER } from './tail-stream.js';
import { rpcMetricsInterceptor } from '../telemetry/grpc-metrics.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Http2ListenerLimits } from '../transport/http2-limits.js';
import { grpcServerCredentials, type TlsFiles } from '../transport/tls.js';
import { accessInterceptor } from './access-interceptor.js';
import { boundedStatusInterceptor } from './bounded-status.js';
import { addCaptureService, CAPTURE_SERVICE } from './capture-service.js';
import { ReplayTargets } from './replay-targets.js';
import { WorkLimiter } from './work-limiter.js';

export interface ApiServerOptions {
  host: string;
  port: number;
  limits: Http2ListenerLimits;
  /**
   * The largest request ingest accepts (at least), so GetRequest can return any of them; responses may be larger by
   * RESPONSE_ENVELOPE_BYTES.
   */
  maxSendBytes: number;
  maxConcurrentReads: number;
  maxConcurrentReplays: number;
  maxFindTraceBytes: number;
  /** The largest request (protobuf bytes) GetRequest converts to OTLP/JSON; DEFAULT_MAX_JSON_VIEW_BYTES when unset. */
  maxJsonViewBytes?: number;
  /** replay.allowedTargets */
  allowedTargets: readonly string[];
  retryAfterMs: number;
  /** Requests buffered per Tail caller at most (server.api.tailBuffer). */
  tailBuffer?: number;
  tailPollMs?: number;
}

/**
 * Room beside a payload in one response message: the CapturedRequest (ids, counts, timestamps, the request's
 * service names) and the protobuf framing.
 */
export const RESPONSE_ENVELOPE_BYTES = 1024 * 1024;

/**
 * GetRequest's JSON view converts requests of at most this many bytes of protobuf. Its cost is per message (a span,
 * an attribute, a log record: ~1.4 KiB of heap and ~16 µs each, a message being as small as 2 bytes), so it is
 * bounded by size, not only by the number of calls: 16 MiB of minimal spans is ~0.5 GB and ~6 s on the JSON view
 * worker, and its text (3-5× the protobuf) still fits one response.
 */
export const DEFAULT_MAX_JSON_VIEW_BYTES = 16 * 2 ** 20;

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
      /** The instance's hot tier (hot_only reads, Tail) and who counts tail subscribers. */
      hot?: { tier: SpoolHotTier; observer?: TailObserver };
    },
  ) {
    this.listener = new GrpcListener({
      name: 'API',
      host: options.host,
      port: options.port,
      limits: options.limits,
      // The largest request travels inside a GetRequestResponse (or a TailEvent) beside its CapturedRequest: without
      // room for that envelope, a request of exactly the ingest limit could be captured but never fetched.
      maxSendBytes: options.maxSendBytes + RESPONSE_ENVELOPE_BYTES,
      // The bound on status messages first (nearest the transport), so it sees every status, refusals included;
      // then metrics, so refusals by the access check are counted with their status too.
      interceptors: [boundedStatusInterceptor(), rpcMetricsInterceptor(deps.metrics), accessInterceptor(deps.callers, deps.logger)],
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
      // Never more than a response can carry as text (at most ~4× the protobuf).
      maxJsonViewBytes: Math.min(options.maxJsonViewBytes ?? DEFAULT_MAX_JSON_VIEW_BYTES, Math.floor(options.maxSendBytes / 4)),
      ...(deps.hot
        ? {
            hot: {
              query: hotOnlyQuery(archiveOf(deps.query.index), deps.hot.tier, deps.query.blobs),
              tier: deps.hot.tier,
              tailBuffer: options.tailBuffer ?? DEFAULT_TAIL_BUFFER,
              ...(options.tailPollMs === undefined ? {} : { tailPollMs: options.tailPollMs }),
              ...(deps.hot.observer === undefined ? {} : { observer: deps.hot.observer }),
            },
          }
        : {}),
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

/**
 * What `--server` readers merge with the index they query themselves: the spool's requests, and the rows this server
 * committed that the shared index may not show yet (pending-index-tier.ts).
 */
function hotOnlyQuery(archive: IndexStore, spool: SpoolHotTier, blobs: BlobStore): QueryService {
  const pending = archive.pendingRows?.() ?? null;
  const tiers = pending === null ? [spool] : [spool, new PendingIndexTier(pending, blobs)];
  return new QueryService(new TieredIndex(archive, tiers, { hotOnly: true }), blobs);
}

function archiveOf(index: IndexStore): IndexStore {
  return isTieredIndex(index) ? index.archive : index;
}
