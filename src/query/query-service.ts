// The read side shared by the CLI and CaptureService: list what was captured, fetch one request's bytes.
import { InvalidArgumentError, NotFoundError, ResultTooLargeError } from '../errors.js';
import type { IndexStore } from '../index/index-store.js';
import type { ArchivedRequest, ObjectMeta, RequestFilter, Signal } from '../model.js';
import type { BlobStore } from '../storage/blob-store.js';
import { DedupStage, type PresentedRequest } from './dedup.js';
import { distinctPage, type ScanBounds } from './distinct-page.js';
import { findTrace, type FoundTrace, type NamedByteLimit } from './find-trace.js';
import { readArchivedRequest } from './read-archived.js';
import { decodeCursor, encodeCursor, type Selection } from './request-cursor.js';
import { selectRequests, type SelectOptions } from './select-requests.js';

export type PayloadFormat = 'proto' | 'json';

export interface FetchedRequest {
  request: PresentedRequest;
  /** Raw protobuf bytes as the client sent them, or OTLP JSON text. */
  body: Buffer;
}

export interface FetchedTrace {
  trace: FoundTrace;
  /** The trace as one ExportTraceServiceRequest: protobuf bytes, or OTLP JSON text. */
  body: Buffer;
}

export interface PageRequest {
  /** At most this many requests. */
  limit: number;
  /** Newest first; a cursor brings its own order (asking for the other one is refused). */
  newestFirst?: boolean;
  /** From a previous page's nextCursor. */
  cursor?: string;
  /** Distinct requests: show the duplicates too (marked with duplicateOf). */
  withDuplicates?: boolean;
  /** How much one page may read while it leaves duplicates out, and when to stop reading (see ScanBounds). */
  bounds?: ScanBounds;
}

export interface RequestPage {
  /** With deduplication on, each distinct request carries its `duplicates` count. */
  requests: PresentedRequest[];
  /** Continues the listing after this page; null when nothing more matched when the page was read. */
  nextCursor: string | null;
  newestFirst: boolean;
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

/**
 * The largest request a JSON view converts, and the setting that says so (named in the refusal). A view costs far
 * more than its bytes: protobufjs makes an object per message (span, attribute, log record; a message can be 2 bytes),
 * ~1.4 KiB of heap and ~16 µs per minimal span, and the text is 3-5× the protobuf.
 */
export type JsonViewLimit = NamedByteLimit;

/** Reads' options: each distinct request once (the default when a dedup window is configured), or all of them. */
export interface DuplicatesOption {
  withDuplicates?: boolean;
}

export class QueryService {
  /** Distinct requests (src/query/dedup.ts): off when the window is 0. Public for replay and export. */
  readonly dedup: DedupStage;

  /** Public for the replay engine, which reads the same index and blobs. */
  constructor(
    readonly index: IndexStore,
    readonly blobs: BlobStore,
    private readonly observer?: QueryObserver,
    /** dedup.window: twins received within this many ms of each other show once; 0 shows every request. */
    dedupWindowMs = 0,
  ) {
    this.dedup = new DedupStage(dedupWindowMs, [(ranges) => index.findTwins(ranges)]);
  }

  listObjects(filter: ObjectFilter): Promise<ObjectMeta[]> {
    return this.index.listObjects(filter);
  }

