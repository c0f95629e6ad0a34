// Prometheus view of the index's write backlog (ClickHouse's outbox), read from the adapter at each scrape. An
// adapter that writes through (SQLite) has no backlog: its gauges stay at 0 and its backend counts as up.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { IndexStore, OutboxStatus } from './index-store.js';

const WRITE_THROUGH: OutboxStatus = { objects: 0, requests: 0, lagMs: 0, backendAvailable: true, failedFlushes: 0 };
/** The five metrics of one scrape share one reading of the outbox (a query of a local SQLite file). */
const READING_REUSED_MS = 250;

export function registerIndexMetrics(registry: Registry, index: () => IndexStore | null): void {
  let last: { atMs: number; status: OutboxStatus } = { atMs: 0, status: WRITE_THROUGH };
  const status = (): OutboxStatus => {
    const nowMs = Date.now();
    if (nowMs - last.atMs < READING_REUSED_MS) return last.status;
    try {
      last = { atMs: nowMs, status: index()?.outboxStatus?.(nowMs) ?? WRITE_THROUGH };
    } catch {
      // An unreadable outbox fails the archiver's commits, which are counted and alerted; the scrape keeps working.
    }
    return last.status;
  };
  const registers = [registry];
  new Gauge({
    name: 'otlpcapture_index_outbox_objects',
    help: 'Archive objects whose index rows are committed locally (outbox) but not yet written to the index backend.',
    registers,
    collect() {
      this.set(status().objects);
    },
  });
  new Gauge({
    name: 'otlpcapture_index_outbox_requests',
    help: 'Request rows committed locally (outbox) but not yet written to the index backend.',
    registers,
    collect() {
      this.set(status().requests);
    },
  });
  new Gauge({
    name: 'otlpcapture_index_outbox_lag_seconds',
    help: 'Age of the oldest outbox entry: how far the index backend lags behind commits (insert lag; 0 when none wait).',
    registers,
    collect() {
      this.set(status().lagMs / 1000);
    },
  });
  new Gauge({
    name: 'otlpcapture_index_backend_up',
    help: '1 when the last attempt to reach the index backend succeeded, else 0.',
    registers,
    collect() {
      this.set(status().backendAvailable ? 1 : 0);
    },
  });
  new Gauge({
    name: 'otlpcapture_index_outbox_set_aside_objects',
    help: 'Objects whose index rows the backend refused alone: kept in the outbox (not in the counts above), retried at the next start.',
    registers,
    collect() {
      this.set(status().setAsideObjects ?? 0);
    },
  });
  new Counter({
    name: 'otlpcapture_index_flush_failures_total',
    help: 'Failed attempts to write outbox rows to the index backend (retried; the rows stay queued).',
    registers,
    collect() {
      // Mirrors the adapter's own monotonic count.
      this.reset();
      this.inc(status().failedFlushes);
    },
  });
}
