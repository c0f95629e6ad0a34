// otlpcapture.v1.CaptureService: the read API over gRPC (grpcurl-friendly), backed by the QueryService. Who may call
// what was decided at the headers (access-interceptor.ts); handlers narrow the tenant with the request's own field.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { CallerPolicy, ReadGrant } from '../admission/caller.js';
import { InvalidArgumentError } from '../errors.js';
import { isSignal, type ArchivedRequest, type RequestFilter, type Signal } from '../model.js';
import { PROTO_DIR } from '../protos.js';
import type { QueryService } from '../query/query-service.js';
import type { Logger } from '../telemetry/logger.js';
import { grantOf } from '../grpc/call-grants.js';
import { toGrpcError } from '../grpc/grpc-errors.js';
import { readBackHandlers } from './capture-readback.js';
import type { ReplayTargets } from './replay-targets.js';
import type { WorkLimiter } from './work-limiter.js';

const SIGNAL_ENUM: Record<Signal, string> = { traces: 'SIGNAL_TRACES', metrics: 'SIGNAL_METRICS', logs: 'SIGNAL_LOGS' };
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;

interface Timestamp {
  seconds?: string | number;
  nanos?: number;
}

// Enums arrive as their names; a value this build does not know (a newer client's) arrives as its number.
interface ListRequestsRequest {
  signal?: string | number;
  service?: string;
  tenant?: string;
  since?: Timestamp | null;
  until?: Timestamp | null;
  pageSize?: number;
  pageToken?: string;
}

interface GetRequestRequest {
  id?: string;
  format?: string | number;
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
    if (mapped.unexpected) logger.error({ err: error }, 'CaptureService call failed');
    callback(mapped.status as grpc.ServerErrorResponse);
  };
  const callerTenant = (metadata: grpc.Metadata, asked: string | undefined): string | undefined =>
    callers.readTenant(grantOf<ReadGrant>(metadata, ['read', 'replay']), asked);

  server.addService(service, {
    ListRequests: (call: grpc.ServerUnaryCall<ListRequestsRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const run = async (): Promise<unknown> => {
        const tenant = callerTenant(call.metadata, call.request.tenant);
        const filter = toFilter(call.request);
        if (tenant !== undefined) filter.tenant = tenant;
        const pageSize = Math.min(MAX_PAGE_SIZE, call.request.pageSize || DEFAULT_PAGE_SIZE);
        const rows = await query.listRequests({ ...filter, limit: pageSize + 1 });
        const page = rows.slice(0, pageSize);
        const last = page[page.length - 1];
        return {
          requests: page.map(toMessage),
          nextPageToken: rows.length > pageSize && last ? Buffer.from(last.id).toString('base64url') : '',
        };
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
        // The JSON view decodes the whole request into objects: bounded like the other expensive reads.
        const fetched = json ? await deps.reads.run(() => query.getRequest(id, 'json', tenant)) : await query.getRequest(id, 'proto', tenant);
        return json
          ? { request: toMessage(fetched.request), json: fetched.body.toString('utf8') }
          : { request: toMessage(fetched.request), payload: fetched.body };
      };
      run().then((response) => callback(null, response), (error: unknown) => fail(callback, error));
    },
    ...readBackHandlers({
      query,
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
  if (request.since) filter.sinceNs = fromTimestamp(request.since);
  if (request.until) filter.untilNs = fromTimestamp(request.until);
  if (request.pageToken) {
    const afterId = Buffer.from(request.pageToken, 'base64url').toString('utf8');
    if (!/^[0-9A-HJKMNP-TV-Z]{26}$/.test(afterId)) throw new InvalidArgumentError('page_token is not one this server issued');
    filter.afterId = afterId;
  }
  return filter;
}

function fromTimestamp(value: Timestamp): bigint {
  return BigInt(value.seconds ?? 0) * 1_000_000_000n + BigInt(value.nanos ?? 0);
}

function toTimestamp(ns: bigint): { seconds: string; nanos: number } {
  return { seconds: (ns / 1_000_000_000n).toString(), nanos: Number(ns % 1_000_000_000n) };
}

function toMessage(request: ArchivedRequest): Record<string, unknown> {
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
  };
}
