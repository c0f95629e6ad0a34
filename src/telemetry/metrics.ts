// Prometheus metrics. One registry per running instance, so several instances can live in one process (tests).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { SIGNALS, type Signal } from '../model.js';

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

const REJECT_REASONS: readonly RejectReason[] = [
  'malformed',
  'too_large',
  'over_budget',
  'spool_full',
  'invalid_tenant',
  'unauthenticated',
  'permission_denied',
  'shutting_down',
  'timeout',
  'internal',
];

/**
 * Tenants come from a request header: each distinct one would be a new series for every per-tenant metric. The first
 * this many get their own label value; later ones are counted under OTHER_TENANTS (no valid tenant starts with '_').
 */
export const MAX_TENANT_LABELS = 100;
export const OTHER_TENANTS = '_other';

export class Metrics {
  readonly registry = new Registry();
  readonly requestsReceived: Counter<'signal' | 'tenant'>;
  readonly itemsReceived: Counter<'signal' | 'tenant'>;
  readonly bytesReceived: Counter<'signal' | 'tenant'>;
  readonly ingestDuration: Histogram<'signal'>;
  readonly rejections: Counter<'signal' | 'reason'>;
  readonly inFlightBytes: Gauge;
  readonly admissionQueued: Gauge;
  readonly admissionWait: Histogram;
  readonly receivingRequests: Gauge;
  readonly spoolBytes: Gauge;
  readonly spoolUnreadBytes: Gauge;
  readonly spoolSegments: Gauge;
  readonly spoolMaxBytes: Gauge;
  readonly spoolOldestAge: Gauge;
  readonly spoolFsyncs: Gauge;
  readonly spoolHandedOver: Gauge;
  readonly archiveLag: Histogram<'signal'>;
  readonly uploadDuration: Histogram<'signal'>;
  readonly objectsArchived: Counter<'signal'>;
  readonly duplicateRequests: Counter<'signal'>;
  readonly archiveFailures: Counter<'stage'>;
  readonly clientBlocksKept: Counter<'signal' | 'codec'>;
  readonly archivedRawBytes: Counter<'signal'>;
  readonly archivedStoredBytes: Counter<'signal'>;
  readonly tlsCertificateExpiry: Gauge<'listener' | 'file'>;
  readonly findTraceDuration: Histogram<'outcome'>;
  readonly apiRequests: Counter<'method' | 'code'>;
  readonly apiRequestDuration: Histogram<'method'>;
  readonly spoolCorruptRecords: Counter;
  readonly spoolCorruptBytes: Counter;
  readonly archiverQuarantined: Counter;
  readonly archiverStalled: Gauge;

  private readonly refreshers: (() => void)[] = [];
  private readonly tenantLabels = new Set<string>();

  /** The `tenant` label value for a tenant: itself, or OTHER_TENANTS once MAX_TENANT_LABELS are in use. */
  tenantLabel(tenant: string): string {
    if (this.tenantLabels.has(tenant)) return tenant;
    if (this.tenantLabels.size >= MAX_TENANT_LABELS) return OTHER_TENANTS;
    this.tenantLabels.add(tenant);
    return tenant;
  }

