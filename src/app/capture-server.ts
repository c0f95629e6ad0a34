// `otlp-capture serve`: builds every component from config, starts them in data-path order, stops them in reverse.
import { Admission } from '../admission/admission.js';
import { BearerAuth, loadBearerTokens } from '../admission/auth.js';
import { CallerPolicy } from '../admission/caller.js';
import { ApiServer } from '../api/api-server.js';
import { checkApiExposure } from '../api/exposure.js';
import { Archiver } from '../archiver/archiver.js';
import type { ResolvedConfig } from '../config/load.js';
import { parseListen } from '../config/units.js';
import type { IndexStore } from '../index/index-store.js';
import { QueryService } from '../query/query-service.js';
import { countingDuplicates } from './duplicate-metric.js';
import { registerHotTierMetrics, type TailObserver } from '../query/hot-tier-metrics.js';
import { SpoolHotTier } from '../query/spool-hot-tier.js';
import { TieredIndex } from '../query/tiered-index.js';
import { GrpcServer } from '../receiver/grpc-server.js';
import { HealthService } from '../grpc/health.js';
import { Ingest } from '../receiver/ingest.js';
import { OtlpHttpServer } from '../receiver/otlp-http.js';
import { http2ListenerLimits } from '../transport/http2-limits.js';
import { TlsFiles } from '../transport/tls.js';
import { Spool } from '../spool/spool.js';
import type { BlobStore } from '../storage/blob-store.js';
import { AdminServer } from '../telemetry/admin-server.js';
import { MetricsGate, metricsReachNote } from '../telemetry/metrics-access.js';
import type { Logger } from '../telemetry/logger.js';
import { Metrics } from '../telemetry/metrics.js';
import { NoopNotifier } from '../notify/noop-notifier.js';
import type { Notifier } from '../notify/notifier.js';
import { registerNotifierMetrics } from '../notify/notify-metrics.js';
import { registerIndexMetrics } from '../index/index-metrics.js';
import { registerRetentionMetrics } from '../retention/retention-metrics.js';
import { registerReadinessMetrics, type NotReady } from '../telemetry/readiness-metrics.js';
import { exportCertificateExpiry } from '../telemetry/tls-expiry.js';
import { OperationalAlerts } from '../notify/operational-alerts.js';
import { serverAlertSources } from '../notify/alert-sources.js';
import { RetentionScheduler } from '../retention/retention-scheduler.js';
import { checkArchiveTargets, retentionSection } from '../retention/retention-setup.js';
import type { RetentionConfig } from '../retention/retention-config.js';
import { BackendStarter } from './backend-starter.js';
import { createBlobStore, createIndexStore, createNotifier } from './components.js';

/** Above this share of spool.maxBytes, /readyz says not ready. */
const READY_SPOOL_FRACTION = 0.9;
/** Longest a stop waits for queued notifications to be posted (within the grace period). */
const NOTIFY_FLUSH_MS = 5000;

export interface RunningPorts {
  grpc: number;
  admin: number;
  http: number;
  /** The API listener (CaptureService). */
  api: number;
}

export class CaptureServer {
  readonly metrics = new Metrics();
  private readonly health = new HealthService();
  private blobStore: BlobStore | null = null;
  private index: IndexStore | null = null;
  private spool: Spool | null = null;
  private archiver: Archiver | null = null;
  private archiverStarted = false;
  private blobStarter: BackendStarter | null = null;
  private ingest: Ingest | null = null;
  private admission: Admission | null = null;
  private grpc: GrpcServer | null = null;
  private http: OtlpHttpServer | null = null;
  private api: ApiServer | null = null;
  private hotTier: SpoolHotTier | null = null;
  private tailObserver: TailObserver | undefined;
  private tls: TlsFiles | null = null;
  private apiTls: TlsFiles | null = null;
  private admin: AdminServer | null = null;
  private state: 'starting' | 'running' | 'stopping' | 'stopped' = 'starting';
  private notifierInstance: Notifier = new NoopNotifier();
  private alerts: OperationalAlerts | null = null;
  private retention: RetentionScheduler | null = null;

