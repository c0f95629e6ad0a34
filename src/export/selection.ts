// The requests an export reads, in id (= receive) order, one page at a time through the QueryService: the one place
// that knows how the read side pages (the index's paging may change shape; only this loop would follow).
import type { ArchivedRequest, RequestFilter } from '../model.js';
import type { QueryService } from '../query/query-service.js';

export type ExportFilter = Omit<RequestFilter, 'afterId' | 'limit'>;

export const SELECTION_PAGE = 1000;

/** The selection in id order; with `lastId`, nothing after it (what is archived meanwhile is not exported). */
export async function* selectRequests(
  query: QueryService,
  filter: ExportFilter,
  lastId?: string,
  pageSize = SELECTION_PAGE,
): AsyncGenerator<ArchivedRequest> {
  let afterId: string | undefined;
  for (;;) {
    const page = await query.listRequests({ ...filter, limit: pageSize, ...(afterId === undefined ? {} : { afterId }) });
    for (const request of page) {
      if (lastId !== undefined && request.id > lastId) return;
      yield request;
    }
    if (page.length < pageSize) return;
    afterId = page[page.length - 1]!.id;
  }
}
