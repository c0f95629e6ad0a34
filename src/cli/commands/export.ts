import type { Command } from 'commander';
import { parseBytes } from '../../config/units.js';
import type { ExportProgress, ExportSummary } from '../../export/export-engine.js';
import type { OutputCodec } from '../../export/output-codec.js';
import type { ParquetCompression } from '../../export/parquet-file.js';
import type { DestinationSpec } from '../../export/destination.js';
import type { ExportFilter } from '../../export/selection.js';
import { InvalidArgumentError } from '../../errors.js';
import { addStoreOptions, openReadSide, type StoreOptions } from '../common.js';
import { EXIT_FAILURE, reportAndExit, UsageError } from '../exit.js';
import { etaText, formatBytes, formatDuration, progressDisplay } from '../progress.js';
import { selectionFilter } from '../selection-options.js';

interface ExportCliOptions extends StoreOptions {
  to: string;
  format: string;
  compression?: string;
  maxFileSize: string;
  resume?: boolean;
  signal?: string;
  service?: string;
  tenant?: string;
  since?: string;
  until?: string;
  withDuplicates?: boolean;
}

const FORMATS = ['parquet', 'otlp-json'] as const;
const MIN_FILE_BYTES = 2 ** 20;

export function registerExport(program: Command): void {
  addStoreOptions(
    program
      .command('export')
      .description('write captured requests out as Parquet tables or OTLP JSON lines, in Hive-style partitions, to a directory or S3')
      .requiredOption('--to <destination>', 'a directory, or s3://bucket/prefix (with the configured S3 settings)')
      .requiredOption('--format <format>', 'parquet (one flattened table per signal) or otlp-json (the Collector file exporter format)')
      .option('--compression <codec>', 'parquet: zstd (default), snappy, gzip, none; otlp-json: gzip (default), none, zstd')
      .option('--max-file-size <size>', 'start a new part file past this size, e.g. 256MiB', '256MiB')
      .option('--resume', 'skip partitions an earlier run completed (those with a _SUCCESS marker)')
      .option('--signal <signal>', 'traces, metrics or logs (default: all)')
      .option('--service <name>', 'only requests carrying this service.name')
      .option('--since <time>', 'data time range overlaps from this time (ISO-8601, or 15m / 2h / 7d ago)')
      .option('--until <time>', 'data time range overlaps up to this time')
      .option('--tenant <tenant>', 'only this tenant')
      .option('--with-duplicates', 'also export duplicates: requests repeating an earlier one within dedup.window (retries)'),
  ).action(async (options: ExportCliOptions) => {
    try {
      const settings = await parseExportOptions(options);
      const [{ runExport }, { openDestination }] = await Promise.all([
        import('../../export/export-engine.js'),
        import('../../export/destination.js'),
      ]);
      const read = await openReadSide(options);
      try {
        const destination = await openDestination(settings.destination, read.config);
        const abort = new AbortController();
        // SIGTERM too: it is how Kubernetes, systemd and `timeout` stop a job, and dying on it would leave the part
        // files of unfinished partitions and the staged S3 files in $TMPDIR behind.
        const onSignal = (signal: NodeJS.Signals): void => {
          process.stderr.write(`\notlp-capture: ${signal === 'SIGINT' ? 'interrupted' : signal}; stopping the export (complete partitions stay, --resume continues)\n`);
          abort.abort();
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        const display = progressDisplay(process.stderr, 'export');
        try {
          const summary = await runExport(read.query, destination, {
            format: settings.format,
            filter: settings.filter,
            resume: settings.resume,
            ...(settings.codec === undefined ? {} : { codec: settings.codec }),
            ...(settings.parquetCompression === undefined ? {} : { parquetCompression: settings.parquetCompression }),
            maxFileBytes: settings.maxFileBytes,
            createdBy: 'otlp-capture export',
            abort: abort.signal,
            onProgress: (progress) => display.update(progressView(progress, settings.format)),
          });
          display.finish(progressView(summary, settings.format));
          process.stdout.write(`${summaryText(summary, settings.format, destination.describe())}\n`);
          for (const damaged of summary.damaged) process.stderr.write(`otlp-capture: request ${damaged.id} ${damaged.reason}\n`);
          if (summary.damagedRequests > summary.damaged.length) {
            process.stderr.write(`otlp-capture: …and ${summary.damagedRequests - summary.damaged.length} more damaged requests\n`);
          }
          if (summary.aborted || summary.damagedRequests > 0) process.exitCode = EXIT_FAILURE;
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          await destination.close();
        }
      } finally {
        await read.close();
      }
    } catch (error) {
      reportAndExit(error);
    }
  });
}

export interface ExportSettings {
  destination: DestinationSpec;
  format: (typeof FORMATS)[number];
  filter: ExportFilter;
  codec?: OutputCodec;
  parquetCompression?: ParquetCompression;
  maxFileBytes: number;
  resume: boolean;
}

/** Every flag checked before anything is opened, so a typo costs nothing. */
export async function parseExportOptions(options: ExportCliOptions): Promise<ExportSettings> {
  const format = options.format as (typeof FORMATS)[number];
  if (!FORMATS.includes(format)) throw new UsageError(`--format must be parquet or otlp-json, not ${JSON.stringify(options.format)}`);
  const { parseDestination } = await import('../../export/destination.js');
  let destination: DestinationSpec;
  try {
    destination = parseDestination(options.to);
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw new UsageError(error.message);
    throw error;
  }
  const maxFileBytes = parseBytes(options.maxFileSize);
  if (maxFileBytes === null || maxFileBytes < MIN_FILE_BYTES) {
    throw new UsageError(`--max-file-size must be a size of at least 1MiB such as 256MiB, not ${JSON.stringify(options.maxFileSize)}`);
  }
  const filter: ExportFilter = { ...selectionFilter(options), ...(options.withDuplicates ? { withDuplicates: true } : {}) };
  const settings: ExportSettings = { destination, format, filter, maxFileBytes, resume: options.resume === true };
  if (format === 'parquet') {
    const { PARQUET_COMPRESSIONS } = await import('../../export/parquet-file.js');
    const compression = (options.compression ?? 'zstd') as ParquetCompression;
    if (!PARQUET_COMPRESSIONS.includes(compression)) {
      throw new UsageError(`--compression for parquet must be ${PARQUET_COMPRESSIONS.join(', ')}, not ${JSON.stringify(options.compression)}`);
    }
    settings.parquetCompression = compression;
  } else {
    const { outputCodec } = await import('../../export/output-codec.js');
    const codec = outputCodec(options.compression ?? 'gzip');
    if (typeof codec === 'string') throw new UsageError(`--compression: ${codec}`);
    settings.codec = codec;
  }
  return settings;
}

function progressView(p: ExportProgress, format: string): { fraction: number; text: string } {
  const fraction = p.total.bytes > 0 ? p.done.bytes / p.total.bytes : p.total.requests > 0 ? p.done.requests / p.total.requests : 1;
  const unit = format === 'parquet' ? 'rows' : 'lines';
  return {
    fraction,
    text:
      `${p.done.requests}/${p.total.requests} requests, ${formatBytes(p.done.bytes)}/${formatBytes(p.total.bytes)}, ` +
      `${p.written} ${unit}, ${p.partitions} partitions` +
      (fraction < 1 ? etaText(p.elapsedMs, fraction) : ''),
  };
}

export function summaryText(s: ExportSummary, format: string, where: string): string {
  const unit = format === 'parquet' ? 'rows' : 'lines';
  const seconds = s.elapsedMs / 1000;
  const rate = seconds > 0 ? `, ${formatBytes(s.done.bytes / seconds)}/s` : '';
  const read = s.done.requests - s.skippedRequests;
  return (
    `${s.aborted ? 'interrupted after exporting' : 'exported'} ${s.written} ${unit} in ${s.partitions} partitions ` +
    `(${s.files} files, ${formatBytes(s.outputBytes)}) from ${read}/${s.total.requests} requests ` +
    `(${formatBytes(s.done.bytes)} raw OTLP) to ${where} in ${formatDuration(s.elapsedMs)}${rate}` +
    (s.skippedRequests > 0 ? `; ${s.skippedRequests} requests skipped (every partition they touch was complete)` : '') +
    (s.damagedRequests > 0 ? `; ${s.damagedRequests} damaged requests left out` : '') +
    (s.incompletePartitions > 0
      ? `; ${s.incompletePartitions} partitions they could have had data in are written without _SUCCESS (--resume writes them again)`
      : '') +
    (s.clampedItems > 0 ? `; ${s.clampedItems} items outside their request's time range` : '')
  );
}