  /** Where serve's modules (operational alerts, retention) post notifications. Sends nothing before start(). */
  get notifier(): Notifier {
    return this.notifierInstance;
  }

  constructor(private readonly config: ResolvedConfig, private readonly logger: Logger) {}

  async start(): Promise<RunningPorts> {
    try {
      return await this.startComponents();
    } catch (error) {
      // Release whatever did start (ports, files) so the error is the only thing the user sees.
      this.blobStarter?.cancel();
      await this.grpc?.shutdown(Date.now());
      await this.http?.shutdown(Date.now());
      await this.api?.shutdown(Date.now());
      this.tls?.close();
      this.apiTls?.close();
      await this.spool?.close().catch(() => undefined);
      await this.index?.close().catch(() => undefined);
      await this.blobStore?.close().catch(() => undefined);
      await this.admin?.close();
      await this.notifierInstance.close();
      this.state = 'stopped';
      throw error;
    }
  }

  private async startComponents(): Promise<RunningPorts> {
    const { config, logger } = this;
    const grpcAddress = parseListen(config.server.grpc.listen)!;
    const adminAddress = parseListen(config.server.admin.listen)!;
    const httpAddress = parseListen(config.server.http.listen)!;
    const apiAddress = parseListen(config.server.api.listen)!;
    // A retention section that cannot work stops start-up before anything is opened, as other config errors do.
    const retention = retentionSection(config);
    // Credentials first: a missing certificate or token file should stop start-up before anything is opened.
    const tlsConfig = config.server.tls;
    this.tls = tlsConfig
      ? TlsFiles.load({ ...tlsConfig, reloadIntervalMs: tlsConfig.reloadInterval }, logger)
      : null;
    // The API listener has its own certificate settings when configured, else the OTLP listeners'.
    const apiTlsConfig = config.server.api.tls;
    this.apiTls = apiTlsConfig ? TlsFiles.load({ ...apiTlsConfig, reloadIntervalMs: apiTlsConfig.reloadInterval }, logger) : null;
    const bearerAuth = new BearerAuth(loadBearerTokens(config.auth.bearerTokens));
    const callers = new CallerPolicy(bearerAuth, {
      tenantHeader: config.admission.tenantHeader,
      defaultTenant: config.admission.defaultTenant,
    });
    checkApiExposure(
      { listen: config.server.api.listen, allowUnauthenticated: config.server.api.allowUnauthenticated, authEnabled: callers.authEnabled },
      logger,
    );

    this.notifierInstance = createNotifier(config, logger);
    this.notifierInstance.start();
    registerNotifierMetrics(this.metrics.registry, () => this.notifierInstance.stats());
    registerReadinessMetrics(this.metrics.registry, () => this.notReady());
    registerIndexMetrics(this.metrics.registry, () => this.index);
    registerRetentionMetrics(this.metrics.registry, () => this.retention?.stats() ?? null);
    this.tailObserver = registerHotTierMetrics(this.metrics.registry, () => this.hotTier);
    this.metrics.spoolMaxBytes.set(config.spool.maxBytes);
    if (this.tls) exportCertificateExpiry(this.metrics, 'otlp', this.tls);
    if (this.apiTls) exportCertificateExpiry(this.metrics, 'api', this.apiTls);

    this.admin = new AdminServer(
      this.metrics,
      { notReady: () => this.notReady() },
      new MetricsGate(bearerAuth, config.server.admin.allowUnauthenticatedMetrics),
    );
    const adminPort = await this.admin.listen(adminAddress.host, adminAddress.port);
    const metricsNote = metricsReachNote(adminAddress.host, bearerAuth, config.server.admin.allowUnauthenticatedMetrics);
    if (metricsNote !== null) logger.info({ adminListen: config.server.admin.listen }, metricsNote);

    this.blobStore = await createBlobStore(config, { logger });
    const blobStore = this.blobStore;
    this.blobStarter = new BackendStarter('blob store', () => blobStore.start(), {
      initialMs: config.archiver.retryInitialBackoff,
      maxMs: config.archiver.retryMaxBackoff,
    }, logger);
    await this.blobStarter.begin();
    // A backend that buffers (ClickHouse's outbox) lets serve start while it is down: /readyz says why meanwhile.
    this.index = await createIndexStore(config, { readonly: false, logger, bufferWhenUnavailable: true });
    await this.index.start();
    this.spool = await Spool.open({
      dir: config.spool.dir,
      segmentBytes: config.spool.segmentBytes,
      maxBytes: config.spool.maxBytes,
      fsync: config.spool.durability === 'fsync' ? 'always' : 'never',
      handoverBytes: config.spool.handoverBytes,
      logger,
      onQuarantine: (range) => {
        // The archiver counts what it gives up on itself; these are records found damaged on disk.
        if (range.source === 'archiver') return;
        this.metrics.spoolCorruptRecords.inc();
        this.metrics.spoolCorruptBytes.inc(range.length);
      },
    });
    this.archiver = new Archiver(
      {
        maxObjectBytes: config.archiver.maxObjectBytes,
        maxObjectAgeMs: config.archiver.maxObjectAge,
        codec: config.archiver.codec,
        ...(config.archiver.level === undefined ? {} : { level: config.archiver.level }),
        uploadConcurrency: config.archiver.uploadConcurrency,
        maxOpenObjects: config.archiver.maxOpenObjects,
        maxOpenTraceIds: config.archiver.maxOpenTraceIds,
        retryInitialBackoffMs: config.archiver.retryInitialBackoff,
        retryMaxBackoffMs: config.archiver.retryMaxBackoff,
        maxLagMs: config.archiver.maxLag,
        keepClientBlocks: config.archiver.keepClientBlocks,
      },
      {
        spool: this.spool,
        blobStore: this.blobStore,
        index: countingDuplicates(this.index, config.dedup.window, this.metrics.duplicateRequests, logger),
        metrics: this.metrics,
        logger,
      },
    );
    const archiver = this.archiver;
    void this.blobStarter.whenStarted().then(() => {
      if (this.state === 'starting' || this.state === 'running') {
        archiver.start();
        this.archiverStarted = true;
      }
    });

    const spool = this.spool;
    const admission = (this.admission = new Admission({
      maxInFlightBytes: config.admission.maxInFlightBytes,
      retryAfterMs: config.admission.retryAfter,
      spoolHasRoomFor: (bytes) => spool.hasRoomFor(bytes),
      maxQueuedBytes: config.admission.waitQueueBytes,
      maxQueuedRequests: config.admission.waitQueueRequests,
      onWaited: (ms) => this.metrics.admissionWait.observe(ms / 1000),
    }));
    this.ingest = new Ingest({
      admission,
      spool,
      metrics: this.metrics,
      scanLimits: { maxTraceIds: config.admission.maxTraceIdsPerRequest, maxServices: config.admission.maxServicesPerRequest },
    });
    this.grpc = new GrpcServer(
      {
        host: grpcAddress.host,
        port: grpcAddress.port,
        limits: { ...http2ListenerLimits(config.server.grpc), initialWindowSize: config.server.grpc.initialWindowSize },
        retryAfterMs: config.admission.retryAfter,
        maxWaitMs: config.admission.maxWait,
      },
      { ingest: this.ingest, admission, health: this.health, callers, tls: this.tls, logger },
    );
    const grpcPort = await this.grpc.listen();
    const httpConfig = config.server.http;
    this.http = new OtlpHttpServer(
      {
        host: httpAddress.host,
        port: httpAddress.port,
        maxReceiveBytes: httpConfig.maxReceiveBytes,
        maxJsonBytes: httpConfig.maxJsonBytes,
        retryAfterMs: config.admission.retryAfter,
        headersTimeoutMs: httpConfig.headersTimeout,
        requestTimeoutMs: httpConfig.requestTimeout,
        keepAliveTimeoutMs: httpConfig.keepAliveTimeout,
        maxConnections: httpConfig.maxConnections,
      },
      { ingest: this.ingest, callers, tls: this.tls, logger },
    );
    const httpPort = await this.http.listen();
    const apiConfig = config.server.api;
    // The hot tier: what this instance acknowledged and has not archived yet, read from its own spool.
    const hotTier = (this.hotTier = new SpoolHotTier(config.spool.dir));
    this.api = new ApiServer(
      {
        host: apiAddress.host,
        port: apiAddress.port,
        limits: http2ListenerLimits(apiConfig),
        // GetRequest returns any request ingest accepted, whole.
        maxSendBytes: Math.max(64 * 2 ** 20, config.server.grpc.maxReceiveBytes, config.server.http.maxReceiveBytes, apiConfig.maxFindTraceBytes * 4),
        maxConcurrentReads: apiConfig.maxConcurrentReads,
        maxConcurrentReplays: apiConfig.maxConcurrentReplays,
        maxFindTraceBytes: apiConfig.maxFindTraceBytes,
        maxJsonViewBytes: apiConfig.maxJsonViewBytes,
        allowedTargets: config.replay.allowedTargets,
        retryAfterMs: config.admission.retryAfter,
        tailBuffer: apiConfig.tailBuffer,
      },
      {
        query: new QueryService(new TieredIndex(this.index, [hotTier]), this.blobStore, {
          findTrace: (seconds, outcome) => this.metrics.findTraceDuration.observe({ outcome }, seconds),
        }, config.dedup.window),
        health: this.health,
        callers,
        tls: this.apiTls ?? this.tls,
        logger,
        metrics: this.metrics,
        hot: { tier: hotTier, observer: this.tailObserver },
      },
    );
    const apiPort = await this.api.listen();
    this.tls?.startWatching();
    this.apiTls?.startWatching();
    this.metrics.onScrape(() => this.publishStats());
    this.health.setStatus('', 'SERVING');
    this.startAlerts();
    this.startRetention(retention);
    this.state = 'running';
    logger.info(
      {
        grpc: `${grpcAddress.host}:${grpcPort}`,
        admin: `${adminAddress.host}:${adminPort}`,
        http: `${httpAddress.host}:${httpPort}`,
        api: `${apiAddress.host}:${apiPort}`,
        tls: this.tls ? (this.tls.requireClientCert ? 'mutual' : 'server') : 'off',
        auth: callers.authEnabled ? 'bearer' : 'off',
        blobStore: this.blobStore.describe(),
        index: this.index.describe(),
        spool: config.spool.dir,
      },
      'otlp-capture is serving',
    );
    return { grpc: grpcPort, admin: adminPort, http: httpPort, api: apiPort };
  }

