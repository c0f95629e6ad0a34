import type { Command } from 'commander';
import { nanosToIso } from '../../query/request-view.js';
import { metadataValue, parseReplayCompression, parseSpeed, parseTimeShift, type ReplayCompression } from '../../replay/replay-options.js';
import type { ReplayProgress, ReplaySummary } from '../../replay/replay-progress.js';
import type { SelectionFilter } from '../../replay/selection.js';
import { addServerOptions, addStoreOptions, openReadSide, type StoreOptions } from '../common.js';
import { EXIT_FAILURE, reportAndExit, UsageError } from '../exit.js';
import { selectionFilter } from '../selection-options.js';
import { etaText, formatBytes, formatDuration, progressDisplay } from '../progress.js';

interface ReplayCliOptions extends StoreOptions {
  to: string;
  insecure?: boolean;
  tls?: boolean;
  ca?: string;
  cert?: string;
  key?: string;
  header: string[];
  signal?: string;
  service?: string;
  since?: string;
  until?: string;
  tenant?: string;
  timeShift: string;
  speed: string;
  concurrency: string;
  compression: string;
  dryRun?: boolean;
  withDuplicates?: boolean;
}

const MAX_CONCURRENCY = 256;

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function registerReplay(program: Command): void {
  addServerOptions(addStoreOptions(
    program
      .command('replay')
      .description('send captured requests to an OTLP/gRPC endpoint: the archived bytes, or with timestamps shifted')
      .requiredOption('--to <host:port>', 'OTLP/gRPC endpoint to send to')
      .option('--insecure', 'plaintext (the default unless --tls)')
      .option('--tls', 'TLS, verified against the system roots or --ca')
      .option('--ca <file>', 'PEM CA certificate(s) to verify the endpoint with (implies --tls)')
      .option('--cert <file>', 'PEM client certificate for mutual TLS (with --key; implies --tls)')
      .option('--key <file>', 'PEM key of --cert')
      .option('--header <key=value>', 'gRPC metadata sent with every request (repeatable), e.g. authorization=Bearer …', collect, [])
      .option('--signal <signal>', 'traces, metrics or logs (default: all)')
      .option('--service <name>', 'only requests carrying this service.name')
      .option('--since <time>', 'data time range overlaps from this time (ISO-8601, or 15m / 2h / 7d ago)')
      .option('--until <time>', 'data time range overlaps up to this time')
      .option('--tenant <tenant>', 'only this tenant')
      .option('--time-shift <shift>', 'none (bytes unchanged), now (earliest data timestamp → now) or a duration: +2h, -30m, 1d', 'none')
      .option('--speed <speed>', 'max, or a real-time factor: 1 = original gaps between requests, 10 = ten times faster', 'max')
      .option('--concurrency <n>', 'requests in flight at once', '4')
      .option('--compression <codec>', 'none, or gzip (grpc-encoding: gzip; 4-8× fewer bytes across a WAN)', 'none')
      .option('--dry-run', 'show what would be sent, send nothing')
      .option('--with-duplicates', 'also send duplicates: requests repeating an earlier one within dedup.window (retries)'),
  )).action(async (options: ReplayCliOptions) => {
    try {
      const settings = parseReplayOptions(options);
      // gRPC and the engine load only for this command (the others start faster without them).
      const [{ GrpcTarget }, { replay }] = await Promise.all([import('../../replay/grpc-target.js'), import('../../replay/replay-engine.js')]);
      const read = await openReadSide(options);
      const target = settings.dryRun ? null : new GrpcTarget(settings.target);
      const abort = new AbortController();
      const onSigint = (): void => {
        process.stderr.write('\notlp-capture: interrupted; stopping the replay\n');
        abort.abort();
      };
      process.once('SIGINT', onSigint);
      const display = progressDisplay(process.stderr, 'replay');
      try {
        const summary = await replay(read.query, target, {
          filter: settings.filter,
          timeShift: settings.timeShift,
          speed: settings.speed,
          concurrency: settings.concurrency,
          dryRun: settings.dryRun,
          withDuplicates: settings.withDuplicates,
          abort: abort.signal,
          onProgress: settings.dryRun ? undefined : (progress) => display.update(progressView(progress)),
        });
        if (!settings.dryRun) display.finish(progressView(summary));
        process.stdout.write(`${summaryText(summary, settings.target.address)}\n`);
        if (summary.failure) {
          process.stderr.write(`otlp-capture: replay stopped: ${summary.failure.signal} request ${summary.failure.requestId} ${summary.failure.reason}\n`);
        }
        for (const rejection of summary.rejections) process.stderr.write(`otlp-capture: partial success: ${rejection}\n`);
        if (!settings.dryRun && !summary.delivered) process.exitCode = EXIT_FAILURE;
      } finally {
        process.off('SIGINT', onSigint);
        target?.close();
        await read.close();
      }
    } catch (error) {
      reportAndExit(error);
    }
  });
}

interface ReplaySettings {
  target: {
    address: string;
    tls: boolean;
    caFile?: string;
    certFile?: string;
    keyFile?: string;
    headers: Record<string, string>;
    compression: ReplayCompression;
  };
  filter: SelectionFilter;
  timeShift: ReturnType<typeof parseTimeShift>;
  speed: ReturnType<typeof parseSpeed>;
  concurrency: number;
  dryRun: boolean;
  withDuplicates: boolean;
}

