// One ListRequests page, bounded by what its rows weigh as well as by their number. A row carries its request's
// service names — up to admission.maxServicesPerRequest (10,000) of them — so page_size rows alone do not bound a
// page: measured, 200 rows of 10,000 40-character names held serve's event loop 3 s, took 500 MB, and then failed
// ("Sent message larger than max", 84 MB), a page no client could ever get past. Rows are read in chunks, and the page
// ends (with a page token, as a short page may by AIP-158) once its service names reach a budget.
import type { RequestFilter } from '../model.js';
import type { PresentedRequest } from '../query/dedup.js';
import type { PageRequest, QueryService } from '../query/query-service.js';
import { encodeCursor } from '../query/request-cursor.js';

/** Rows read from the index at once: the most one read holds is this many rows of the largest service lists. */
export const LIST_CHUNK_ROWS = 100;
/**
 * Bytes of service names after which a page ends (its other fields are a few hundred bytes a row, a row's names at
 * most 1 MiB: the spool header's bound): every page then fits the 4 MiB a gRPC client receives by default (grpcurl's,
 * grpc-js', C-core's).
 */
export const MAX_PAGE_SERVICE_BYTES = 2 * 2 ** 20;

export interface BoundedPage {
  requests: PresentedRequest[];
  nextCursor: string | null;
}

export async function boundedListPage(
  source: QueryService,
  selection: RequestFilter,
  page: Omit<PageRequest, 'limit' | 'cursor'> & { limit: number; cursor?: string },
): Promise<BoundedPage> {
  const requests: PresentedRequest[] = [];
  let cursor = page.cursor;
  let weight = 0;
  for (;;) {
    const ask = Math.min(LIST_CHUNK_ROWS, page.limit - requests.length);
    const chunk = await source.listPage(selection, { ...page, limit: ask, ...(cursor === undefined ? {} : { cursor }) });
    for (const [i, request] of chunk.requests.entries()) {
      weight += serviceBytes(request);
      requests.push(request);
      // At least one row a page, so a listing always moves on; the rest of this chunk is left for the next page.
      if (weight >= MAX_PAGE_SERVICE_BYTES && (i < chunk.requests.length - 1 || chunk.nextCursor !== null)) {
        return { requests, nextCursor: encodeCursor(selection, { newestFirst: chunk.newestFirst, afterId: request.id }) };
      }
    }
    // Done, full, or short (a run of duplicates ended the chunk's scan): the chunk's own cursor continues from there.
    if (chunk.nextCursor === null || requests.length >= page.limit || chunk.requests.length < ask) {
      return { requests, nextCursor: chunk.nextCursor };
    }
    cursor = chunk.nextCursor;
  }
}

function serviceBytes(request: PresentedRequest): number {
  let bytes = 0;
  for (const service of request.services) bytes += service.length + 2;
  return bytes;
}