  /**
   * Graceful stop within the grace period: refuse new requests, let in-flight ones finish, archive what the spool
   * holds. Whatever is not archived in time stays in the spool and is archived at the next start.
   */
  async stop(gracePeriodMs: number = this.config.shutdown.gracePeriod): Promise<{ drained: boolean }> {
    if (this.state === 'stopping' || this.state === 'stopped') return { drained: false };
    this.state = 'stopping';
    const deadline = Date.now() + gracePeriodMs;
    this.logger.info({ gracePeriodMs }, 'shutting down: draining');
    await this.alerts?.stop();
    await this.retention?.stop();
    this.health.shutdown();
    this.ingest?.stopAccepting();
    // Half the grace period at most for in-flight calls; the rest is for archiving.
    await Promise.all([
      this.grpc?.shutdown(Date.now() + gracePeriodMs / 2),
      this.http?.shutdown(Date.now() + gracePeriodMs / 2),
      this.api?.shutdown(Date.now() + gracePeriodMs / 2),
    ]);
    this.tls?.close();
    this.apiTls?.close();
    this.spool?.endTail();
    this.blobStarter?.cancel();
    const drained = this.archiverStarted
      ? await this.archiver!.drain(deadline)
      : (this.spool?.stats().unreleasedRecords ?? 0) === 0;
    await this.spool?.close();
    await this.index?.close();
    await this.blobStore?.close();
    await this.notifierInstance.flush(Math.min(deadline, Date.now() + NOTIFY_FLUSH_MS));
    await this.notifierInstance.close();
    await this.admin?.close();
    this.state = 'stopped';
    this.logger.info({ drained }, drained ? 'stopped: spool fully archived' : 'stopped: some data stays spooled for the next start');
    return { drained };
  }

