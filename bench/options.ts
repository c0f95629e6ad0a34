// Benchmark settings: defaults, overridden by BENCH_* environment variables, overridden by --flags.
import { parseArgs } from 'node:util';
import { parseColdCompress, type ColdCompressSetting } from './cold-compress.js';

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
  /** Which trace requests the load sends: instrumentation-shaped (`instrumented`) or every-AnyValue-kind with random values (`rich`). */
  payloadKind: PayloadKind;
  /** With gzip, let grpc-js gzip each call itself instead of serving precompressed bytes. */
  perCallGzip: boolean;
  /** Only cases whose name contains one of these (comma-separated); all when empty. */
  only: string[];
  /** Directory for the capture server's --cpu-prof output; no profiling when empty. */
  cpuProfileDir: string;
  /** Further node flags for the capture server, space-separated (e.g. --perf-basic-prof for `perf record -p`). */
  serverNodeFlags: string[];
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
  /** Also run the sustained cases (issue #16): discard and capture, plain and gzip, for sustainedSeconds each. */
  sustained: boolean;
  /** With the sustained cases: the floor cases (discard server + durable append, + zstd-1, + scan), plain. */
  floor: boolean;
  /** Measurement window of a sustained case, seconds. */
  sustainedSeconds: number;
  /** After each sustained capture case, re-encode its archive with one retention compress run (null: don't). */
  coldCompress: ColdCompressSetting | null;
  /** Also run a capture case with a stalled tail subscriber (Tail RPC, never read), and its baseline. */
  tail: boolean;
  /** Run the storm cases (one connection, 128 Exports retried at once) and their 8-stream baseline. */
  storm: boolean;
  /** Checkout whose bin/otlp-capture.js is the capture server under test (another build, e.g. main); this one when empty. */
  serverRoot: string;
  /** Raw OTLP MiB in the export case's archive (0: no export case). `--only=export` runs the export case alone. */
  exportMib: number;
  /**
   * The index-scale case (bench/index-scale.ts): 0 = off; otherwise a factor on the sizes below (1 = as given, 0.02 =
   * a quick run at 2 %). `--only index-scale` runs it alone.
   */
  indexScale: number;
  /** Sizes (rows) ClickHouse is measured at, ascending; filled once, measured on the way. */
  indexRows: number[];
  /** Sizes (rows) SQLite is measured at. */
  indexSqliteRows: number[];
  indexEngines: string[];
  /** Rows written through the ClickHouse adapter's insert path to measure its rate (scaled like the sizes). */
  indexInsertRows: number;
  indexQueryRuns: number;
  indexCliRuns: number;
}

const MIB = 2 ** 20;

export const PAYLOAD_KINDS = ['instrumented', 'rich'] as const;
export type PayloadKind = (typeof PAYLOAD_KINDS)[number];

function payloadKind(value: string): PayloadKind {
  if ((PAYLOAD_KINDS as readonly string[]).includes(value)) return value as PayloadKind;
  throw new Error(`--payload-kind (BENCH_PAYLOAD_KIND) must be one of ${PAYLOAD_KINDS.join(', ')}, got ${value}`);
}

