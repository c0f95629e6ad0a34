// The load generator process: N grpc-js clients, each on its own connection (or all on one), each sending pre-encoded
// OTLP trace Exports back to back. UNAVAILABLE is retried after the delay the server's RetryInfo asks for, as a
// Collector does — or at once, for the storm cases.
// Runs as a child of the benchmark (fork, spec over IPC), so that its CPU use shows apart from the server's.
import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { decodeRetryDelayMs } from '../src/grpc/rpc-status.js';
import { summarizeLatencies } from './latency.js';
import { TRACE_EXPORT_PATH, type LoadMessage, type LoadResult, type LoadSpec } from './load-spec.js';
import { readPayloads, type LoadedPayload } from './payloads.js';
import { gzipCalls, installPrecompressedGzip, registerPrecompressed } from './precompressed-gzip.js';

const GZIP = 2; // grpc-js CompressionAlgorithms.gzip
const MAX_MESSAGE_BYTES = 64 * 2 ** 20;
/** UNAVAILABLE without RetryInfo (connection trouble) is retried after this. */
const FALLBACK_RETRY_MS = 200;

interface Outgoing extends LoadedPayload {
  wireBytes: number;
}

type CallOutcome = { ok: true } | { ok: false; error: grpc.ServiceError };

const identity = (value: Buffer): Buffer => value;

function send(message: LoadMessage): void {
  process.send?.(message);
}

function connect(spec: LoadSpec): Promise<grpc.Client[]> {
  const channels = spec.sharedConnection ? 1 : spec.clients;
  const clients = Array.from({ length: channels }, () => new grpc.Client(spec.address, grpc.credentials.createInsecure(), {
    // Each client gets its own HTTP/2 connection, as separate exporters would; grpc-js shares one otherwise.
    'grpc.use_local_subchannel_pool': 1,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    ...(spec.gzip ? { 'grpc.default_compression_algorithm': GZIP } : {}),
  }));
  const deadline = Date.now() + 10_000;
  return Promise.all(clients.map((client) => new Promise<grpc.Client>((resolve, reject) => {
    client.waitForReady(deadline, (error) => (error ? reject(error) : resolve(client)));
  })));
}

function exportOnce(client: grpc.Client, payload: Buffer, deadlineMs: number): Promise<CallOutcome> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(TRACE_EXPORT_PATH, identity, identity, payload, new grpc.Metadata(), { deadline: Date.now() + deadlineMs },
      (error) => resolve(error ? { ok: false, error } : { ok: true }));
  });
}

async function run(spec: LoadSpec): Promise<LoadResult> {
  const payloads: Outgoing[] = readPayloads(spec.payloads).map((payload) => {
    if (!spec.gzip) return { ...payload, wireBytes: payload.data.length };
    // The same bytes grpc-js produces per call: registered to be served from, or only measured.
    const gzipped = spec.precompressed ? registerPrecompressed(payload.data) : gzipSync(payload.data);
    return { ...payload, wireBytes: gzipped.length };
  });
  if (spec.gzip && spec.precompressed) installPrecompressedGzip();
  const channels = await connect(spec);
  const clients = Array.from({ length: spec.clients }, (_, i) => channels[i % channels.length]!);
  send({ type: 'ready' });

  const startedAt = performance.now();
  const windowStart = startedAt + spec.warmupMs;
  const windowEnd = windowStart + spec.durationMs;
  const inWindow = (t: number): boolean => t >= windowStart && t < windowEnd;
  const startTimer = setTimeout(() => send({ type: 'window-start' }), spec.warmupMs);
  const endTimer = setTimeout(() => send({ type: 'window-end' }), spec.warmupMs + spec.durationMs);

  const latencies: number[] = [];
  const perSecond = new Array<number>(Math.ceil(spec.durationMs / 1000)).fill(0);
  const retryDelays = new Set<number>();
  const otherErrors: Record<string, number> = {};
  let firstError: string | null = null;
  let accepted = 0;
  let acceptedTotal = 0;
  let rawBytes = 0;
  let rawBytesTotal = 0;
  let wireBytes = 0;
  let spans = 0;
  let unavailable = 0;
  let unavailableWithRetryInfo = 0;

  const worker = async (client: grpc.Client, first: number): Promise<void> => {
    let next = first;
    while (performance.now() < windowEnd) {
      const payload = payloads[next % payloads.length]!;
      const sent = performance.now();
      const outcome = await exportOnce(client, payload.data, spec.deadlineMs);
      const done = performance.now();
      if (outcome.ok) {
        next += 1;
        acceptedTotal += 1;
        rawBytesTotal += payload.bytes;
        if (!inWindow(done)) continue;
        accepted += 1;
        rawBytes += payload.bytes;
        wireBytes += payload.wireBytes;
        spans += payload.spans;
        latencies.push(done - sent);
        perSecond[Math.floor((done - windowStart) / 1000)]! += 1;
        continue;
      }
      const { error } = outcome;
      if (error.code === grpc.status.UNAVAILABLE) {
        const delay = decodeRetryDelayMs(error.metadata);
        if (inWindow(done)) {
          unavailable += 1;
          if (delay !== null) unavailableWithRetryInfo += 1;
        }
        if (delay !== null) retryDelays.add(delay);
        // A storm client sends the same request again at once; a well-behaved one after the delay, as an exporter's
        // retry does, never past the window's end.
        if (spec.retry === 'immediate') continue;
        await sleep(Math.min(delay ?? FALLBACK_RETRY_MS, Math.max(0, windowEnd - performance.now())));
        continue;
      }
      const name = grpc.status[error.code] ?? String(error.code);
      if (inWindow(done)) otherErrors[name] = (otherErrors[name] ?? 0) + 1;
      firstError ??= `${name}: ${error.details}`;
      await sleep(FALLBACK_RETRY_MS);
    }
  };
  await Promise.all(clients.map((client, i) => worker(client, i)));
  clearTimeout(startTimer);
  clearTimeout(endTimer);
  for (const channel of channels) channel.close();

  return {
    windowSeconds: spec.durationMs / 1000,
    accepted,
    acceptedTotal,
    rawBytes,
    rawBytesTotal,
    wireBytes,
    spans,
    latency: summarizeLatencies(latencies),
    unavailable,
    unavailableWithRetryInfo,
    retryDelaysMs: [...retryDelays].sort((a, b) => a - b),
    otherErrors,
    firstError,
    acceptedPerSecond: perSecond,
    gzipPrecompressed: gzipCalls.precompressed,
    gzipComputed: gzipCalls.computed,
  };
}

process.once('message', (spec: LoadSpec) => {
  run(spec).then(
    (result) => {
      send({ type: 'result', result });
      process.disconnect?.();
    },
    (error: unknown) => {
      send({ type: 'failed', message: error instanceof Error ? error.stack ?? error.message : String(error) });
      process.disconnect?.();
    },
  );
});
