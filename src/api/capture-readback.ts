// The read-back RPCs of otlpcapture.v1.CaptureService: ListObjects, FindTrace and Replay (server-streamed progress).
// Tenant-scoped like ListRequests/GetRequest: a caller restricted to one tenant sees and replays that tenant only.
import * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError } from '../errors.js';
import { isSignal, type ArchivedRequest, type ObjectMeta, type RequestFilter, type Signal } from '../model.js';
import type { QueryService } from '../query/query-service.js';
import { GrpcTarget } from '../replay/grpc-target.js';
import { replay } from '../replay/replay-engine.js';
import { metadataValue, parseReplayCompression, parseSpeed, parseTimeShift } from '../replay/replay-options.js';
import type { ReplayProgress, ReplaySummary } from '../replay/replay-progress.js';
import type { Logger } from '../telemetry/logger.js';
import { toGrpcError } from '../grpc/grpc-errors.js';
import { decodeObjectPageToken, encodeObjectPageToken } from './object-page-token.js';
import type { ReplayTargets } from './replay-targets.js';
import { describeFailureForCaller } from './target-errors.js';
import type { WorkLimiter } from './work-limiter.js';
import { monotonicMs } from '../util/monotonic.js';

const SIGNAL_ENUM: Record<Signal, string> = { traces: 'SIGNAL_TRACES', metrics: 'SIGNAL_METRICS', logs: 'SIGNAL_LOGS' };
const FORMATS = new Set(['FORMAT_UNSPECIFIED', 'FORMAT_PROTO', 'FORMAT_JSON']);
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;
const DEFAULT_CONCURRENCY = 4;
const MAX_CONCURRENCY = 256;
/** How often a running replay streams its progress. */
const PROGRESS_EVERY_MS = 250;
/**
 * FindTrace reads at most this many times its answer's bound of requests (1 GiB by default): the work of a trace
 * spread over many large requests is in what is read, not in what is answered (measured: eight 63 MiB requests, a
 * 6 KB answer, 1.7 s; so 10,000 of them, over half an hour of one call).
 */
const FIND_TRACE_READ_FACTOR = 64;
/** An Export response is a few bytes; a target answering with more is cut off. */
const MAX_TARGET_RESPONSE_BYTES = 64 * 1024;

interface Timestamp {
  seconds?: string | number;
  nanos?: number;
}

interface ListObjectsRequest {
  signal?: string | number;
  tenant?: string;
  pageSize?: number;
  pageToken?: string;
}

interface FindTraceRequest {
  traceId?: string;
  format?: string | number;
  tenant?: string;
  withDuplicates?: boolean;
  hotOnly?: boolean;
}

export interface ReplayRequest {
  target?: string;
  tls?: boolean;
  caPem?: string;
  headers?: Record<string, string>;
  signal?: string | number;
  service?: string;
  tenant?: string;
  since?: Timestamp | null;
  until?: Timestamp | null;
  timeShift?: string;
  speed?: string;
  concurrency?: number;
  dryRun?: boolean;
  withDuplicates?: boolean;
  compression?: string;
}

export interface ReadBackDeps {
  query: QueryService;
  /** The same over this instance's hot tier alone (hot_only). */
  hotQuery?: QueryService;
  /** The tenant a read is restricted to (see CallerPolicy.readTenant), or undefined for all. */
  callerTenant(metadata: grpc.Metadata, asked: string | undefined): string | undefined;
  /** CapturedRequest as CaptureService shows it. */
  toMessage(request: ArchivedRequest): Record<string, unknown>;
  /** ListRequests-style filter fields (signal, service, since, until) to a RequestFilter. */
  toFilter(request: { signal?: string | number; service?: string; since?: Timestamp | null; until?: Timestamp | null }): RequestFilter;
  /** FindTrace runs under this cap; Replay under the other. */
  reads: WorkLimiter;
  replays: WorkLimiter;
  replayTargets: ReplayTargets;
  maxFindTraceBytes: number;
  logger: Logger;
}

