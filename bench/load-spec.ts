// What the benchmark asks of one load generator run, and what it answers. Passed over the child process' IPC channel.
import type { LatencySummary } from './latency.js';
import type { PayloadFile } from './payloads.js';

export const TRACE_EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

export interface LoadSpec {
  /** host:port of the server under test. */
  address: string;
  payloads: PayloadFile[];
  /** Concurrent clients, each with one Export in flight at a time. */
  clients: number;
  /** All clients on one HTTP/2 connection (as a Collector multiplexes its consumers); otherwise one each. */
  sharedConnection: boolean;
  /** UNAVAILABLE: retried after the RetryInfo delay (as a Collector does), or at once (a misbehaving client). */
  retry: 'retry-info' | 'immediate';
  gzip: boolean;
  /** With gzip: hand grpc-js each request's gzip made once up front, instead of gzipping it per call. */
  precompressed: boolean;
  warmupMs: number;
  durationMs: number;
  /** Per-call deadline. */
  deadlineMs: number;
}

export interface LoadResult {
  /** Length of the measurement window actually used, seconds. */
  windowSeconds: number;
  /** Exports acknowledged (OK) within the window. */
  accepted: number;
  /** Exports acknowledged over the whole run: warm-up, window and the calls still in flight at its end. */
  acceptedTotal: number;
  /** Uncompressed request bytes of those. */
  rawBytes: number;
  /** Uncompressed request bytes acknowledged over the whole run (as acceptedTotal). */
  rawBytesTotal: number;
  /** Bytes of those as sent (gzipped when gzip is on), without gRPC framing. */
  wireBytes: number;
  spans: number;
  /** Latency of acknowledged calls, from send to OK. */
  latency: LatencySummary;
  /** UNAVAILABLE answers within the window, and how many carried a RetryInfo delay. */
  unavailable: number;
  unavailableWithRetryInfo: number;
  /** Retry delays the server asked for (ms), distinct values. */
  retryDelaysMs: number[];
  /** Any other failure, by status code name. */
  otherErrors: Record<string, number>;
  firstError: string | null;
  /** Acknowledged Exports per second of the window, in order: shows whether throughput is steady. */
  acceptedPerSecond: number[];
  /** gzip calls grpc-js made that were served from the precompressed set, and that zlib had to compute. */
  gzipPrecompressed: number;
  gzipComputed: number;
}

export type LoadMessage =
  | { type: 'ready' }
  | { type: 'window-start' }
  | { type: 'window-end' }
  | { type: 'result'; result: LoadResult }
  | { type: 'failed'; message: string };
