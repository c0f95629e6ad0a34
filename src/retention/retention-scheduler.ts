// Retention inside `serve`: a run every `interval`, the first one interval after start (a restart loop then never
// turns into a retention loop, and start-up stays quick). Runs never overlap: the next is scheduled when the last
// ends. stop() stops taking new objects, lets those in flight finish (each is short: one object), and releases the
// lease. A failed run is logged and alerted; a run that finds the lease held (a CronJob is running) is skipped
// quietly. Ingest is never waited on: retention shares only the blob store, index and compression threads.
import type { IndexStore } from '../index/index-store.js';
import type { Notifier } from '../notify/notifier.js';
import { retentionSummaryNotification } from '../notify/retention-summary.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { Logger } from '../telemetry/logger.js';
import { LeaseHeldError } from './lease.js';
import type { RetentionConfig } from './retention-config.js';
import { runRetention, type RetentionRunResult } from './retention-run.js';

export interface RetentionSchedulerDeps {
  blobs: BlobStore;
  index: IndexStore;
  config: RetentionConfig;
  notifier: Notifier;
  logger: Logger;
}

export class RetentionScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private readonly abort = new AbortController();
  private stopped = false;
  /** Runs finished (with or without errors), for tests and metrics. */
  runs = 0;

  constructor(private readonly deps: RetentionSchedulerDeps) {}

  start(): void {
    this.schedule();
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
        return;
      }
      const message = (error as Error).message;
      logger.error({ error: message }, 'retention run failed');
      notifier.notify({
        kind: 'alert',
        priority: 'high',
        title: 'Retention run failed',
        text: `*Retention run failed*\n${message}`,
        dedupKey: 'retention-run-failed',
      });
      return;
    }
    const policies = result.summary.policies;
    const processed = policies.reduce((n, p) => n + p.objects.processed, 0);
    const failed = policies.reduce((n, p) => n + p.objects.failed, 0);
    logger[failed > 0 ? 'error' : 'info'](
      { objects: processed, failed, recovered: result.recovered.length, tookMs: result.summary.finishedAtMs - result.summary.startedAtMs },
      'retention run finished',
    );
    // An empty run is not news; the summary of one that did something (or failed) is.
    if (processed > 0 || result.recovered.length > 0) notifier.notify(retentionSummaryNotification(result.summary));
  }
}
