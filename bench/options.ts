// Benchmark settings: defaults, overridden by BENCH_* environment variables, overridden by --flags.
import { parseArgs } from 'node:util';

export interface BenchOptions {
  /** Measurement window per case, seconds. */
  durationSeconds: number;
  /** Load before the window starts (connections warm, JIT done, archiver running), seconds. */
  warmupSeconds: number;
  /** Concurrent clients for the ratio cases (one Export in flight each). */
  clients: number;
  /** Concurrent clients for the overload case. */
  overloadClients: number;
  /** admission.maxInFlightBytes for the overload case. */
  overloadBudgetBytes: number;
  /** Distinct pre-encoded requests, sent round-robin. */
  payloadCount: number;
  payloadBytes: number;
  /** With gzip, let grpc-js gzip each call itself instead of serving precompressed bytes. */
  perCallGzip: boolean;
  /** Only cases whose name contains one of these (comma-separated); all when empty. */
  only: string[];
  /** Directory for the capture server's --cpu-prof output; no profiling when empty. */
  cpuProfileDir: string;
  /** How long a capture server may take to stop (it archives its spool first), seconds. */
  stopTimeoutSeconds: number;
  /** Time budget per micro-benchmark, milliseconds. */
  microMs: number;
  /** Where to write the JSON results; bench/results/bench-<time>.json when empty. */
  resultsFile: string;
  /** A case during which other processes used more CPU than this (% of a core) is run again... */
  noisyPercent: number;
  /** ...at most this many more times; the quietest run is kept. */
  noisyRetries: number;
  /** Before each case, wait up to this long for the machine to be idle (0: do not wait), seconds. */
  quietWaitSeconds: number;
  /** Also run the capture cases on S3 + ClickHouse (s3rver and ClickHouse 18.16 started on loopback). */
  s3ClickHouse: boolean;
  /** Also run a capture case with retention re-encoding objects inside serve, and its baseline. */
  retention: boolean;
  /** Run the storm cases (one connection, 128 Exports retried at once) and their 8-stream baseline. */
  storm: boolean;
  /** Checkout whose bin/otlp-capture.js is the capture server under test (another build, e.g. main); this one when empty. */
  serverRoot: string;
  /** Raw OTLP MiB in the export case's archive (0: no export case). `--only=export` runs the export case alone. */
  exportMib: number;
}

const MIB = 2 ** 20;

const FLAGS = {
  duration: { env: 'BENCH_DURATION', fallback: '15' },
  warmup: { env: 'BENCH_WARMUP', fallback: '3' },
  clients: { env: 'BENCH_CLIENTS', fallback: '8' },
  'overload-clients': { env: 'BENCH_OVERLOAD_CLIENTS', fallback: '128' },
  'overload-budget-mib': { env: 'BENCH_OVERLOAD_BUDGET_MIB', fallback: '64' },
  payloads: { env: 'BENCH_PAYLOADS', fallback: '4' },
  'payload-kib': { env: 'BENCH_PAYLOAD_KIB', fallback: '1024' },
  'per-call-gzip': { env: 'BENCH_PER_CALL_GZIP', fallback: '0' },
  only: { env: 'BENCH_ONLY', fallback: '' },
  'cpu-prof': { env: 'BENCH_CPU_PROF', fallback: '' },
  'stop-timeout': { env: 'BENCH_STOP_TIMEOUT', fallback: '120' },
  'micro-ms': { env: 'BENCH_MICRO_MS', fallback: '1500' },
  results: { env: 'BENCH_RESULTS', fallback: '' },
  'noisy-percent': { env: 'BENCH_NOISY_PERCENT', fallback: '15' },
  'noisy-retries': { env: 'BENCH_NOISY_RETRIES', fallback: '2' },
  'quiet-wait': { env: 'BENCH_QUIET_WAIT', fallback: '120' },
  's3-clickhouse': { env: 'BENCH_S3_CLICKHOUSE', fallback: '1' },
  retention: { env: 'BENCH_RETENTION', fallback: '0' },
  storm: { env: 'BENCH_STORM', fallback: '1' },
  'server-root': { env: 'BENCH_SERVER_ROOT', fallback: '' },
  'export-mib': { env: 'BENCH_EXPORT_MIB', fallback: '128' },
} as const;

type Flag = keyof typeof FLAGS;

export const USAGE = `npm run bench [-- --flag=value ...]   (or the BENCH_* environment variable)
${Object.entries(FLAGS).map(([flag, { env, fallback }]) => `  --${flag.padEnd(20)} ${env.padEnd(26)} default ${fallback || '(none)'}`).join('\n')}`;

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: { ...Object.fromEntries(Object.keys(FLAGS).map((flag) => [flag, { type: 'string' as const }])), help: { type: 'boolean' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const given = values as Record<string, string | boolean | undefined>;
  const raw = (flag: Flag): string => {
    const value = given[flag];
    return typeof value === 'string' ? value : env[FLAGS[flag].env] ?? FLAGS[flag].fallback;
  };
  const number = (flag: Flag, min: number): number => {
    const value = Number(raw(flag));
    if (!Number.isFinite(value) || value < min) throw new Error(`--${flag} (${FLAGS[flag].env}) must be a number >= ${min}, got ${raw(flag)}`);
    return value;
  };
  return {
    durationSeconds: number('duration', 1),
    warmupSeconds: number('warmup', 0),
    clients: Math.round(number('clients', 1)),
    overloadClients: Math.round(number('overload-clients', 1)),
    overloadBudgetBytes: Math.round(number('overload-budget-mib', 1) * MIB),
    payloadCount: Math.round(number('payloads', 1)),
    payloadBytes: Math.round(number('payload-kib', 1) * 1024),
    perCallGzip: ['1', 'true', 'yes'].includes(raw('per-call-gzip')),
    only: raw('only').split(',').map((s) => s.trim()).filter((s) => s !== ''),
    cpuProfileDir: raw('cpu-prof'),
    stopTimeoutSeconds: number('stop-timeout', 1),
    microMs: number('micro-ms', 100),
    resultsFile: raw('results'),
    noisyPercent: number('noisy-percent', 0),
    noisyRetries: Math.round(number('noisy-retries', 0)),
    quietWaitSeconds: number('quiet-wait', 0),
    s3ClickHouse: ['1', 'true', 'yes'].includes(raw('s3-clickhouse')),
    retention: ['1', 'true', 'yes'].includes(raw('retention')),
    storm: ['1', 'true', 'yes'].includes(raw('storm')),
    serverRoot: raw('server-root'),
    exportMib: number('export-mib', 0),
  };
}