  /**
   * Every archived span of a trace; `tenant` (when given) limits the search to that tenant's requests, `maxBytes`
   * the size of the answer and `maxReadBytes` the size of the requests read for it (ResultTooLargeError beyond them).
   */
  async findTrace(
    traceId: string,
    format: PayloadFormat,
    tenant?: string,
    limits: { maxBytes?: number; maxReadBytes?: NamedByteLimit } & DuplicatesOption = {},
  ): Promise<FetchedTrace> {
    const started = process.hrtime.bigint();
    const observe = (outcome: FindTraceOutcome): void =>
      this.observer?.findTrace(Number(process.hrtime.bigint() - started) / 1e9, outcome);
    let trace: FoundTrace;
    try {
      trace = await findTrace(this.index, this.blobs, traceId, {
        ...(tenant === undefined ? {} : { tenant }),
        ...(limits.maxBytes === undefined ? {} : { maxBytes: limits.maxBytes }),
        ...(limits.maxReadBytes === undefined ? {} : { maxReadBytes: limits.maxReadBytes }),
        // A retried request holds the same spans again: the trace is assembled from distinct requests only.
        ...(this.dedup.enabled && !limits.withDuplicates ? { distinct: (requests: ArchivedRequest[]) => this.dedup.present(requests) } : {}),
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

  /** One page of a selection, and the cursor that continues it (keyset paging: nothing skipped or repeated). */
  async listPage(selection: Selection, page: PageRequest): Promise<RequestPage> {
    let newestFirst = page.newestFirst ?? false;
    let afterId: string | undefined;
    if (page.cursor !== undefined) {
      const position = decodeCursor(page.cursor, selection);
      if (page.newestFirst !== undefined && page.newestFirst !== position.newestFirst) {
        throw new InvalidArgumentError(`this cursor continues a listing ${position.newestFirst ? 'newest' : 'oldest'} first; drop the order or ask for that one`);
      }
      newestFirst = position.newestFirst;
      afterId = position.afterId;
    }
    const filter = { ...selection, newestFirst, ...(afterId === undefined ? {} : { afterId }) };
    let requests: PresentedRequest[];
    let more: boolean;
    if (this.dedup.enabled) {
      let resumeAfterId: string | undefined;
      ({ requests, more, resumeAfterId } = await distinctPage(
        this.index,
        this.dedup,
        { ...filter, limit: page.limit },
        page.withDuplicates ?? false,
        page.bounds,
      ));
      if (resumeAfterId !== undefined) {
        return { requests, nextCursor: encodeCursor(selection, { newestFirst, afterId: resumeAfterId }), newestFirst };
      }
    } else {
      const rows = await this.index.listRequests({ ...filter, limit: page.limit + 1 });
      requests = rows.slice(0, page.limit);
      more = rows.length > page.limit;
    }
    const last = requests[requests.length - 1];
    const nextCursor = more && last ? encodeCursor(selection, { newestFirst, afterId: last.id }) : null;
    return { requests, nextCursor, newestFirst };
  }

  /**
   * Every request of a selection, page by page (constant memory): replay and export walk through this. Distinct
   * requests only unless `withDuplicates` (with `counts`, each with its duplicate count).
   */
  selectRequests(selection: Selection, options: Omit<SelectOptions, 'dedup'> = {}): AsyncGenerator<PresentedRequest> {
    return selectRequests(this.index, selection, { ...options, dedup: this.dedup });
  }

  /**
   * How many requests a selection holds: the distinct ones (what listings show) unless `withDuplicates`, or when
   * deduplication is off.
   */
  async countRequests(selection: Selection, options: DuplicatesOption = {}): Promise<number> {
    if (!this.dedup.enabled || options.withDuplicates) return this.index.countRequests(selection);
    const [total, duplicates] = await Promise.all([this.index.countRequests(selection), this.index.countDuplicates(selection, this.dedup.windowMs)]);
    return total - duplicates;
  }

  /**
   * `tenant` (when given) must own the request: another tenant's id is reported as not found. With `jsonLimit`, a JSON
   * view of a larger request is refused (ResultTooLargeError) before anything is read.
   */
  async getRequest(id: string, format: PayloadFormat, tenant?: string, jsonLimit?: JsonViewLimit): Promise<FetchedRequest> {
    const request = await this.index.getRequest(id);
    if (!request || (tenant !== undefined && request.tenant !== tenant)) {
      throw new NotFoundError(`no captured request with id ${JSON.stringify(id)}`);
    }
    if (format === 'json' && jsonLimit !== undefined && request.rawBytes > jsonLimit.maxBytes) {
      throw new ResultTooLargeError(
        `request ${request.id} is ${request.rawBytes} bytes of protobuf (${request.items} ${ITEM_NAMES[request.signal]}); its OTLP/JSON ` +
          `view is made for requests of at most ${jsonLimit.maxBytes} bytes (${jsonLimit.setting}): fetch it as protobuf ` +
          '(FORMAT_PROTO, `get --format proto`) and convert it where there is memory for it',
      );
    }
    const raw = await readArchivedRequest(this.index, this.blobs, request);
    // Exact by id, duplicate or not; it says which it is (duplicateOf) or how many duplicates it has.
    const [presented] = await this.dedup.present([request], { withDuplicates: true, counts: true });
    if (format === 'proto') return { request: presented ?? request, body: raw };
    return { request: presented ?? request, body: await otlpJson(request.signal, raw) };
  }
}

const ITEM_NAMES: Record<Signal, string> = { traces: 'spans', metrics: 'data points', logs: 'log records' };

/**
 * OTLP JSON text of a request, made on a worker thread: seconds of CPU for a large request, which on the event loop
 * would stall every listener of a serve (ingest, health checks). The JSON view (protobufjs and the .proto files) loads
 * only when first asked for.
 */
async function otlpJson(signal: Signal, proto: Buffer): Promise<Buffer> {
  const { otlpJsonViewOffThread } = await import('../otlp/json-workers.js');
  return otlpJsonViewOffThread(signal, proto);
}
