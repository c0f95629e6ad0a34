// find-trace: every archived span of one trace, as one ExportTraceServiceRequest.
//
// The trace index names the requests that hold spans of the trace; each is fetched with one range read (a bounded
// number at once), its spans of other traces are dropped at wire level, and the results are concatenated — the
// concatenation of encoded requests is the encoding of their merge, so no re-encoding is needed. Nothing else of the
// archive is read.
import { setImmediate as nextTurn } from 'node:timers/promises';
import PQueue from 'p-queue';
import { NotFoundError, ResultTooLargeError } from '../errors.js';
import type { IndexStore } from '../index/index-store.js';
import type { ArchivedRequest } from '../model.js';
import { filterTraceSpans } from '../otlp/trace-filter.js';
import type { BlobStore } from '../storage/blob-store.js';
import { ByteWindow } from './byte-window.js';
import { readArchivedRequest } from './read-archived.js';
import { parseTraceId } from './trace-id.js';

/** Range reads in flight at once: enough to hide S3 latency, few enough not to flood a local disk. */
export const DEFAULT_READ_CONCURRENCY = 16;
/**
 * Bytes of requests held by reads in flight at once (a larger request still runs, alone): count alone let 16 reads of
 * 63 MiB requests hold ~1 GiB (measured: 8 such requests took serve from 225 MB to 631 MB RSS).
 */
export const DEFAULT_READ_WINDOW_BYTES = 64 * 2 ** 20;

/** A bound on bytes, with the setting (or rule) that sets it: refusals name it. */
export interface NamedByteLimit {
  maxBytes: number;
  setting: string;
}

export interface FoundTrace {
  /** 32 lowercase hex digits. */
  traceId: string;
  /** One ExportTraceServiceRequest holding every span of the trace found, in archive (receive) order. */
  proto: Buffer;
  spans: number;
  /** The archived requests the spans came from, ordered by id. */
  requests: ArchivedRequest[];
}

export { parseTraceId };

export interface FindTraceOptions {
  /** Only this tenant's requests. */
  tenant?: string;
  readConcurrency?: number;
  /** The trace's spans may add up to at most this many bytes (protobuf); beyond it, reading stops. */
  maxBytes?: number;
  /**
   * The requests holding the trace may add up to at most this many bytes (protobuf), checked from the index before
   * anything is read; `setting` is named in the refusal. The answer's bound alone does not bound the work: a trace
   * with a span in each of 10,000 requests of 64 MiB is a small answer and 640 GB to read and filter.
   */
  maxReadBytes?: NamedByteLimit;
  /** Bytes of requests held by reads in flight at once (DEFAULT_READ_WINDOW_BYTES). */
  readWindowBytes?: number;
  /** Distinct requests: leaves out the retries among the requests holding the trace (src/query/dedup.ts). */
  distinct?: (requests: ArchivedRequest[]) => Promise<ArchivedRequest[]>;
}

/**
 * Every span of `traceId` in the archive.
 * @throws InvalidArgumentError for a malformed id; NotFoundError when no span of the trace is archived;
 * ResultTooLargeError when the spans exceed `maxBytes`.
 */
export async function findTrace(
  index: IndexStore,
  blobs: BlobStore,
  traceId: string,
  options: FindTraceOptions = {},
): Promise<FoundTrace> {
  const id = parseTraceId(traceId);
  const filter = options.tenant === undefined ? {} : { tenant: options.tenant };
  const found = (await index.findTraceRequests(id, filter)).filter((request) => request.signal === 'traces');
  const candidates = options.distinct ? await options.distinct(found) : found;
  if (options.maxReadBytes !== undefined) checkReadBytes(id, options.maxReadBytes, candidates, options.tenant);
  const idBytes = Buffer.from(id, 'hex');
  const queue = new PQueue({ concurrency: options.readConcurrency ?? DEFAULT_READ_CONCURRENCY });
  const window = new ByteWindow(options.readWindowBytes ?? DEFAULT_READ_WINDOW_BYTES);
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
  let gathered = 0;
  let stopped = false;
  const filtered = await queue.addAll(
    candidates.map((request) => async () => {
      await window.acquire(request.rawBytes);
      try {
        if (stopped) return { bytes: Buffer.alloc(0), spans: 0 };
        const bytes = await readArchivedRequest(index, blobs, request);
        // Filtering is synchronous (~3 ms per MiB): reads that finish together would otherwise be filtered back to
        // back, holding the event loop for all of them (1.5 s for eight 63 MiB requests, measured).
        await nextTurn();
        const result = filterTraceSpans(bytes, idBytes);
        gathered += result.bytes.length;
        if (gathered > maxBytes) {
          // Nothing more is read; what is still reading finishes and is dropped.
          stopped = true;
          queue.clear();
          window.drain();
          throw tooLarge(id, maxBytes, candidates, options.tenant);
        }
        return result;
      } finally {
        window.release(request.rawBytes);
      }
    }),
  );
  const requests: ArchivedRequest[] = [];
  const parts: Buffer[] = [];
  let spans = 0;
  filtered.forEach((result, i) => {
    if (result.spans === 0) return;
    requests.push(candidates[i]!);
    parts.push(result.bytes);
    spans += result.spans;
  });
  if (spans === 0) {
    const scope = options.tenant === undefined ? '' : ` of tenant ${JSON.stringify(options.tenant)}`;
    throw new NotFoundError(`trace ${id} is not in the archive${scope}`);
  }
  return { traceId: id, proto: Buffer.concat(parts), spans, requests };
}

/** How many request ids a too-large answer names, so the caller can fetch them one by one. */
const NAMED_REQUESTS = 10;

function checkReadBytes(traceId: string, limit: NamedByteLimit, candidates: ArchivedRequest[], tenant: string | undefined): void {
  const total = candidates.reduce((sum, request) => sum + request.rawBytes, 0);
  if (total <= limit.maxBytes) return;
  const ids = candidates.slice(0, NAMED_REQUESTS).map((request) => request.id);
  const more = candidates.length > ids.length ? ` and ${candidates.length - ids.length} more` : '';
  const narrow = tenant === undefined ? 'narrow it to one tenant (the tenant field, --tenant), or ' : '';
  throw new ResultTooLargeError(
    `trace ${traceId} is spread over ${candidates.length} requests of ${total} bytes in all, more than one find-trace ` +
      `reads (${limit.maxBytes} bytes, ${limit.setting}): ${narrow}fetch the requests that hold it one by one (GetRequest): ` +
      `${ids.join(', ')}${more}`,
  );
}

function tooLarge(traceId: string, maxBytes: number, candidates: ArchivedRequest[], tenant: string | undefined): ResultTooLargeError {
  const ids = candidates.slice(0, NAMED_REQUESTS).map((request) => request.id);
  const more = candidates.length > ids.length ? ` and ${candidates.length - ids.length} more` : '';
  const narrow = tenant === undefined ? 'narrow it to one tenant (the tenant field, --tenant), or ' : '';
  return new ResultTooLargeError(
    `trace ${traceId} holds more than ${maxBytes} bytes of spans, the most one answer carries: ${narrow}fetch the ` +
      `${candidates.length} requests that hold it one by one (GetRequest): ${ids.join(', ')}${more}`,
  );
}