  /** An acknowledged request, counted under its signal and tenant. */
  recordReceived(signal: Signal, tenant: string, items: number, bytes: number, seconds: number): void {
    const labels = { signal, tenant: this.tenantLabel(tenant) };
    this.requestsReceived.inc(labels);
    this.itemsReceived.inc(labels, items);
    this.bytesReceived.inc(labels, bytes);
    this.ingestDuration.observe({ signal }, seconds);
  }

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
      help: `OTLP Export requests acknowledged, by signal and tenant (after ${MAX_TENANT_LABELS} tenants, the rest as ${OTHER_TENANTS}).`,
      labelNames: ['signal', 'tenant'],
      registers,
    });
    this.itemsReceived = new Counter({
      name: 'otlpcapture_items_received_total',
      help: 'Spans, data points and log records acknowledged, by signal and tenant.',
      labelNames: ['signal', 'tenant'],
      registers,
    });
    this.bytesReceived = new Counter({
      name: 'otlpcapture_bytes_received_total',
      help: 'Uncompressed request bytes acknowledged, by signal and tenant.',
      labelNames: ['signal', 'tenant'],
      registers,
    });
    this.ingestDuration = new Histogram({
      name: 'otlpcapture_ingest_duration_seconds',
      help: 'From an Export body in hand to it being durable in the spool (scan, append, group-commit fsync): the wait before the acknowledgement.',
      labelNames: ['signal'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
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
    this.receivingRequests = new Gauge({
      name: 'otlpcapture_receiving_requests',
      help: 'Requests admitted at their headers whose body is still being received (each holds an admission reservation).',
      registers,
    });
    this.spoolBytes = new Gauge({ name: 'otlpcapture_spool_bytes', help: 'Bytes in spool segment files.', registers });
    this.spoolUnreadBytes = new Gauge({
      name: 'otlpcapture_spool_unread_bytes',
      help: 'Spooled request bytes the archiver has not read yet: how far archiving is behind ingest.',
      registers,
    });
    this.spoolSegments = new Gauge({ name: 'otlpcapture_spool_segments', help: 'Spool segment files.', registers });
    this.spoolMaxBytes = new Gauge({
      name: 'otlpcapture_spool_max_bytes',
      help: 'spool.maxBytes: above it the spool refuses new requests (readiness fails at 90 %).',
      registers,
    });
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
    this.duplicateRequests = new Counter({
      name: 'otlpcapture_duplicate_requests_total',
      help: 'Requests archived by this instance that repeat an earlier one (same tenant, signal and content within dedup.window), as the index tells once their object is committed.',
      labelNames: ['signal'],
      registers,
    });
    this.archiveFailures = new Counter({
      name: 'otlpcapture_archive_failures_total',
      help: 'Failed attempts to archive an object (retried), by stage.',
      labelNames: ['stage'],
      registers,
    });
    this.clientBlocksKept = new Counter({
      name: 'otlpcapture_archive_client_blocks_total',
      help: 'Requests stored as the client compressed them (its gzip member or zstd frame as the block), by signal and codec.',
      labelNames: ['signal', 'codec'],
      registers,
    });
    this.archivedRawBytes = new Counter({
      name: 'otlpcapture_archived_raw_bytes_total',
      help: 'Request bytes (as received, uncompressed) in archive objects sealed, uploaded and indexed.',
      labelNames: ['signal'],
      registers,
    });
    this.archivedStoredBytes = new Counter({
      name: 'otlpcapture_archived_stored_bytes_total',
      help: 'Bytes stored for those objects (compressed blocks, header and footer): raw / stored is the compression ratio.',
      labelNames: ['signal'],
      registers,
    });
    this.tlsCertificateExpiry = new Gauge({
      name: 'otlpcapture_tls_certificate_expiry_timestamp_seconds',
      help: 'When the first certificate in a TLS file in use expires (unix seconds), by listener and file (server chain or client CA).',
      labelNames: ['listener', 'file'],
      registers,
    });
    this.findTraceDuration = new Histogram({
      name: 'otlpcapture_find_trace_duration_seconds',
      help: 'Finding one trace: index lookup and reading its requests back, by outcome (found, not_found, invalid, error).',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.apiRequests = new Counter({
      name: 'otlpcapture_api_requests_total',
      help: 'CaptureService calls finished, by method and gRPC status code name.',
      labelNames: ['method', 'code'],
      registers,
    });
    this.apiRequestDuration = new Histogram({
      name: 'otlpcapture_api_request_duration_seconds',
      help: 'CaptureService call duration, from its headers to its status (a streamed Replay until its last message), by method.',
      labelNames: ['method'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120, 600],
      registers,
    });
    // Series that exist from the start, at 0: rate() and alerts see a counter from its first increment, and a
    // dashboard shows 0 rather than "no data" for a signal nothing was sent on yet.
    for (const signal of SIGNALS) {
      this.objectsArchived.inc({ signal }, 0);
      this.duplicateRequests.inc({ signal }, 0);
      this.archivedRawBytes.inc({ signal }, 0);
      this.archivedStoredBytes.inc({ signal }, 0);
      for (const reason of REJECT_REASONS) this.rejections.inc({ signal, reason }, 0);
    }
    for (const stage of ['upload', 'index']) this.archiveFailures.inc({ stage }, 0);
    this.spoolCorruptRecords = new Counter({
      name: 'otlpcapture_spool_corrupt_records_total',
      help: 'Damaged spool records (or unreadable ranges) found on disk and moved to the spool quarantine.',
      registers,
    });
    this.spoolCorruptBytes = new Counter({
      name: 'otlpcapture_spool_corrupt_bytes_total',
      help: 'Bytes of damaged spool records and ranges moved to the spool quarantine.',
      registers,
    });
    this.archiverQuarantined = new Counter({
      name: 'otlpcapture_archiver_quarantined_records_total',
      help: 'Spooled requests the archiver could not archive after its retries, moved to the spool quarantine.',
      registers,
    });
    this.archiverStalled = new Gauge({
      name: 'otlpcapture_archiver_stalled',
      help: '1 while archiving is stalled (the oldest unarchived request is older than archiver.maxLag), else 0.',
      registers,
    });
  }
}
