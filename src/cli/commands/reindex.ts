import type { Command } from 'commander';
import type { ReindexProgress } from '../../index/reindex.js';
import { addStoreOptions, configFrom, type StoreOptions } from '../common.js';
import { EXIT_FAILURE, reportAndExit, UsageError } from '../exit.js';

interface ReindexOptions extends StoreOptions {
  prefix?: string;
  concurrency: string;
}

/** close() may take this long to write out what a buffering index (ClickHouse's outbox) still holds. */
const CLOSE_TIMEOUT_MS = 10 * 60_000;
const REDRAW_MS = 100;
const LINE_EVERY_MS = 2000;

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
        const display = process.stderr.isTTY ? new ProgressBar(process.stderr) : new ProgressLines(process.stderr);
        const result = await reindex(blobs, index, {
          ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
          readConcurrency: concurrency,
          onProgress: (progress) => display.update(progress),
        });
        display.finish(result);
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

/** A one-line bar redrawn in place (terminals). */
class ProgressBar {
  private lastDraw = 0;
  constructor(private readonly out: NodeJS.WriteStream) {}

  update(progress: ReindexProgress): void {
    const now = Date.now();
    if (now - this.lastDraw < REDRAW_MS && progress.objects < progress.totalObjects) return;
    this.lastDraw = now;
    const width = Math.max(10, Math.min(40, (this.out.columns ?? 80) - 70));
    this.out.write(`\r\x1b[2K${progressBar(progress, width)} ${progressText(progress)}`);
  }

  finish(progress: ReindexProgress): void {
    this.out.write(`\r\x1b[2K${progressBar(progress, Math.max(10, Math.min(40, (this.out.columns ?? 80) - 70)))} ${progressText(progress)}\n`);
  }
}

/** Plain lines, at most one every few seconds (logs, pipes). */
class ProgressLines {
  private lastLine = 0;
  constructor(private readonly out: NodeJS.WritableStream) {}

  update(progress: ReindexProgress): void {
    const now = Date.now();
    if (now - this.lastLine < LINE_EVERY_MS) return;
    this.lastLine = now;
    this.out.write(`reindex: ${progressText(progress)}\n`);
  }

  finish(progress: ReindexProgress): void {
    this.out.write(`reindex: ${progressText(progress)}\n`);
  }
}

export function progressBar(progress: ReindexProgress, width: number): string {
  const fraction = fractionDone(progress);
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%`;
}

export function progressText(p: ReindexProgress): string {
  const fraction = fractionDone(p);
  const eta = fraction > 0 && fraction < 1 ? `, ETA ${formatDuration((p.elapsedMs * (1 - fraction)) / fraction)}` : '';
  const skipped = p.skipped > 0 ? `, ${p.skipped} skipped` : '';
  return (
    `${p.objects}/${p.totalObjects} objects, ${p.requests} requests, ` +
    `${formatBytes(p.bytes)}/${formatBytes(p.totalBytes)}${skipped}${eta}`
  );
}

/** By bytes (the work is reading objects), or by objects when they are all empty. */
function fractionDone(p: ReindexProgress): number {
  if (p.totalBytes > 0) return p.bytes / p.totalBytes;
  return p.totalObjects > 0 ? p.objects / p.totalObjects : 1;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