const FLAGS = {
  duration: { env: 'BENCH_DURATION', fallback: '15' },
  warmup: { env: 'BENCH_WARMUP', fallback: '3' },
  clients: { env: 'BENCH_CLIENTS', fallback: '8' },
  'overload-clients': { env: 'BENCH_OVERLOAD_CLIENTS', fallback: '128' },
  'overload-budget-mib': { env: 'BENCH_OVERLOAD_BUDGET_MIB', fallback: '64' },
  payloads: { env: 'BENCH_PAYLOADS', fallback: '4' },
  'payload-kib': { env: 'BENCH_PAYLOAD_KIB', fallback: '1024' },
  'payload-kind': { env: 'BENCH_PAYLOAD_KIND', fallback: 'instrumented' },
  'per-call-gzip': { env: 'BENCH_PER_CALL_GZIP', fallback: '0' },
  only: { env: 'BENCH_ONLY', fallback: '' },
  'cpu-prof': { env: 'BENCH_CPU_PROF', fallback: '' },
  'server-node-flags': { env: 'BENCH_SERVER_NODE_FLAGS', fallback: '' },
  'stop-timeout': { env: 'BENCH_STOP_TIMEOUT', fallback: '120' },
  'micro-ms': { env: 'BENCH_MICRO_MS', fallback: '1500' },
  results: { env: 'BENCH_RESULTS', fallback: '' },
  'noisy-percent': { env: 'BENCH_NOISY_PERCENT', fallback: '15' },
  'noisy-retries': { env: 'BENCH_NOISY_RETRIES', fallback: '2' },
  'quiet-wait': { env: 'BENCH_QUIET_WAIT', fallback: '120' },
  's3-clickhouse': { env: 'BENCH_S3_CLICKHOUSE', fallback: '1' },
  retention: { env: 'BENCH_RETENTION', fallback: '0' },
  tail: { env: 'BENCH_TAIL', fallback: '0' },
  storm: { env: 'BENCH_STORM', fallback: '1' },
  'server-root': { env: 'BENCH_SERVER_ROOT', fallback: '' },
  'export-mib': { env: 'BENCH_EXPORT_MIB', fallback: '128' },
  'index-scale': { env: 'BENCH_INDEX_SCALE', fallback: '0' },
  'index-rows': { env: 'BENCH_INDEX_ROWS', fallback: '5000000,50000000' },
  'index-sqlite-rows': { env: 'BENCH_INDEX_SQLITE_ROWS', fallback: '1000000,10000000' },
  'index-engines': { env: 'BENCH_INDEX_ENGINES', fallback: 'clickhouse-18.16,chdb,sqlite' },
  'index-insert-rows': { env: 'BENCH_INDEX_INSERT_ROWS', fallback: '2000000' },
  'index-query-runs': { env: 'BENCH_INDEX_QUERY_RUNS', fallback: '7' },
  'index-cli-runs': { env: 'BENCH_INDEX_CLI_RUNS', fallback: '3' },
  sustained: { env: 'BENCH_SUSTAINED', fallback: '1' },
  floor: { env: 'BENCH_FLOOR', fallback: '1' },
  'sustained-duration': { env: 'BENCH_SUSTAINED_DURATION', fallback: '60' },
  'cold-compress': { env: 'BENCH_COLD_COMPRESS', fallback: 'zstd-9' },
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
  const sizes = (flag: Flag): number[] => {
    const list = raw(flag).split(',').map((s) => Number(s.trim()));
    if (list.some((n) => !Number.isSafeInteger(n) || n < 1)) throw new Error(`--${flag} (${FLAGS[flag].env}) must be row counts such as 5000000,50000000`);
    return list.sort((a, b) => a - b);
  };
  return {
    durationSeconds: number('duration', 1),
    warmupSeconds: number('warmup', 0),
    clients: Math.round(number('clients', 1)),
    overloadClients: Math.round(number('overload-clients', 1)),
    overloadBudgetBytes: Math.round(number('overload-budget-mib', 1) * MIB),
    payloadCount: Math.round(number('payloads', 1)),
    payloadBytes: Math.round(number('payload-kib', 1) * 1024),
    payloadKind: payloadKind(raw('payload-kind')),
    perCallGzip: ['1', 'true', 'yes'].includes(raw('per-call-gzip')),
    only: raw('only').split(',').map((s) => s.trim()).filter((s) => s !== ''),
    cpuProfileDir: raw('cpu-prof'),
    serverNodeFlags: raw('server-node-flags').split(' ').filter((flag) => flag !== ''),
    stopTimeoutSeconds: number('stop-timeout', 1),
    microMs: number('micro-ms', 100),
    resultsFile: raw('results'),
    noisyPercent: number('noisy-percent', 0),
    noisyRetries: Math.round(number('noisy-retries', 0)),
    quietWaitSeconds: number('quiet-wait', 0),
    s3ClickHouse: ['1', 'true', 'yes'].includes(raw('s3-clickhouse')),
    retention: ['1', 'true', 'yes'].includes(raw('retention')),
    tail: ['1', 'true', 'yes'].includes(raw('tail')),
    storm: ['1', 'true', 'yes'].includes(raw('storm')),
    serverRoot: raw('server-root'),
    exportMib: number('export-mib', 0),
    indexScale: number('index-scale', 0),
    indexRows: sizes('index-rows'),
    indexSqliteRows: sizes('index-sqlite-rows'),
    indexEngines: raw('index-engines').split(',').map((s) => s.trim()).filter((s) => s !== ''),
    indexInsertRows: Math.round(number('index-insert-rows', 1000)),
    indexQueryRuns: Math.round(number('index-query-runs', 1)),
    indexCliRuns: Math.round(number('index-cli-runs', 0)),
    sustained: ['1', 'true', 'yes'].includes(raw('sustained')),
    floor: ['1', 'true', 'yes'].includes(raw('floor')),
    sustainedSeconds: number('sustained-duration', 1),
    coldCompress: parseColdCompress(raw('cold-compress')),
  };
}