  /** Operational alerts need somewhere to go: without a webhook they are not checked at all. */
  private startAlerts(): void {
    const alerts = this.config.notify.alerts;
    if (!alerts.enabled || !this.notifierInstance.enabled || !this.spool || !this.archiver) return;
    this.alerts = new OperationalAlerts(
      {
        intervalMs: alerts.interval,
        spoolPercent: alerts.spoolPercent,
        uploadFailingForMs: alerts.uploadFailingFor,
        indexLagMs: alerts.indexLag,
        rejectedPerInterval: alerts.rejectedPerInterval,
      },
      {
        notifier: this.notifierInstance,
        sources: serverAlertSources({ spool: this.spool, spoolMaxBytes: this.config.spool.maxBytes, archiver: this.archiver, metrics: this.metrics }),
        logger: this.logger,
      },
    );
    this.alerts.start();
  }

  /** Retention on its interval (src/retention/retention-scheduler.ts); nothing when the config has no retention section. */
  private startRetention(retention: RetentionConfig | null): void {
    if (retention === null || !this.blobStore || !this.index) return;
    checkArchiveTargets(retention, this.blobStore);
    this.retention = new RetentionScheduler({
      blobs: this.blobStore,
      index: this.index,
      config: retention,
      notifier: this.notifierInstance,
      logger: this.logger.child({ module: 'retention' }),
    });
    this.retention.start();
    this.logger.info({ intervalMs: retention.interval, policies: retention.policies.map((p) => p.name) }, 'retention scheduled');
  }