/** Every flag checked before anything is opened, so a typo costs nothing. */
export function parseReplayOptions(options: ReplayCliOptions): ReplaySettings {
  if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/.test(options.to)) {
    throw new UsageError(`--to must be HOST:PORT, e.g. collector:4317 or [::1]:4317: not ${JSON.stringify(options.to)}`);
  }
  const wantsTls = options.tls === true || [options.ca, options.cert, options.key].some((file) => file !== undefined);
  if (options.insecure && wantsTls) throw new UsageError('--insecure cannot be combined with --tls, --ca, --cert or --key');
  if ((options.cert === undefined) !== (options.key === undefined)) throw new UsageError('--cert and --key go together');
  const headers: Record<string, string> = {};
  for (const header of options.header) {
    const at = header.indexOf('=');
    const key = at > 0 ? header.slice(0, at).trim().toLowerCase() : '';
    if (!/^[0-9a-z_.-]+$/.test(key)) {
      throw new UsageError(`--header must be KEY=VALUE with a key of 0-9 a-z _ . -: not ${JSON.stringify(header.slice(0, 80))}`);
    }
    headers[key] = header.slice(at + 1);
    asUsage('--header', () => metadataValue(key, headers[key]!));
  }
  const filter = selectionFilter(options);
  const concurrency = Number(options.concurrency);
  if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
    throw new UsageError(`--concurrency must be an integer from 1 to ${MAX_CONCURRENCY}, not ${JSON.stringify(options.concurrency)}`);
  }
  const timeShift = asUsage('--time-shift', () => parseTimeShift(options.timeShift));
  const speed = asUsage('--speed', () => parseSpeed(options.speed));
  const compression = asUsage('--compression', () => parseReplayCompression(options.compression));
  return {
    target: {
      address: options.to,
      tls: wantsTls,
      ...(options.ca === undefined ? {} : { caFile: options.ca }),
      ...(options.cert === undefined ? {} : { certFile: options.cert }),
      ...(options.key === undefined ? {} : { keyFile: options.key }),
      headers,
      compression,
    },
    filter,
    timeShift,
    speed,
    concurrency,
    dryRun: options.dryRun === true,
    withDuplicates: options.withDuplicates === true,
  };
}

function asUsage<T>(flag: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError(`${flag}: ${(error as Error).message}`);
  }
}

function progressView(p: ReplayProgress): { fraction: number; text: string } {
  const fraction = p.total.bytes > 0 ? p.sent.bytes / p.total.bytes : p.total.requests > 0 ? p.sent.requests / p.total.requests : 1;
  const problems = [p.retried > 0 ? `${p.retried} retried` : '', p.failed > 0 ? `${p.failed} failed` : '']
    .filter((text) => text !== '')
    .join(', ');
  return {
    fraction,
    text:
      `${p.sent.requests}/${p.total.requests} requests, ${p.sent.items} items, ` +
      `${formatBytes(p.sent.bytes)}/${formatBytes(p.total.bytes)}${problems === '' ? '' : `, ${problems}`}` +
      (p.done ? '' : etaText(p.elapsedMs, fraction)),
  };
}

export function summaryText(s: ReplaySummary, address: string): string {
  const range = s.earliestNs === null || s.latestNs === null ? 'no data' : `data from ${nanosToIso(s.earliestNs)} to ${nanosToIso(s.latestNs)}`;
  const shift = s.offsetNs === 0n ? 'timestamps unchanged' : `timestamps shifted by ${formatOffset(s.offsetNs)}`;
  if (s.dryRun) {
    return (
      `dry run: would replay ${s.total.requests} requests (${s.total.items} items, ${formatBytes(s.total.bytes)}) to ${address}; ` +
      `${range}; ${shift}`
    );
  }
  const seconds = s.elapsedMs / 1000;
  const rate = seconds > 0 ? `, ${formatBytes(s.sent.bytes / seconds)}/s` : '';
  const outcome = s.delivered ? 'replayed' : s.aborted ? 'interrupted after replaying' : 'incomplete: replayed';
  return (
    `${outcome} ${s.sent.requests}/${s.total.requests} requests (${s.sent.items} items, ${formatBytes(s.sent.bytes)}) ` +
    `to ${address} in ${formatDuration(s.elapsedMs)}${rate}; ${shift}; ` +
    `sent ${s.sent.requests}, retried ${s.retried}, failed ${s.failed}` +
    (s.rejectedItems > 0 ? `, ${s.rejectedItems} items rejected by the target` : '') +
    (s.total.requests - s.sent.requests - s.failed > 0 ? `, not sent ${s.total.requests - s.sent.requests - s.failed}` : '')
  );
}

/** Signed and compact: 7_200_000_000_000n → "+2h", -90_000_000_000n → "-1m30s", 15_056_000_000n → "+15.056s". */
export function formatOffset(ns: bigint): string {
  const sign = ns < 0n ? '-' : '+';
  let rest = ns < 0n ? -ns : ns;
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400_000_000_000n], ['h', 3_600_000_000_000n], ['m', 60_000_000_000n]] as const) {
    if (rest >= size) parts.push(`${rest / size}${unit}`);
    rest %= size;
  }
  if (rest > 0n || parts.length === 0) {
    const seconds = rest / 1_000_000_000n;
    const nanos = rest % 1_000_000_000n;
    const fraction = nanos === 0n ? '' : `.${nanos.toString().padStart(9, '0').replace(/0+$/, '')}`;
    parts.push(`${seconds}${fraction}s`);
  }
  return `${sign}${parts.join('')}`;
}
