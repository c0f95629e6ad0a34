// Prometheus view of retention inside serve, read from the scheduler's stats at each scrape (the scheduler itself
// stays metrics-free). Registered also when retention is off, so the series exist: interval 0 says "not configured".
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RetentionStats } from './retention-scheduler.js';

export function registerRetentionMetrics(registry: Registry, stats: () => RetentionStats | null): void {
  const registers = [registry];
  new Gauge({
    name: 'otlpcapture_retention_interval_seconds',
    help: 'retention.interval of the retention serve runs; 0 when serve runs no retention.',
    registers,
    collect() {
      this.set((stats()?.intervalMs ?? 0) / 1000);
    },
  });
  new Gauge({
    name: 'otlpcapture_retention_last_run_timestamp_seconds',
    help: 'When the last retention run finished (unix seconds; this process or any recorded in the blob store); 0 when none is known.',
    registers,
    collect() {
      this.set((stats()?.lastRunAtMs ?? 0) / 1000);
    },
  });
  new Gauge({
    name: 'otlpcapture_retention_last_success_timestamp_seconds',
    help: 'When the last retention run without any failure finished (unix seconds); 0 when none is known.',
    registers,
    collect() {
      this.set((stats()?.lastSuccessAtMs ?? 0) / 1000);
    },
  });
  new Counter({
    name: 'otlpcapture_retention_runs_total',
    help: 'Retention runs of serve by result: succeeded, failed (the run or some objects failed), skipped (another run held the lease).',
    labelNames: ['result'],
    registers,
    collect() {
      const runs = stats()?.runs ?? { succeeded: 0, failed: 0, skipped: 0 };
      // Mirrors the scheduler's monotonic totals.
      this.reset();
      for (const [result, count] of Object.entries(runs)) this.inc({ result }, count);
    },
  });
  new Counter({
    name: 'otlpcapture_retention_objects_total',
    help: 'Archive objects retention acted on in serve, by policy, action and result (succeeded, failed).',
    labelNames: ['policy', 'action', 'result'],
    registers,
    collect() {
      this.reset();
      for (const { policy, action, succeeded, failed } of stats()?.policies ?? []) {
        this.inc({ policy, action, result: 'succeeded' }, succeeded);
        this.inc({ policy, action, result: 'failed' }, failed);
      }
    },
  });
  new Counter({
    name: 'otlpcapture_retention_dedup_dropped_requests_total',
    help: 'Archived requests the dedup action dropped in serve as exact duplicates of earlier ones, by policy.',
    labelNames: ['policy'],
    registers,
    collect() {
      this.reset();
      for (const { policy, action, dropped } of stats()?.policies ?? []) if (action === 'dedup') this.inc({ policy }, dropped);
    },
  });
  new Counter({
    name: 'otlpcapture_retention_dedup_saved_bytes_total',
    help: 'Stored bytes the dedup action saved in serve (objects before minus after), by policy.',
    labelNames: ['policy'],
    registers,
    collect() {
      this.reset();
      for (const { policy, action, bytesSaved } of stats()?.policies ?? []) if (action === 'dedup') this.inc({ policy }, bytesSaved);
    },
  });
}
