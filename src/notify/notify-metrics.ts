// Prometheus view of the notifier, read from its stats at each scrape (the notifier itself stays metrics-free).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { NotifierStats } from './notifier.js';

const OUTCOMES = ['sent', 'dropped', 'suppressed', 'unrouted'] as const;

export function registerNotifierMetrics(registry: Registry, stats: () => NotifierStats): void {
  new Gauge({
    name: 'otlpcapture_notify_queued',
    help: 'Notifications waiting to be posted.',
    registers: [registry],
    collect() {
      this.set(stats().queued);
    },
  });
  new Counter({
    name: 'otlpcapture_notifications_total',
    help: 'Notifications by outcome: sent, dropped (queue full), suppressed (dedup), unrouted (no webhook for the priority).',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      const now = stats();
      const values: Record<(typeof OUTCOMES)[number], number> = {
        sent: now.sentNotifications,
        dropped: now.dropped,
        suppressed: now.suppressed,
        unrouted: now.unrouted,
      };
      // Mirrors monotonic totals kept by the notifier: reset and set, so each scrape shows the current total.
      this.reset();
      for (const outcome of OUTCOMES) this.inc({ outcome }, values[outcome]);
    },
  });
  new Counter({
    name: 'otlpcapture_notify_messages_total',
    help: 'Messages posted to webhooks (a digest is one), by result: sent, or failed after all retries.',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      const now = stats();
      this.reset();
      this.inc({ result: 'sent' }, now.sentMessages);
      this.inc({ result: 'failed' }, now.failedMessages);
    },
  });
}
