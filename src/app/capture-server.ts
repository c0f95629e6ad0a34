// `otlp-capture serve`: builds every component from config, starts them in data-path order, stops them in reverse.
import { Admission } from '../admission/admission.js';
import { Archiver } from '../archiver/archiver.js';
import type { ResolvedConfig } from '../config/load.js';
import { parseListen } from '../config/units.js';
import type { IndexStore } from '../index/index-store.js';
import { QueryService } from '../query/query-service.js';
import { GrpcServer } from '../receiver/grpc-server.js';
import { HealthService } from '../receiver/health.js';
import { Ingest } from '../receiver/ingest.js';
import { Spool } from '../spool/spool.js';
import type { BlobStore } from '../storage/blob-store.js';
import { AdminServer } from '../telemetry/admin-server.js';
import type { Logger } from '../telemetry/logger.js';
import { Metrics } from '../telemetry/metrics.js';
import { createBlobStore, createIndexStore } from './components.js';

/** Above this share of spool.maxBytes, /readyz says not ready. */
const READY_SPOOL_FRACTION = 0.9;

export interface RunningPorts {
  grpc: number;
  admin: number;
}

export class CaptureServer {
  readonly metrics = new Metrics();
  private readonly health = new HealthService();
  private blobStore: BlobStore | null = null;
  private index: IndexStore | null = null;
  private spool: Spool | null = null;
  private archiver: Archiver | null = null;
  private ingest: Ingest | null = null;
  private grpc: GrpcServer | null = null;
  private admin: AdminServer | null = null;
  private state: 'starting' | 'running' | 'stopping' | 'stopped' = 'starting';

  constructor(private readonly config: ResolvedConfig, private readonly logger: Logger) {}

  async start(): Promise<RunningPorts> {
    try {
      return await this.startComponents();
    } catch (error) {
      // Release whatever did start (ports, files) so the error is the only thing the user sees.
      await this.grpc?.shutdown(Date.now());
      await this.spool?.close().catch(() => undefined);
      await this.index?.close().catch(() => undefined);
      await this.blobStore?.close().catch(() => undefined);
      await this.admin?.close();
      this.state = 'stopped';
      throw error;
    }
  }

  private async startComponents(): Promise<RunningPorts> {
    const { config, logger } = this;
    const grpcAddress = parseListen(config.server.grpc.listen)!;
    const adminAddress = parseListen(config.server.admin.listen)!;

    this.admin = new AdminServer(this.metrics, { notReadyReason: () => this.notReadyReason() });
    const adminPort = await this.admin.listen(adminAddress.host, adminAddress.port);

    this.blobStore = createBlobStore(config);
    await this.blobStore.start();
    this.index = createIndexStore(config, { readonly: false });
    await this.index.start();
    this.spool = await Spool.open({
      dir: config.spool.dir,
      segmentBytes: config.spool.segmentBytes,
      maxBytes: config.spool.maxBytes,
      fsync: config.spool.durability === 'fsync' ? 'always' : 'never',
      logger,
    });
    this.archiver = new Archiver(
      {
        maxObjectBytes: config.archiver.maxObjectBytes,
        maxObjectAgeMs: config.archiver.maxObjectAge,
        codec: config.archiver.codec,
        ...(config.archiver.level === undefined ? {} : { level: config.archiver.level }),
        uploadConcurrency: config.archiver.uploadConcurrency,
        maxOpenObjects: config.archiver.maxOpenObjects,
        retryInitialBackoffMs: config.archiver.retryInitialBackoff,
        retryMaxBackoffMs: config.archiver.retryMaxBackoff,
      },
      { spool: this.spool, blobStore: this.blobStore, index: this.index, metrics: this.metrics, logger },
    );
    this.archiver.start();

    const spool = this.spool;
    const admission = new Admission({
      maxInFlightBytes: config.admission.maxInFlightBytes,
      retryAfterMs: config.admission.retryAfter,
      spoolHasRoomFor: (bytes) => spool.hasRoomFor(bytes),
    });
    this.ingest = new Ingest({ admission, spool, metrics: this.metrics });
    this.grpc = new GrpcServer(
      {
        host: grpcAddress.host,
        port: grpcAddress.port,
        maxReceiveBytes: config.server.grpc.maxReceiveBytes,
        tenantHeader: config.admission.tenantHeader,
        defaultTenant: config.admission.defaultTenant,
        retryAfterMs: config.admission.retryAfter,
      },
      { ingest: this.ingest, query: new QueryService(this.index, this.blobStore), health: this.health, logger },
    );
    const grpcPort = await this.grpc.listen();
    this.metrics.onScrape(() => this.publishStats());
    this.health.setStatus('', 'SERVING');
    this.state = 'running';
    logger.info(
      {
        grpc: `${grpcAddress.host}:${grpcPort}`,
        admin: `${adminAddress.host}:${adminPort}`,
        blobStore: this.blobStore.describe(),
        index: this.index.describe(),
        spool: config.spool.dir,
      },
      'otlp-capture is serving',
    );
    return { grpc: grpcPort, admin: adminPort };
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
    this.health.shutdown();
    this.ingest?.stopAccepting();
    // Half the grace period at most for in-flight calls; the rest is for archiving.
    await this.grpc?.shutdown(Date.now() + gracePeriodMs / 2);
    this.spool?.endTail();
    const drained = (await this.archiver?.drain(deadline)) ?? true;
    await this.spool?.close();
    await this.index?.close();
    await this.blobStore?.close();
    await this.admin?.close();
    this.state = 'stopped';
    this.logger.info({ drained }, drained ? 'stopped: spool fully archived' : 'stopped: some data stays spooled for the next start');
    return { drained };
  }

  private notReadyReason(): string | null {
    if (this.state !== 'running') return this.state;
    // Out of the Service's endpoints before the spool refuses everything, so Collectors shift to other instances.
    const spooled = this.spool?.stats().bytesOnDisk ?? 0;
    if (spooled >= READY_SPOOL_FRACTION * this.config.spool.maxBytes) return `spool is ${Math.round((100 * spooled) / this.config.spool.maxBytes)}% full`;
    return null;
  }

  private publishStats(): void {
    if (!this.spool) return;
    const stats = this.spool.stats();
    this.metrics.spoolBytes.set(stats.bytesOnDisk);
    this.metrics.spoolSegments.set(stats.segments);
    this.metrics.spoolOldestAge.set(stats.oldestUnreleasedAgeMs / 1000);
    this.metrics.spoolFsyncs.set(stats.fsyncs);
  }
}