export function readBackHandlers(deps: ReadBackDeps): grpc.UntypedServiceImplementation {
  const { query, logger } = deps;
  const fail = (callback: (error: grpc.ServerErrorResponse) => void, error: unknown): void => {
    const mapped = toGrpcError(error, 1000);
    if (mapped.unexpected) logger.error({ err: error, ref: mapped.ref }, 'CaptureService call failed');
    callback(mapped.status as grpc.ServerErrorResponse);
  };
  const unary = <Req>(run: (call: grpc.ServerUnaryCall<Req, unknown>) => Promise<unknown>) =>
    (call: grpc.ServerUnaryCall<Req, unknown>, callback: grpc.sendUnaryData<unknown>): void => {
      run(call).then((response) => callback(null, response), (error: unknown) => fail(callback, error));
    };

  return {
    ListObjects: unary<ListObjectsRequest>(async (call) => {
      const tenant = deps.callerTenant(call.metadata, call.request.tenant);
      const signal = signalOf(call.request.signal);
      const pageSize = Math.min(MAX_PAGE_SIZE, call.request.pageSize || DEFAULT_PAGE_SIZE);
      const listing = { ...(tenant === undefined ? {} : { tenant }), ...(signal === undefined ? {} : { signal }) };
      const afterKey = call.request.pageToken ? decodeObjectPageToken(call.request.pageToken, listing) : undefined;
      const rows = await query.listObjects({
        limit: pageSize + 1,
        ...(tenant === undefined ? {} : { tenant }),
        ...(signal === undefined ? {} : { signal }),
        ...(afterKey === undefined ? {} : { afterKey }),
      });
      const page = rows.slice(0, pageSize);
      const last = page[page.length - 1];
      return {
        objects: page.map(objectMessage),
        nextPageToken: rows.length > pageSize && last ? encodeObjectPageToken(listing, last.key) : '',
      };
    }),

    FindTrace: unary<FindTraceRequest>(async (call) => {
      const tenant = deps.callerTenant(call.metadata, call.request.tenant);
      const traceId = call.request.traceId ?? '';
      if (traceId === '') throw new InvalidArgumentError('trace_id is required');
      const json = formatIsJson(call.request.format);
      if (call.request.hotOnly && !deps.hotQuery) throw new InvalidArgumentError('hot_only: this server keeps no hot tier');
      const source = call.request.hotOnly ? deps.hotQuery! : query;
      const found = await deps.reads.run(() =>
        source.findTrace(traceId, json ? 'json' : 'proto', tenant, {
          maxBytes: deps.maxFindTraceBytes,
          maxReadBytes: { maxBytes: deps.maxFindTraceBytes * FIND_TRACE_READ_FACTOR, setting: `${FIND_TRACE_READ_FACTOR} × server.api.maxFindTraceBytes` },
          withDuplicates: call.request.withDuplicates === true,
        }),
      );
      return {
        ...(json ? { json: found.body.toString('utf8') } : { payload: found.body }),
        spans: String(found.trace.spans),
        requests: found.trace.requests.map(deps.toMessage),
      };
    }),

    Replay: (call: grpc.ServerWritableStream<ReplayRequest, unknown>) => {
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      startReplay(deps, call, abort.signal).then(
        () => call.end(),
        (error: unknown) => {
          const mapped = toGrpcError(error, 1000);
          if (mapped.unexpected) logger.error({ err: error, ref: mapped.ref }, 'CaptureService Replay failed');
          call.emit('error', mapped.status);
        },
      );
    },
  };
}

/** Checks what needs no work (the request, the target against the allow-list), then runs under the replay cap. */
async function startReplay(deps: ReadBackDeps, call: grpc.ServerWritableStream<ReplayRequest, unknown>, abort: AbortSignal): Promise<void> {
  const address = call.request.target ?? '';
  const dryRun = call.request.dryRun === true;
  if (!(dryRun && address === '')) {
    if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/.test(address)) {
      throw new InvalidArgumentError(`target must be HOST:PORT, e.g. collector:4317: not ${JSON.stringify(address.slice(0, 80))}`);
    }
    // Before anything connects anywhere.
    deps.replayTargets.check(address);
  }
  checkHeaders(call.request.headers ?? {});
  await deps.replays.run(() => runReplay(deps, call, address, dryRun, abort));
}

