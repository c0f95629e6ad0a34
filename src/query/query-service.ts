// The read side shared by the CLI and CaptureService: list what was captured, fetch one request's bytes.
import { InvalidArgumentError, NotFoundError } from '../errors.js';
import type { IndexStore } from '../index/index-store.js';
import type { ArchivedRequest, ObjectMeta, RequestFilter, Signal } from '../model.js';
import type { BlobStore } from '../storage/blob-store.js';
import { findTrace, type FoundTrace } from './find-trace.js';
import { readArchivedRequest } from './read-archived.js';

export type PayloadFormat = 'proto' | 'json';

export interface FetchedRequest {
  request: ArchivedRequest;
  /** Raw protobuf bytes as the client sent them, or OTLP JSON text. */
  body: Buffer;
}

export interface FetchedTrace {
  trace: FoundTrace;
  /** The trace as one ExportTraceServiceRequest: protobuf bytes, or OTLP JSON text. */
  body: Buffer;
}

export interface ObjectFilter {
  tenant?: string;
  signal?: string;
  afterKey?: string;
  limit?: number;
}

export type FindTraceOutcome = 'found' | 'not_found' | 'invalid' | 'error';

/** Told how each find-trace went (for metrics); the query side itself keeps no metrics. */
export interface QueryObserver {
  findTrace(seconds: number, outcome: FindTraceOutcome): void;
}

export class QueryService {
  /** Public for the replay engine, which reads the same index and blobs. */
  constructor(readonly index: IndexStore, readonly blobs: BlobStore, private readonly observer?: QueryObserver) {}

  listObjects(filter: ObjectFilter): Promise<ObjectMeta[]> {
    return this.index.listObjects(filter);
  }

  /**
   * Every archived span of a trace; `tenant` (when given) limits the search to that tenant's requests, `maxBytes`
   * the size of the answer (ResultTooLargeError beyond it).
   */
  async findTrace(traceId: string, format: PayloadFormat, tenant?: string, limits: { maxBytes?: number } = {}): Promise<FetchedTrace> {
    const started = process.hrtime.bigint();
    const observe = (outcome: FindTraceOutcome): void =>
      this.observer?.findTrace(Number(process.hrtime.bigint() - started) / 1e9, outcome);
    let trace: FoundTrace;
    try {
      trace = await findTrace(this.index, this.blobs, traceId, {
        ...(tenant === undefined ? {} : { tenant }),
        ...(limits.maxBytes === undefined ? {} : { maxBytes: limits.maxBytes }),
      });
    } catch (error) {
      observe(error instanceof NotFoundError ? 'not_found' : error instanceof InvalidArgumentError ? 'invalid' : 'error');
      throw error;
    }
    observe('found');
    if (format === 'proto') return { trace, body: trace.proto };
    return { trace, body: await otlpJson('traces', trace.proto) };
  }

  listRequests(filter: RequestFilter): Promise<ArchivedRequest[]> {
    return this.index.listRequests(filter);
  }

  /** `tenant` (when given) must own the request: another tenant's id is reported as not found. */
  async getRequest(id: string, format: PayloadFormat, tenant?: string): Promise<FetchedRequest> {
    const request = await this.index.getRequest(id);
    if (!request || (tenant !== undefined && request.tenant !== tenant)) {
      throw new NotFoundError(`no captured request with id ${JSON.stringify(id)}`);
    }
    const raw = await readArchivedRequest(this.index, this.blobs, request);
    if (format === 'proto') return { request, body: raw };
    return { request, body: await otlpJson(request.signal, raw) };
  }
}

/** OTLP JSON text of a request. The JSON view (protobufjs and the .proto files) loads only when first asked for. */
async function otlpJson(signal: Signal, proto: Buffer): Promise<Buffer> {
  const { toOtlpJson } = await import('../otlp/json.js');
  return Buffer.from(JSON.stringify(toOtlpJson(signal, proto)));
}
