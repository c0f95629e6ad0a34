// otlpcapture_ready and why not: the same answer /readyz gives, as metrics, so an alert can say what is wrong.
import { Gauge, type Registry } from 'prom-client';

/** Why /readyz says not ready, as a fixed set of label values (the message itself varies). */
export const NOT_READY_REASONS = ['starting', 'stopping', 'spool_full', 'blob_store', 'index', 'archiver'] as const;
export type NotReadyReason = (typeof NOT_READY_REASONS)[number];

export interface NotReady {
  reason: NotReadyReason;
  /** In words, as /readyz prints it. */
  message: string;
}

export function registerReadinessMetrics(registry: Registry, notReady: () => NotReady | null): void {
  new Gauge({
    name: 'otlpcapture_ready',
    help: '1 when /readyz answers ready, else 0.',
    registers: [registry],
    collect() {
      this.set(notReady() === null ? 1 : 0);
    },
  });
  new Gauge({
    name: 'otlpcapture_not_ready_reason',
    help: `1 for the reason /readyz answers not ready (${NOT_READY_REASONS.join(', ')}), 0 for the others.`,
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const current = notReady()?.reason;
      for (const reason of NOT_READY_REASONS) this.set({ reason }, reason === current ? 1 : 0);
    },
  });
}