async function runReplay(
  deps: ReadBackDeps,
  call: grpc.ServerWritableStream<ReplayRequest, unknown>,
  address: string,
  dryRun: boolean,
  abort: AbortSignal,
): Promise<void> {
  const request = call.request;
  const tenant = deps.callerTenant(call.metadata, request.tenant);
  const filter = deps.toFilter(request);
  if (tenant !== undefined) filter.tenant = tenant;
  const concurrency = request.concurrency || DEFAULT_CONCURRENCY;
  if (concurrency > MAX_CONCURRENCY) throw new InvalidArgumentError(`concurrency must be at most ${MAX_CONCURRENCY}`);
  const timeShift = parseTimeShift(request.timeShift || 'none');
  const speed = parseSpeed(request.speed || 'max');
  const compression = parseReplayCompression(request.compression || 'none');
  const target = dryRun
    ? null
    : new GrpcTarget({
        address,
        tls: request.tls === true,
        ...(request.caPem ? { caPem: Buffer.from(request.caPem, 'utf8') } : {}),
        headers: request.headers ?? {},
        maxResponseBytes: MAX_TARGET_RESPONSE_BYTES,
        compression,
      });
  // Monotonic: a backward step of the wall clock would hold progress messages back for the whole step.
  let lastSentMs = -Infinity;
  try {
    const summary = await replay(query(deps), target, {
      filter: { ...filter },
      timeShift,
      speed,
      concurrency,
      dryRun,
      abort,
      withDuplicates: request.withDuplicates === true,
      onProgress: (progress) => {
        const now = monotonicMs();
        if (progress.done || now - lastSentMs < PROGRESS_EVERY_MS) return;
        lastSentMs = now;
        call.write(progressMessage(progress));
      },
    });
    if (!abort.aborted) call.write(progressMessage(summary, summary));
  } finally {
    target?.close();
  }
}

/**
 * Replay headers as gRPC metadata, checked before a target is made. They carry the target's credentials
 * (authorization): grpc-js' own message for a bad one quotes the value, so the caller is told the header's name
 * and what is allowed, never the value.
 */
function checkHeaders(headers: Record<string, string>): void {
  for (const [key, value] of Object.entries(headers)) {
    try {
      new grpc.Metadata().add(key, metadataValue(key, value));
    } catch {
      throw new InvalidArgumentError(
        `headers[${JSON.stringify(key.slice(0, 80))}] is not valid gRPC metadata: keys of letters, digits and - _ .; ` +
          'values of printable ASCII, or base64 for a key ending in -bin (the value is not shown)',
      );
    }
  }
}

function query(deps: ReadBackDeps): { index: QueryService['index']; blobs: QueryService['blobs']; dedup: QueryService['dedup'] } {
  return { index: deps.query.index, blobs: deps.query.blobs, dedup: deps.query.dedup };
}

function progressMessage(p: ReplayProgress, summary?: ReplaySummary): Record<string, unknown> {
  const failure = summary?.failure;
  return {
    requestsTotal: String(p.total.requests),
    requestsSent: String(p.sent.requests),
    itemsTotal: String(p.total.items),
    itemsSent: String(p.sent.items),
    bytesTotal: String(p.total.bytes),
    bytesSent: String(p.sent.bytes),
    retried: String(p.retried),
    failed: String(p.failed),
    rejectedItems: String(p.rejectedItems),
    elapsedMs: String(Math.round(p.elapsedMs)),
    done: p.done,
    delivered: summary?.delivered ?? false,
    error: failure ? describeFailureForCaller(failure) : '',
    timeShiftNanos: String(summary?.offsetNs ?? 0n),
  };
}

function signalOf(value: string | number | undefined): Signal | undefined {
  if (value === undefined || value === 'SIGNAL_UNSPECIFIED') return undefined;
  const signal = typeof value === 'string' ? value.replace(/^SIGNAL_/, '').toLowerCase() : '';
  if (!isSignal(signal)) throw new InvalidArgumentError(`unknown signal ${value}: use SIGNAL_TRACES, SIGNAL_METRICS or SIGNAL_LOGS`);
  return signal;
}

function formatIsJson(value: string | number | undefined): boolean {
  const format = value ?? 'FORMAT_UNSPECIFIED';
  if (typeof format !== 'string' || !FORMATS.has(format)) {
    throw new InvalidArgumentError(`unknown format ${format}: use FORMAT_PROTO or FORMAT_JSON`);
  }
  return format === 'FORMAT_JSON';
}

function timestamp(ns: bigint): { seconds: string; nanos: number } {
  const nanos = ((ns % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n;
  return { seconds: ((ns - nanos) / 1_000_000_000n).toString(), nanos: Number(nanos) };
}

function objectMessage(object: ObjectMeta): Record<string, unknown> {
  return {
    key: object.key,
    signal: SIGNAL_ENUM[object.signal],
    tenant: object.tenant,
    createdAt: timestamp(BigInt(object.createdAtMs) * 1_000_000n),
    sealedAt: timestamp(BigInt(object.sealedAtMs) * 1_000_000n),
    requestCount: String(object.requestCount),
    rawBytes: String(object.rawBytes),
    storedBytes: String(object.storedBytes),
    codec: object.codec,
    startTime: timestamp(object.startNs),
    endTime: timestamp(object.endNs),
  };
}