  private notReady(): NotReady | null {
    if (this.state !== 'running') return { reason: this.state === 'starting' ? 'starting' : 'stopping', message: this.state };
    // Out of the Service's endpoints before the spool refuses everything, so Collectors shift to other instances.
    const spooled = this.spool?.stats().bytesOnDisk ?? 0;
    if (spooled >= READY_SPOOL_FRACTION * this.config.spool.maxBytes || this.admission?.spoolRefusing()) {
      return { reason: 'spool_full', message: `spool is ${Math.round((100 * spooled) / this.config.spool.maxBytes)}% full` };
    }
    const blobStore = this.blobStarter?.notReadyReason() ?? null;
    if (blobStore !== null) return { reason: 'blob_store', message: blobStore };
    const index = this.index?.notReadyReason?.() ?? null;
    if (index !== null) return { reason: 'index', message: index };
    const archiver = this.archiverStarted ? this.archiver?.health().reason ?? null : null;
    return archiver === null ? null : { reason: 'archiver', message: archiver };
  }

  private publishStats(): void {
    if (this.admission) {
      this.metrics.inFlightBytes.set(this.admission.inFlightBytes);
      this.metrics.admissionQueued.set(this.admission.queued.requests);
    }
    if (!this.spool) return;
    const stats = this.spool.stats();
    this.metrics.spoolBytes.set(stats.bytesOnDisk);
    this.metrics.spoolUnreadBytes.set(stats.unreadBytes);
    this.metrics.spoolSegments.set(stats.segments);
    // The archiver's measure is monotonic; the spool's is wall-clock time since receipt, off by any step of the clock.
    const oldestMs = this.archiverStarted && this.archiver ? this.archiver.oldestWaitingMs() : stats.oldestUnreleasedAgeMs;
    this.metrics.spoolOldestAge.set(oldestMs / 1000);
    this.metrics.spoolFsyncs.set(stats.fsyncs);
    this.metrics.spoolHandedOver.set(stats.handedOver);
    this.metrics.receivingRequests.set(this.admission?.receivingRequests ?? 0);
    this.metrics.archiverStalled.set(this.archiverStarted && this.archiver?.health().stalled ? 1 : 0);
  }
}
