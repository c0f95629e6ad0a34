// otlpcapture.v1.CaptureService: the read API over gRPC (grpcurl-friendly), backed by the QueryService. Who may call
// what was decided at the headers (access-interceptor.ts); handlers narrow the tenant with the request's own field.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { CallerPolicy, ReadGrant } from '../admission/caller.js';
import { isValidTenant } from '../admission/tenant.js';
import { InvalidArgumentError } from '../errors.js';
import { isSignal, type RequestFilter, type Signal } from '../model.js';
import { PROTO_DIR } from '../protos.js';
import type { PresentedRequest } from '../query/dedup.js';
import type { QueryService } from '../query/query-service.js';
import { decodeCursor, type CursorPosition } from '../query/request-cursor.js';
import type { Logger } from '../telemetry/logger.js';
import { grantOf } from '../grpc/call-grants.js';
import { toGrpcError } from '../grpc/grpc-errors.js';
import { readBackHandlers } from './capture-readback.js';
import { boundedListPage } from './list-page.js';
import { tailHandler } from './tail-stream.js';
import { timestampNs, type Timestamp } from './timestamp-field.js';
import type { SpoolHotTier } from '../query/spool-hot-tier.js';
import type { TailObserver } from '../query/hot-tier-metrics.js';
import type { ReplayTargets } from './replay-targets.js';
import type { WorkLimiter } from './work-limiter.js';

const SIGNAL_ENUM: Record<Signal, string> = { traces: 'SIGNAL_TRACES', metrics: 'SIGNAL_METRICS', logs: 'SIGNAL_LOGS' };
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;
/**
 * Index rows one ListRequests page reads at most while it leaves duplicates out: a retry storm's run of duplicates
 * answers a short page (with a page token) instead of one call scanning the whole selection.
 */
const MAX_SCANNED_ROWS_PER_PAGE = 10_000;

// Enums arrive as their names; a value this build does not know (a newer client's) arrives as its number.
interface ListRequestsRequest {
  signal?: string | number;
  service?: string;
  tenant?: string;
  since?: Timestamp | null;
  until?: Timestamp | null;
  pageSize?: number;
  pageToken?: string;
  newestFirst?: boolean;
  withDuplicates?: boolean;
  hotOnly?: boolean;
}

interface GetRequestRequest {
  id?: string;
  format?: string | number;
  hotOnly?: boolean;
}

const FORMATS = new Set(['FORMAT_UNSPECIFIED', 'FORMAT_PROTO', 'FORMAT_JSON']);

export const CAPTURE_SERVICE = 'otlpcapture.v1.CaptureService';

export interface CaptureServiceDeps {
  query: QueryService;
  callers: CallerPolicy;
  /** GetRequest-as-JSON and FindTrace: at most this many at once. */
  reads: WorkLimiter;
  /** Replay: at most this many at once. */
  replays: WorkLimiter;
  /** Where Replay may send. */
  replayTargets: ReplayTargets;
  /** FindTrace answers at most this many bytes (protobuf). */
  maxFindTraceBytes: number;
  /** GetRequest converts requests of at most this many bytes (protobuf) to OTLP/JSON. */
  maxJsonViewBytes: number;
  /** This instance's hot tier, for hot_only reads and Tail; absent: hot_only answers nothing, Tail is UNIMPLEMENTED. */
  hot?: { query: QueryService; tier: SpoolHotTier; tailBuffer: number; tailPollMs?: number; observer?: TailObserver };
  logger: Logger;
}

let definition: protoLoader.PackageDefinition | undefined;

