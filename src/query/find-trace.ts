// find-trace: every archived span of one trace, as one ExportTraceServiceRequest.
//
// The trace index names the requests that hold spans of the trace; each is fetched with one range read (a bounded
// number at once), its spans of other traces are dropped at wire level, and the results are concatenated — the
// concatenation of encoded requests is the encoding of their merge, so no re-encoding is needed. Nothing else of the
// archive is read.
import PQueue from 'p-queue';
import { NotFoundError, ResultTooLargeError } from '../errors.js';
import type { IndexStore } from '../index/index-store.js';
import type { ArchivedRequest } from '../model.js';
import { filterTraceSpans } from '../otlp/trace-filter.js';
import type { BlobStore } from '../storage/blob-store.js';
import { readArchivedRequest } from './read-archived.js';
import { parseTraceId } from './trace-id.js';

/** Range reads in flight at once: enough to hide S3 latency, few enough not to flood a local disk. */
export const DEFAULT_READ_CONCURRENCY = 16;

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
  const candidates = (await index.findTraceRequests(id, filter)).filter((request) => request.signal === 'traces');
  const idBytes = Buffer.from(id, 'hex');
  const queue = new PQueue({ concurrency: options.readConcurrency ?? DEFAULT_READ_CONCURRENCY });
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
  let gathered = 0;
  const filtered = await queue.addAll(
    candidates.map((request) => async () => {
      const result = filterTraceSpans(await readArchivedRequest(index, blobs, request), idBytes);
      gathered += result.bytes.length;
      if (gathered > maxBytes) {
        // Nothing more is read; what is still reading finishes and is dropped.
        queue.clear();
        throw tooLarge(id, maxBytes, candidates, options.tenant);
      }
      return result;
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

function tooLarge(traceId: string, maxBytes: number, candidates: ArchivedRequest[], tenant: string | undefined): ResultTooLargeError {
  const ids = candidates.slice(0, NAMED_REQUESTS).map((request) => request.id);
  const more = candidates.length > ids.length ? ` and ${candidates.length - ids.length} more` : '';
  const narrow = tenant === undefined ? 'narrow it to one tenant (the tenant field, --tenant), or ' : '';
  return new ResultTooLargeError(
    `trace ${traceId} holds more than ${maxBytes} bytes of spans, the most one answer carries: ${narrow}fetch the ` +
      `${candidates.length} requests that hold it one by one (GetRequest): ${ids.join(', ')}${more}`,
  );
}
