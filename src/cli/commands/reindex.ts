import type { Command } from 'commander';
import type { ReindexProgress } from '../../index/reindex.js';
import { addStoreOptions, configFrom, requireArchive, type StoreOptions } from '../common.js';
import { EXIT_FAILURE, reportAndExit, UsageError } from '../exit.js';
import { etaText, formatBytes, formatDuration, progressDisplay, type ProgressView } from '../progress.js';

interface ReindexOptions extends StoreOptions {
  prefix?: string;
  concurrency: string;
}

/** close() may take this long to write out what a buffering index (ClickHouse's outbox) still holds. */
const CLOSE_TIMEOUT_MS = 10 * 60_000;

export function registerReindex(program: Command): void {
  addStoreOptions(
    program
      .command('reindex')
      .description('rebuild the index from the archive objects alone (idempotent; adds what is missing)')
      .option('--prefix <prefix>', 'only objects whose key starts with this, e.g. acme/traces/2026/')
      .option('--concurrency <n>', 'archive objects read at once', '4'),
  ).action(async (options: ReindexOptions) => {
    try {
      const concurrency = Number(options.concurrency);
      if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 64) {
        throw new UsageError(`--concurrency must be an integer from 1 to 64, not ${JSON.stringify(options.concurrency)}`);
      }
      const config = configFrom(options);
      requireArchive(config);
      const [{ createBlobStore, createIndexStore }, { reindex }, { createLogger }] = await Promise.all([
        import('../../app/components.js'),
        import('../../index/reindex.js'),
        import('../../telemetry/logger.js'),
      ]);
      // stderr: stdout carries only the summary.
      const logger = createLogger(config.log.level, 'stderr');
      const blobs = await createBlobStore(config);
      await blobs.start();
      const index = await createIndexStore(config, { readonly: false, logger, closeTimeoutMs: CLOSE_TIMEOUT_MS });
      try {
        await index.start();
        const display = progressDisplay(process.stderr, 'reindex');
        const result = await reindex(blobs, index, {
          ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
          readConcurrency: concurrency,
          onProgress: (progress) => display.update(progressView(progress)),
        });
        display.finish(progressView(result));
        for (const { key, reason } of result.skippedObjects) process.stderr.write(`otlp-capture: skipped ${key}: ${reason}\n`);
        process.stdout.write(
          `reindexed ${result.objects - result.skipped} objects, ${result.requests} requests, ` +
            `${formatBytes(result.bytes)} in ${formatDuration(result.elapsedMs)}` +
            (result.skipped > 0 ? `; skipped ${result.skipped} unreadable objects` : '') +
            ` into ${index.describe()}\n`,
        );
        if (result.skipped > 0) process.exitCode = EXIT_FAILURE;
      } finally {
        await index.close();
        await blobs.close();
      }
    } catch (error) {
      reportAndExit(error);
    }
  });
}

function progressView(p: ReindexProgress): ProgressView {
  const fraction = fractionDone(p);
  const skipped = p.skipped > 0 ? `, ${p.skipped} skipped` : '';
  return {
    fraction,
    text:
      `${p.objects}/${p.totalObjects} objects, ${p.requests} requests, ` +
      `${formatBytes(p.bytes)}/${formatBytes(p.totalBytes)}${skipped}${etaText(p.elapsedMs, fraction)}`,
  };
}

/** By bytes (the work is reading objects), or by objects when they are all empty. */
function fractionDone(p: ReindexProgress): number {
  if (p.totalBytes > 0) return p.bytes / p.totalBytes;
  return p.totalObjects > 0 ? p.objects / p.totalObjects : 1;
}
