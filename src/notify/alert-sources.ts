// What operational alerts read from a running server: spool stats, the archiver's last commit and health, and the
// failure, rejection and quarantine counters it already keeps for Prometheus (so ingest needs no extra bookkeeping).
import type { Archiver } from '../archiver/archiver.js';
import type { Spool } from '../spool/spool.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { AlertSnapshot } from './alert-rules.js';
import type { AlertSources } from './operational-alerts.js';

interface CounterLike {
  get(): Promise<{ values: { value: number; labels: Partial<Record<string, string | number>> }[] }>;
}

export function serverAlertSources(parts: { spool: Spool; spoolMaxBytes: number; archiver: Archiver; metrics: Metrics }): AlertSources {
  return {
    async snapshot(nowMs: number): Promise<AlertSnapshot> {
      const stats = parts.spool.stats();
      return {
        nowMs,
        spool: {
          bytesOnDisk: stats.bytesOnDisk,
          maxBytes: parts.spoolMaxBytes,
          unreleasedRecords: stats.unreleasedRecords,
          // The archiver's monotonic measure: the spool's own is wall-clock time, off by any step of the clock.
          oldestUnreleasedAgeMs: parts.archiver.oldestWaitingMs(),
        },
        msSinceLastCommit: parts.archiver.msSinceLastCommit(),
        archiveFailures: await totalsBy(parts.metrics.archiveFailures, 'stage'),
        rejections: await totalsBy(parts.metrics.rejections, 'reason'),
        archiverStalled: parts.archiver.health().reason,
        quarantined: {
          corruptRecords: await total(parts.metrics.spoolCorruptRecords),
          corruptBytes: await total(parts.metrics.spoolCorruptBytes),
          archiverRecords: await total(parts.metrics.archiverQuarantined),
        },
      };
    },
  };
}

/** A counter's values summed per value of one label (over all other labels). */
async function totalsBy(counter: CounterLike, label: string): Promise<Record<string, number>> {
  const totals: Record<string, number> = {};
  for (const { value, labels } of (await counter.get()).values) {
    const key = String(labels[label] ?? 'unknown');
    totals[key] = (totals[key] ?? 0) + value;
  }
  return totals;
}

async function total(counter: CounterLike): Promise<number> {
  return (await counter.get()).values.reduce((sum, { value }) => sum + value, 0);
}