function captureDefinition(): protoLoader.PackageDefinition {
  definition ??= protoLoader.loadSync('otlpcapture/v1/capture.proto', {
    includeDirs: [PROTO_DIR],
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return definition;
}

export function captureServiceDefinition(): grpc.ServiceDefinition {
  return captureDefinition()[CAPTURE_SERVICE] as grpc.ServiceDefinition;
}

/**
 * A call sees one tenant only when the caller is restricted to one (a token bound to a tenant, or the tenant
 * header): another tenant's requests are neither listed nor found.
 */
export function addCaptureService(server: grpc.Server, deps: CaptureServiceDeps): void {
  const { query, callers, logger } = deps;
  const service = captureServiceDefinition();
  const fail = (callback: (error: grpc.ServerErrorResponse) => void, error: unknown): void => {
    const mapped = toGrpcError(error, 1000);
    if (mapped.unexpected) logger.error({ err: error, ref: mapped.ref }, 'CaptureService call failed');
    callback(mapped.status as grpc.ServerErrorResponse);
  };
  const callerTenant = (metadata: grpc.Metadata, asked: string | undefined): string | undefined => {
    const grant = grantOf<ReadGrant>(metadata, ['read', 'replay']);
    // The policy's own message speaks of a header; this one comes from the request's tenant field.
    if (asked !== undefined && asked !== '' && !isValidTenant(asked)) {
      throw new InvalidArgumentError(
        `invalid tenant in field tenant: ${JSON.stringify(asked.slice(0, 80))}; use 1-63 characters of A-Z a-z 0-9 . _ - ` +
          'starting with a letter or digit',
      );
    }
    return callers.readTenant(grant, asked);
  };
  const queryFor = (hotOnly: boolean | undefined): QueryService => {
    if (!hotOnly) return query;
    if (!deps.hot) throw new InvalidArgumentError('hot_only: this server keeps no hot tier');
    return deps.hot.query;
  };

  server.addService(service, {
    ListRequests: (call: grpc.ServerUnaryCall<ListRequestsRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const gone = new AbortController();
      call.on('cancelled', () => gone.abort(new Error('the caller cancelled ListRequests')));
      const run = async (): Promise<unknown> => {
        const tenant = callerTenant(call.metadata, call.request.tenant);
        const filter = toFilter(call.request);
        if (tenant !== undefined) filter.tenant = tenant;
        if (call.request.pageToken) checkPageToken(call.request.pageToken, filter, call.request.newestFirst === true);
        const pageSize = Math.min(MAX_PAGE_SIZE, call.request.pageSize || DEFAULT_PAGE_SIZE);
        const page = await boundedListPage(queryFor(call.request.hotOnly), filter, {
          limit: pageSize,
          ...(call.request.newestFirst ? { newestFirst: true } : {}),
          ...(call.request.pageToken ? { cursor: call.request.pageToken } : {}),
          withDuplicates: call.request.withDuplicates === true,
          bounds: { signal: gone.signal, maxScannedRows: MAX_SCANNED_ROWS_PER_PAGE },
        });
        return { requests: page.requests.map(toMessage), nextPageToken: page.nextCursor ?? '' };
      };
      run().then((response) => callback(null, response), (error: unknown) => fail(callback, error));
    },
    GetRequest: (call: grpc.ServerUnaryCall<GetRequestRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const run = async (): Promise<unknown> => {
        const tenant = callerTenant(call.metadata, undefined);
        const id = call.request.id ?? '';
        if (id === '') throw new InvalidArgumentError('id is required');
        const format = call.request.format ?? 'FORMAT_UNSPECIFIED';
        if (typeof format !== 'string' || !FORMATS.has(format)) {
          throw new InvalidArgumentError(`unknown format ${format}: use FORMAT_PROTO or FORMAT_JSON`);
        }
        const json = format === 'FORMAT_JSON';
        // The JSON view decodes the whole request into objects: bounded like the other expensive reads, in number at
        // once (reads) and in size (maxJsonViewBytes). Unbounded, one 64 MiB request of 1.4 M spans cost 2 GB and 23 s
        // of the event loop, then failed anyway (its 216 MB of text is over the send limit).
        const source = queryFor(call.request.hotOnly);
        const jsonLimit = { maxBytes: deps.maxJsonViewBytes, setting: 'server.api.maxJsonViewBytes' };
        const fetched = json
          ? await deps.reads.run(() => source.getRequest(id, 'json', tenant, jsonLimit))
          : await source.getRequest(id, 'proto', tenant);
        return json
          ? { request: toMessage(fetched.request), json: fetched.body.toString('utf8') }
          : { request: toMessage(fetched.request), payload: fetched.body };
      };
      run().then((response) => callback(null, response), (error: unknown) => fail(callback, error));
    },
    Tail: deps.hot
      ? tailHandler({
          query,
          hot: deps.hot.tier,
          callerTenant,
          toMessage,
          toFilter,
          bufferRequests: deps.hot.tailBuffer,
          ...(deps.hot.tailPollMs === undefined ? {} : { pollMs: deps.hot.tailPollMs }),
          ...(deps.hot.observer === undefined ? {} : { observer: deps.hot.observer }),
          logger,
        })
      : (call: grpc.ServerWritableStream<unknown, unknown>) => call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'this server keeps no hot tier to tail' }),
    ...readBackHandlers({
      query,
      ...(deps.hot ? { hotQuery: deps.hot.query } : {}),
      callerTenant,
      toMessage,
      toFilter,
      reads: deps.reads,
      replays: deps.replays,
      replayTargets: deps.replayTargets,
      maxFindTraceBytes: deps.maxFindTraceBytes,
      logger,
    }),
  });
}

