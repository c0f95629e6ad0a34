// The requests an export reads, in id (= receive) order, one page at a time through the QueryService's shared
// selection (the one place that knows how the read side pages, and that leaves out duplicates: each distinct request
// is exported once unless `withDuplicates`).
import type { ArchivedRequest, RequestFilter } from '../model.js';
import type { QueryService } from '../query/query-service.js';

export type ExportFilter = Omit<RequestFilter, 'afterId' | 'limit' | 'newestFirst'> & {
  /** Export the duplicates too (retries within dedup.window); default: each distinct request once. */
  withDuplicates?: boolean;
};

export const SELECTION_PAGE = 1000;

/** The selection in id order; with `lastId`, nothing after it (what is archived meanwhile is not exported). */
export function selectRequests(
  query: QueryService,
  filter: ExportFilter,
  lastId?: string,
  pageSize = SELECTION_PAGE,
): AsyncGenerator<ArchivedRequest> {
  const { withDuplicates, ...selection } = filter;
  return query.selectRequests(selection, { pageSize, withDuplicates: withDuplicates ?? false, ...(lastId === undefined ? {} : { lastId }) });
}
