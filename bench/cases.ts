// The cases the benchmark runs: each server with gzip off and on, the capture server with the default archive codec
// (zstd 1) and with gzip 1, on S3 + ClickHouse (servers on loopback) as well as on the embedded default, and the
// capture server offered far more than its in-flight budget.
import type { Codec } from '../src/model.js';
import type { BenchOptions } from './options.js';

/** The adapter pair a capture server runs on. */
export type Backend = 'embedded' | 's3-clickhouse';
const S3_CLICKHOUSE_SUFFIX = 's3+ch';

export interface BenchCase {
  name: string;
  /** floor: the discard server plus only `floorStages` of capture's per-request work (bench/discard-server.ts). */
  server: 'discard' | 'capture' | 'floor';
  floorStages?: readonly string[];
  gzip: boolean;
  clients: number;
  /** capture: archiver.codec and archiver.level (the defaults, zstd 1, when absent). */
  archiver?: { codec: Codec; level: number };
  /** capture: admission.maxInFlightBytes (the default, 256 MiB, when absent). */
  maxInFlightBytes?: number;
  overload: boolean;
  /** capture: further config settings, merged over the above (used for what-if runs, e.g. codec none). */
  extraConfig?: Record<string, Record<string, unknown>>;
  /** Extra environment for the server process (e.g. UV_THREADPOOL_SIZE). */
  serverEnv?: Record<string, string>;
  /** capture: the embedded default (filesystem + SQLite) when absent; s3-clickhouse starts s3rver and ClickHouse. */
  backend?: Backend;
  /** A sustained case: options.sustainedSeconds long, the spool backlog sampled every second. */
  sustained?: boolean;
  /** capture: a Tail subscriber (with payloads) that never reads is attached before the load starts. */
  stalledTail?: boolean;
  /** All clients on one HTTP/2 connection (default: one connection each). */
  sharedConnection?: boolean;
  /** How clients retry UNAVAILABLE (default: after the RetryInfo delay). */
  retry?: 'retry-info' | 'immediate';
  /** Warm-up before the window, overriding --warmup (0: the window starts with the server's first request). */
  warmupSeconds?: number;
  /** Storm cases: goodput is compared with this case of the same run. */
  stormBaseline?: string;
}

export const STORM_BASELINE = 'storm baseline 8';
const SUSTAINED_PREFIX = 'sustained';