function toFilter(request: ListRequestsRequest): RequestFilter {
  const filter: RequestFilter = {};
  if (request.signal !== undefined && request.signal !== 'SIGNAL_UNSPECIFIED') {
    const signal = typeof request.signal === 'string' ? request.signal.replace(/^SIGNAL_/, '').toLowerCase() : '';
    if (!isSignal(signal)) {
      throw new InvalidArgumentError(`unknown signal ${request.signal}: use SIGNAL_TRACES, SIGNAL_METRICS or SIGNAL_LOGS`);
    }
    filter.signal = signal;
  }
  if (request.service) filter.service = request.service;
  if (request.since) filter.sinceNs = timestampNs(request.since, 'since');
  if (request.until) filter.untilNs = timestampNs(request.until, 'until');
  return filter;
}

/**
 * A page_token refused with INVALID_ARGUMENT naming the field (as AIP-158 has it): a token that is not one
 * ListRequests returned, one of a listing with other filters (or of another tenant: the tenant is one of them), and
 * one asked for in the other order. Tokens carry a position, not a snapshot, so they do not expire.
 */
function checkPageToken(token: string, selection: RequestFilter, newestFirst: boolean): void {
  let position: CursorPosition;
  try {
    position = decodeCursor(token, selection);
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    // The cursor's message (shared with the CLI) names its flags; here they are request fields.
    throw new InvalidArgumentError(`page_token: ${error.message.replace(/--([a-z]+)/g, '$1')}`, { cause: error });
  }
  if (newestFirst && !position.newestFirst) {
    throw new InvalidArgumentError('page_token continues a listing oldest first: leave newest_first unset with it');
  }
}

function toTimestamp(ns: bigint): { seconds: string; nanos: number } {
  return { seconds: (ns / 1_000_000_000n).toString(), nanos: Number(ns % 1_000_000_000n) };
}

function toMessage(request: PresentedRequest): Record<string, unknown> {
  return {
    id: request.id,
    signal: SIGNAL_ENUM[request.signal],
    tenant: request.tenant,
    receivedAt: toTimestamp(BigInt(request.receivedAtMs) * 1_000_000n),
    items: String(request.items),
    services: request.services,
    startTime: toTimestamp(request.startNs),
    endTime: toTimestamp(request.endNs),
    bytes: String(request.rawBytes),
    objectKey: request.objectKey,
    offset: String(request.offset),
    length: String(request.length),
    codec: request.codec,
    duplicates: String(request.duplicates ?? 0),
    duplicateOf: request.duplicateOf ?? '',
    tier: request.tier === 'hot' ? 'TIER_HOT' : 'TIER_ARCHIVE',
    fingerprint: request.fingerprint ?? '',
  };
}
