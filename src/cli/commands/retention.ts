// `otlp-capture retention run|status`: apply the configured retention policies once (a CronJob's command), or show
// the lease, the last run and what a killed run left to finish.
import type { Command } from 'commander';
import type { RetentionRunResult } from '../../retention/retention-run.js';
import type { RetentionStatus } from '../../retention/retention-status.js';
import { addStoreOptions, configFrom, requireArchive, type StoreOptions } from '../common.js';
import { EXIT_FAILURE, reportAndExit, UsageError } from '../exit.js';
import { etaText, formatBytes, formatDuration, progressDisplay } from '../progress.js';

interface RunOptions extends StoreOptions {
  dryRun?: boolean;
  policy?: string;
  asOf?: string;
  json?: boolean;
}

interface StatusOptions extends StoreOptions {
  json?: boolean;
}

/** How long a run waits for Slack to take its summary before exiting. */
const NOTIFY_TIMEOUT_MS = 15_000;
/** close() may take this long to write out what a buffering index (ClickHouse's outbox) still holds. */
const CLOSE_TIMEOUT_MS = 60_000;

export function registerRetention(program: Command): void {
  const retention = program.command('retention').description('apply retention policies (delete, archive, compress, dedup) to archived data');
  addStoreOptions(
    retention
      .command('run')
      .description('apply the configured policies once; exits 1 when any object failed or another run holds the lease')
      .option('--dry-run', 'change nothing; list the objects a real run would act on now')
      .option('--policy <name>', 'only objects whose first matching policy is this one')
      .option('--as-of <time>', 'judge ages as of this time (ISO-8601, or unix ms) instead of now')
      .option('--json', 'print the result as JSON on stdout'),
  ).action(async (options: RunOptions) => {
    try {
      const asOfMs = parseAsOf(options.asOf);
      const result = await runOnce(options, asOfMs);
      if (result === null) return;
      printResult(result, options.json === true);
      const failed = result.items.some((i) => i.outcome === 'failed') || result.recovered.some((r) => r.outcome === 'failed');
      if (failed) process.exitCode = EXIT_FAILURE;
    } catch (error) {
      reportAndExit(error);
    }
  });
  addStoreOptions(
    retention
      .command('status')
      .description('show the lease holder, the last run and journal entries still to finish')
      .option('--json', 'print the status as JSON on stdout'),
  ).action(async (options: StatusOptions) => {
    try {
      const config = configFrom(options);
      requireArchive(config);
      const [{ createBlobStore }, { readRetentionStatus }] = await Promise.all([
        import('../../app/components.js'),
        import('../../retention/retention-status.js'),
      ]);
      const blobs = await createBlobStore(config);
      await blobs.start();
      try {
        const status = await readRetentionStatus(blobs);
        process.stdout.write(options.json ? `${JSON.stringify(status)}\n` : statusText(status, config.retention !== undefined));
      } finally {
        await blobs.close();
      }
    } catch (error) {
      reportAndExit(error);
    }
  });
}

export function parseAsOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms)) throw new UsageError(`--as-of must be an ISO-8601 time (2026-01-31T00:00:00Z) or unix ms, not ${JSON.stringify(value)}`);
  return ms;
}

async function runOnce(options: RunOptions, asOfMs: number | undefined): Promise<RetentionRunResult | null> {
  const config = configFrom(options);
  const [{ createBlobStore, createIndexStore, createNotifier }, setup, { runRetention }, { crashHookFromEnv }, { createLogger }, summary, { deliverOnce }] =
    await Promise.all([
      import('../../app/components.js'),
      import('../../retention/retention-setup.js'),
      import('../../retention/retention-run.js'),
      import('../../retention/crash-hook.js'),
      import('../../telemetry/logger.js'),
      import('../../notify/retention-summary.js'),
      import('../../notify/deliver-once.js'),
    ]);
  const retention = setup.retentionSection(config);
  if (retention === null) {
    process.stderr.write('otlp-capture: retention is not configured (no retention section in the configuration): nothing to do\n');
    return null;
  }
  requireArchive(config);
  const crash = crashHookFromEnv();
  const logger = createLogger(config.log.level, 'stderr');
  const dryRun = options.dryRun === true;
  const blobs = await createBlobStore(config, { logger });
  await blobs.start();
  try {
    setup.checkArchiveTargets(retention, blobs);
    const index = await createIndexStore(config, { readonly: dryRun, logger, closeTimeoutMs: CLOSE_TIMEOUT_MS });
    await index.start();
    let result: RetentionRunResult;
    try {
      const display = progressDisplay(process.stderr, 'retention');
      const view = (p: { scanned: number; matched: number; done: number; failed: number; scanComplete: boolean; elapsedMs: number }) => {
        const fraction = p.scanComplete ? (p.matched === 0 ? 1 : p.done / p.matched) : 0;
        return {
          fraction,
          text:
            `${p.done}/${p.matched}${p.scanComplete ? '' : '+'} objects` +
            `${p.failed > 0 ? `, ${p.failed} failed` : ''}, ${p.scanned} scanned${p.scanComplete ? etaText(p.elapsedMs, fraction) : ''}`,
        };
      };
      result = await runRetention(
        { blobs, index, config: retention, logger, crash },
        {
          dryRun,
          ...(options.policy === undefined ? {} : { policy: options.policy }),
          ...(asOfMs === undefined ? {} : { asOfMs }),
          ...(dryRun ? {} : { onProgress: (p) => display.update(view(p)) }),
        },
      );
      if (!dryRun) {
        const done = result.items.length;
        display.finish(view({ scanned: 0, matched: done, done, failed: result.items.filter((i) => i.outcome === 'failed').length, scanComplete: true, elapsedMs: 0 }));
      }
    } finally {
      await index.close();
    }
    const notifier = createNotifier(config, logger);
    if (notifier.enabled) {
      const outcome = await deliverOnce(notifier, [summary.retentionSummaryNotification(result.summary)], NOTIFY_TIMEOUT_MS);
      for (const failure of outcome.failures) process.stderr.write(`otlp-capture: summary not delivered to ${failure.webhook}: ${failure.reason}\n`);
      if (outcome.pending > 0) process.stderr.write('otlp-capture: summary not delivered in time\n');
    }
    return result;
  } finally {
    await blobs.close();
  }
}