export function benchCases(options: BenchOptions): BenchCase[] {
  const n = options.clients;
  const all: BenchCase[] = [];
  for (const gzip of [false, true]) {
    const wire = gzip ? 'gzip' : 'plain';
    all.push(
      { name: `discard ${wire}`, server: 'discard', gzip, clients: n, overload: false },
      { name: `capture ${wire}`, server: 'capture', gzip, clients: n, overload: false },
      // The archive codec before issue #16 (gzip 1), in the same run as the default (zstd 1).
      { name: `capture ${wire} archive-gzip1`, server: 'capture', gzip, clients: n, archiver: { codec: 'gzip', level: 1 }, overload: false },
    );
    // Right after the embedded cases of the same wire encoding, so that all share the discard baseline of this run
    // and the machine's state drifts least in between.
    if (options.s3ClickHouse) {
      all.push({ name: `capture ${wire} ${S3_CLICKHOUSE_SUFFIX}`, server: 'capture', gzip, clients: n, overload: false, backend: 's3-clickhouse' });
    }
  }
  if (options.retention) {
    // Retention inside serve, re-encoding every sealed object with brotli-11 while ingest goes on (8 MiB objects, so
    // that objects become candidates within the window), against the same settings without retention.
    const smallObjects = { archiver: { maxObjectBytes: '8MiB', maxObjectAge: '2s' } };
    const retention = {
      interval: '1s',
      concurrency: 1,
      policies: [{ name: 'shrink-now', match: { olderThan: '1ms' }, action: { type: 'compress', codec: 'brotli', level: 11 } }],
    };
    all.push(
      { name: 'capture plain 8MiB', server: 'capture', gzip: false, clients: n, overload: false, extraConfig: smallObjects },
      { name: 'capture plain 8MiB retention', server: 'capture', gzip: false, clients: n, overload: false, extraConfig: { ...smallObjects, retention } },
    );
  }
  if (options.sustained) {
    // Does the archiver keep up? A minute of full load, discard and capture back to back per wire encoding (so the
    // CPU-per-GiB ratio compares runs of the same machine state).
    for (const gzip of [false, true]) {
      const wire = gzip ? 'gzip' : 'plain';
      all.push({ name: `${SUSTAINED_PREFIX} discard ${wire}`, server: 'discard', gzip, clients: n, overload: false, sustained: true });
      // What any design pays on top of the bare receive before its own overheads, one stage added at a time: a
      // durable append, then zstd-1 of every request, then the ingest scan (plain only: the gzip bound is met).
      if (options.floor && !gzip) {
        for (const floorStages of [['durable'], ['durable', 'zstd'], ['durable', 'zstd', 'scan']]) {
          all.push({ name: `${SUSTAINED_PREFIX} floor ${wire} ${floorStages.join('+')}`, server: 'floor', floorStages, gzip, clients: n, overload: false, sustained: true });
        }
      }
      all.push({ name: `${SUSTAINED_PREFIX} capture ${wire}`, server: 'capture', gzip, clients: n, overload: false, sustained: true });
    }
  }
  if (options.tail) {
    // Ingest with a subscriber that never reads (its buffer fills, then it only counts what it misses), against the
    // same case without one, run back to back.
    all.push(
      { name: 'capture plain notail', server: 'capture', gzip: false, clients: n, overload: false },
      // A small buffer, so that the subscriber overflows it within the window and the dropping path runs too.
      {
        name: 'capture plain stalled-tail',
        server: 'capture',
        gzip: false,
        clients: n,
        overload: false,
        stalledTail: true,
        extraConfig: { server: { api: { tailBuffer: 100 } } },
      },
    );
  }
  all.push({
    name: 'overload plain',
    server: 'capture',
    gzip: false,
    clients: options.overloadClients,
    maxInFlightBytes: options.overloadBudgetBytes,
    overload: true,
  });
  if (options.storm) {
    // Issue #13: one HTTP/2 connection with 128 concurrent Exports retried at once on UNAVAILABLE (no backoff), on a
    // server that has just started and on one that is warm, against 8 well-behaved streams (RetryInfo honoured)
    // on one connection, all with the overload case's budget.
    const storm = { server: 'capture', gzip: false, maxInFlightBytes: options.overloadBudgetBytes, overload: true, sharedConnection: true } as const;
    all.push(
      { ...storm, name: STORM_BASELINE, clients: 8, retry: 'retry-info' },
      { ...storm, name: 'storm fresh', clients: options.overloadClients, retry: 'immediate', warmupSeconds: 0, stormBaseline: STORM_BASELINE },
      { ...storm, name: 'storm warm', clients: options.overloadClients, retry: 'immediate', stormBaseline: STORM_BASELINE },
    );
    // Twice the streams, all let onto the connection: more than the budget and the waiting room hold together,
    // so some are refused at once and come straight back. Needs this build's server.grpc.maxConcurrentStreams.
    if (options.serverRoot === '') {
      all.push({
        ...storm,
        name: 'storm wide',
        clients: 2 * options.overloadClients,
        retry: 'immediate',
        stormBaseline: STORM_BASELINE,
        extraConfig: { server: { grpc: { maxConcurrentStreams: 1000 } } },
      });
    }
  }
  if (options.only.length === 0) return all;
  // Filters written for the embedded cases keep selecting what they did: an s3+ch case is only chosen by a text
  // that names its backend ("s3+ch", "plain s3+ch"), a sustained case only by one that says "sustained".
  const matches = (c: BenchCase, wanted: string): boolean =>
    c.name === wanted ||
    (c.name.includes(wanted) &&
      (c.backend === undefined || wanted.includes(S3_CLICKHOUSE_SUFFIX)) &&
      (c.sustained !== true || wanted.includes(SUSTAINED_PREFIX)));
  return all.filter((c) => options.only.some((wanted) => matches(c, wanted)));
}
