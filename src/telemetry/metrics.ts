// Prometheus metrics. One registry per running instance, so several instances can live in one process (tests).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type RejectReason =
  | 'malformed'
  | 'too_large'
  | 'over_budget'
  | 'spool_full'
  | 'invalid_tenant'
  | 'unauthenticated'
  | 'permission_denied'
  | 'shutting_down'
  | 'timeout'
  | 'internal';

export class Metrics {
  readonly registry = new Registry();
  readonly requestsReceived: Counter<'signal'>;
  readonly itemsReceived: Counter<'signal'>;
  readonly bytesReceived: Counter<'signal'>;
  readonly rejections: Counter<'signal' | 'reason'>;
  readonly inFlightBytes: Gauge;
  readonly admissionQueued: Gauge;
  readonly admissionWait: Histogram;
  readonly spoolBytes: Gauge;
  readonly spoolSegments: Gauge;
  readonly spoolOldestAge: Gauge;
  readonly spoolFsyncs: Gauge;
  readonly spoolHandedOver: Gauge;
  readonly archiveLag: Histogram<'signal'>;
  readonly uploadDuration: Histogram<'signal'>;
  readonly objectsArchived: Counter<'signal'>;
  readonly archiveFailures: Counter<'stage'>;

  private readonly refreshers: (() => void)[] = [];

  /** Gauges that mirror another component's state are refreshed from it at each scrape. */
  onScrape(refresh: () => void): void {
    this.refreshers.push(refresh);
  }

  async render(): Promise<string> {
    for (const refresh of this.refreshers) refresh();
    return this.registry.metrics();
  }

  constructor(options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'otlpcapture_' });
    this.requestsReceived = new Counter({
      name: 'otlpcapture_requests_received_total',
      help: 'OTLP Export requests acknowledged, by signal.',
      labelNames: ['signal'],
      registers,
    });
    this.itemsReceived = new Counter({
      name: 'otlpcapture_items_received_total',
      help: 'Spans, data points and log records acknowledged, by signal.',
      labelNames: ['signal'],
      registers,
    });
    this.bytesReceived = new Counter({
      name: 'otlpcapture_bytes_received_total',
      help: 'Uncompressed request bytes acknowledged, by signal.',
      labelNames: ['signal'],
      registers,
    });
    this.rejections = new Counter({
      name: 'otlpcapture_requests_rejected_total',
      help: 'OTLP Export requests refused, by signal and reason.',
      labelNames: ['signal', 'reason'],
      registers,
    });
    this.inFlightBytes = new Gauge({
      name: 'otlpcapture_inflight_bytes',
      help: 'Request bytes admitted and not yet durable in the spool.',
      registers,
    });
    this.admissionQueued = new Gauge({
      name: 'otlpcapture_admission_waiting_requests',
      help: 'OTLP/gRPC Export requests waiting at their headers for room in the in-flight budget.',
      registers,
    });
    this.admissionWait = new Histogram({
      name: 'otlpcapture_admission_wait_seconds',
      help: 'How long OTLP/gRPC Export requests that had to wait for room in the in-flight budget waited before admission.',
      buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 5],
      registers,
    });
    this.spoolBytes = new Gauge({ name: 'otlpcapture_spool_bytes', help: 'Bytes in spool segment files.', registers });
    this.spoolSegments = new Gauge({ name: 'otlpcapture_spool_segments', help: 'Spool segment files.', registers });
    this.spoolOldestAge = new Gauge({
      name: 'otlpcapture_spool_oldest_unarchived_age_seconds',
      help: 'Age of the oldest spooled request not yet archived and indexed (0 when none).',
      registers,
    });
    this.spoolFsyncs = new Gauge({ name: 'otlpcapture_spool_fsyncs', help: 'fdatasync calls made by the spool.', registers });
    this.spoolHandedOver = new Gauge({
      name: 'otlpcapture_spool_records_handed_over',
      help: 'Spooled records the archiver took from memory instead of reading them back from disk (spool.handoverBytes).',
      registers,
    });
    this.archiveLag = new Histogram({
      name: 'otlpcapture_archive_lag_seconds',
      help: 'From receipt of the oldest request in an object to the object being archived and indexed.',
      labelNames: ['signal'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 900, 3600],
      registers,
    });
    this.uploadDuration = new Histogram({
      name: 'otlpcapture_upload_duration_seconds',
      help: 'Time to seal an archive object: finish the upload and commit its index rows.',
      labelNames: ['signal'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.objectsArchived = new Counter({
      name: 'otlpcapture_objects_archived_total',
      help: 'Archive objects sealed, uploaded and indexed.',
      labelNames: ['signal'],
      registers,
    });
    this.archiveFailures = new Counter({
      name: 'otlpcapture_archive_failures_total',
      help: 'Failed attempts to archive an object (retried), by stage.',
      labelNames: ['stage'],
      registers,
    });
  }
}
