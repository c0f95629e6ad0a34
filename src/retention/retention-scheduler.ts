// Retention inside `serve`: a run every `interval`, the first one interval after start (a restart loop then never
// turns into a retention loop, and start-up stays quick). Runs never overlap: the next is scheduled when the last
// ends. stop() stops taking new objects, lets those in flight finish (each is short: one object), and releases the
// lease. A failed run is logged and alerted; a run that finds the lease held (a CronJob is running) is skipped
// quietly. Ingest is never waited on: retention shares only the blob store, index and compression threads.
// stats() says how runs went, for metrics; the last run is also read from the record every run leaves in the blob
// store, so it survives restarts and includes runs of other processes (a CronJob).
import type { IndexStore } from '../index/index-store.js';
import type { Notifier } from '../notify/notifier.js';
import { retentionFailureNotification, retentionSummaryNotification } from '../notify/retention-summary.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { Logger } from '../telemetry/logger.js';
import { LeaseHeldError } from './lease.js';
import type { RetentionConfig } from './retention-config.js';
import { LAST_RUN_NAME, runRetention, type LastRunRecord, type RetentionRunResult } from './retention-run.js';
import { StateStore } from './state-store.js';

export interface RetentionSchedulerDeps {
  blobs: BlobStore;
  index: IndexStore;
  config: RetentionConfig;
  notifier: Notifier;
  logger: Logger;
}

export interface RetentionPolicyCounts {
  policy: string;
  action: string;
  /** Objects acted on successfully / that failed, in runs of this process. */
  succeeded: number;
  failed: number;
  /** dedup: requests dropped as exact duplicates, and the stored bytes that saved, in runs of this process. */
  dropped: number;
  bytesSaved: number;
}

export interface RetentionStats {
  /** Runs of this process: finished without failures, failed (threw, or failed on some objects), skipped (lease held). */
  runs: { succeeded: number; failed: number; skipped: number };
  /** When the last run finished, here or in another process that recorded it; null when none is known. */
  lastRunAtMs: number | null;
  /** When the last run without any failure finished; null when none is known. */
  lastSuccessAtMs: number | null;
  policies: RetentionPolicyCounts[];
  intervalMs: number;
}

export class RetentionScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private readonly abort = new AbortController();
  private stopped = false;
  /** Runs finished (with or without errors), for tests and metrics. */
  runs = 0;
  private readonly outcomes = { succeeded: 0, failed: 0, skipped: 0 };
  private lastRunAtMs: number | null = null;
  private lastSuccessAtMs: number | null = null;
  private readonly policyCounts = new Map<string, RetentionPolicyCounts>();

  constructor(private readonly deps: RetentionSchedulerDeps) {
    for (const policy of deps.config.policies) {
      this.policyCounts.set(policy.name, { policy: policy.name, action: policy.action.type, succeeded: 0, failed: 0, dropped: 0, bytesSaved: 0 });
    }
  }

  start(): void {
    void this.readLastRecord();
    this.schedule();
  }

  stats(): RetentionStats {
    return {
      runs: { ...this.outcomes },
      lastRunAtMs: this.lastRunAtMs,
      lastSuccessAtMs: this.lastSuccessAtMs,
      policies: [...this.policyCounts.values()].map((counts) => ({ ...counts })),
      intervalMs: this.deps.config.interval,
    };
  }

  private noteRun(finishedAtMs: number, succeeded: boolean): void {
    this.lastRunAtMs = Math.max(this.lastRunAtMs ?? 0, finishedAtMs);
    if (succeeded) this.lastSuccessAtMs = Math.max(this.lastSuccessAtMs ?? 0, finishedAtMs);
  }

  /** The run another process (or this one before a restart) recorded; best effort: metrics only. */
  private async readLastRecord(): Promise<void> {
    try {
      const record = await new StateStore(this.deps.blobs).read<LastRunRecord>(LAST_RUN_NAME);
      if (record === null) return;
      const failed = record.summary.policies.some((policy) => policy.objects.failed > 0 || policy.requests.failed > 0);
      this.noteRun(record.summary.finishedAtMs, !failed);
    } catch (error) {
      this.deps.logger.debug({ error: (error as Error).message }, 'could not read the last retention run record');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort.abort();
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce().finally(() => {
        this.running = null;
        this.runs += 1;
        this.schedule();
      });
    }, this.deps.config.interval);
    this.timer.unref();
  }

  private async runOnce(): Promise<void> {
    const { logger, notifier } = this.deps;
    let result: RetentionRunResult;
    try {
      result = await runRetention(
        { blobs: this.deps.blobs, index: this.deps.index, config: this.deps.config, logger },
        { signal: this.abort.signal },
      );
    } catch (error) {
      if (error instanceof LeaseHeldError) {
        logger.info({ reason: error.message }, 'retention run skipped');
        this.outcomes.skipped += 1;
        await this.readLastRecord();
        return;
      }
      this.outcomes.failed += 1;
      this.noteRun(Date.now(), false);
      const message = (error as Error).message;
      logger.error({ error: message }, 'retention run failed');
      notifier.notify(retentionFailureNotification(message));
      return;
    }
    const policies = result.summary.policies;
    const processed = policies.reduce((n, p) => n + p.objects.processed, 0);
    const failed = policies.reduce((n, p) => n + p.objects.failed, 0);
    for (const policy of policies) {
      const counts = this.policyCounts.get(policy.policy);
      if (counts === undefined) continue;
      counts.succeeded += policy.objects.succeeded;
      counts.failed += policy.objects.failed;
      if (policy.dropped !== undefined) {
        counts.dropped += policy.dropped;
        counts.bytesSaved += Math.max(0, policy.bytesBefore - policy.bytesAfter);
      }
    }
    const clean = failed === 0 && policies.every((p) => p.requests.failed === 0);
    this.outcomes[clean ? 'succeeded' : 'failed'] += 1;
    this.noteRun(result.summary.finishedAtMs, clean);
    logger[failed > 0 ? 'error' : 'info'](
      { objects: processed, failed, recovered: result.recovered.length, tookMs: result.summary.finishedAtMs - result.summary.startedAtMs },
      'retention run finished',
    );
    // An empty run is not news; the summary of one that did something (or failed) is.
    if (processed > 0 || result.recovered.length > 0) notifier.notify(retentionSummaryNotification(result.summary));
  }
}