function printResult(result: RetentionRunResult, json: boolean): void {
  const { summary, items, recovered } = result;
  if (json) {
    const recoveredOut = recovered.map((r) => ({ key: r.entry.oldKey, action: r.entry.action, phase: r.entry.phase, outcome: r.outcome, ...(r.error ? { error: r.error } : {}) }));
    process.stdout.write(`${JSON.stringify({ summary, items, recovered: recoveredOut })}\n`);
    return;
  }
  const out: string[] = [];
  for (const r of recovered) {
    out.push(`recovered ${r.entry.action} of ${r.entry.oldKey} (interrupted at ${r.entry.phase}): ${r.outcome}${r.error ? `: ${r.error}` : ''}`);
  }
  if (summary.dryRun) {
    for (const item of items) {
      if (item.outcome === 'failed') {
        out.push(`would leave ${item.key} as it is (policy ${item.policy}): ${item.error}`);
        continue;
      }
      const drops = item.dropped === undefined ? '' : `, would drop ${item.dropped} duplicate${item.dropped === 1 ? '' : 's'}`;
      out.push(`would ${item.action} ${item.key} (policy ${item.policy}, ${item.requests} requests, ${formatBytes(item.bytesBefore)}${drops})${item.error ? `: ${item.error}` : ''}`);
    }
  } else {
    for (const item of items.filter((i) => i.outcome === 'failed')) out.push(`failed: ${item.error}`);
  }
  for (const p of summary.policies) {
    out.push(
      `${summary.dryRun ? '[dry run] ' : ''}${p.policy} (${p.action}): objects ${p.objects.processed} processed, ${p.objects.succeeded} succeeded, ` +
        `${p.objects.failed} failed; requests ${p.requests.processed} processed, ${p.requests.succeeded} succeeded, ${p.requests.failed} failed` +
        `${p.dropped === undefined ? '' : `, ${p.dropped} duplicates ${summary.dryRun ? 'would be ' : ''}dropped`}; ` +
        `${formatBytes(p.bytesBefore)} → ${formatBytes(p.bytesAfter)}`,
    );
  }
  out.push(`retention ${summary.dryRun ? 'dry run' : 'run'} took ${formatDuration(summary.finishedAtMs - summary.startedAtMs)}${summary.asOf ? ` (as of ${summary.asOf})` : ''}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

function statusText(status: RetentionStatus, configured: boolean): string {
  const lines: string[] = [];
  if (!configured) lines.push('retention: not configured (no retention section); showing what the store records');
  const lease = status.lease;
  lines.push(
    lease === null
      ? 'lease: free'
      : `lease: ${lease.live ? 'held' : 'expired'} by ${lease.host} pid ${lease.pid} since ${new Date(lease.acquiredAtMs).toISOString()}, ` +
          `expires ${new Date(lease.expiresAtMs).toISOString()}`,
  );
  const last = status.lastRun;
  if (last === null) lines.push('last run: none recorded');
  else {
    const s = last.summary;
    const objects = s.policies.reduce((n, p) => n + p.objects.processed, 0);
    const failed = s.policies.reduce((n, p) => n + p.objects.failed, 0);
    lines.push(
      `last run: ${new Date(s.startedAtMs).toISOString()} on ${last.host}, took ${formatDuration(s.finishedAtMs - s.startedAtMs)}: ` +
        `${objects} objects, ${failed} failed${last.recovered > 0 ? `, ${last.recovered} interrupted operations finished first` : ''}`,
    );
    for (const p of s.policies) {
      const drops = p.dropped === undefined ? '' : `, ${p.dropped} duplicates dropped`;
      lines.push(`  ${p.policy} (${p.action}): ${p.objects.succeeded}/${p.objects.processed} objects${drops}, ${formatBytes(p.bytesBefore)} → ${formatBytes(p.bytesAfter)}`);
    }
  }
  lines.push(`journal: ${status.pending.length} pending operation${status.pending.length === 1 ? '' : 's'}`);
  for (const e of status.pending) lines.push(`  ${e.action} ${e.oldKey} at ${e.phase}${e.newKey ? ` → ${e.newKey}` : ''} (since ${new Date(e.updatedAtMs).toISOString()})`);
  if (status.keptAsIs > 0) {
    lines.push(`compress: ${status.keptAsIs} object${status.keptAsIs === 1 ? '' : 's'} left as they were (re-encoding did not shrink them; a stronger setting tries again)`);
  }
  if (status.deduplicated > 0) lines.push(`dedup: ${status.deduplicated} object${status.deduplicated === 1 ? '' : 's'} deduplicated (not looked at again unless a wider window asks)`);
  return `${lines.join('\n')}\n`;
}
