// Prometheus view of the hot tier and of tail subscribers. The hot tier's size is read at each scrape (one
// incremental refresh of the spool reader, shared with any read running at the time).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { SpoolHotTier } from './spool-hot-tier.js';

/** What the Tail RPC reports: subscribers coming and going, requests dropped for subscribers that fell behind. */
export interface TailObserver {
  subscribed(): void;
  unsubscribed(): void;
  missed(requests: number): void;
}

export function registerHotTierMetrics(registry: Registry, hot: () => SpoolHotTier | null): TailObserver {
  const registers = [registry];
  const stats = async (): Promise<{ requests: number; bytes: number }> => {
    const tier = hot();
    if (!tier) return { requests: 0, bytes: 0 };
    try {
      await tier.refresh();
    } catch {
      // An unreadable spool shows in the spool's own metrics and alerts; the scrape keeps working.
    }
    return tier.stats();
  };
  new Gauge({
    name: 'otlpcapture_hot_requests',
    help: 'Requests acknowledged but not yet in a sealed and indexed archive object (readable from the spool).',
    registers,
    async collect() {
      this.set((await stats()).requests);
    },
  });
  new Gauge({
    name: 'otlpcapture_hot_bytes',
    help: 'Raw bytes of the requests in the hot tier.',
    registers,
    async collect() {
      this.set((await stats()).bytes);
    },
  });
  const subscribers = new Gauge({
    name: 'otlpcapture_tail_subscribers',
    help: 'Tail calls (CaptureService.Tail) currently following.',
    registers,
  });
  const missed = new Counter({
    name: 'otlpcapture_tail_missed_requests_total',
    help: 'Requests not sent to tail subscribers that fell behind (dropped from their bounded buffer).',
    registers,
  });
  return {
    subscribed: () => subscribers.inc(),
    unsubscribed: () => subscribers.dec(),
    missed: (requests) => missed.inc(requests),
  };
}
