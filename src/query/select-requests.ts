// Every request of a selection, one page at a time from the index (keyset paging, so memory stays constant however
// large the selection): what replay and export walk through.
import type { IndexStore } from '../index/index-store.js';
import type { ArchivedRequest } from '../model.js';
import type { Selection } from './request-cursor.js';

export const SELECTION_PAGE = 1000;

export interface SelectOptions {
  /** Nothing past this id (in the listing's order): what was archived after a plan is not included. */
  lastId?: string;
  newestFirst?: boolean;
  /** Start past this id (a cursor's position). */
  afterId?: string;
  pageSize?: number;
}

export async function* selectRequests(index: IndexStore, selection: Selection, options: SelectOptions = {}): AsyncGenerator<ArchivedRequest> {
  const newestFirst = options.newestFirst ?? false;
  const pageSize = options.pageSize ?? SELECTION_PAGE;
  const { lastId } = options;
  let afterId = options.afterId;
  for (;;) {
    const page = await index.listRequests({ ...selection, newestFirst, limit: pageSize, ...(afterId === undefined ? {} : { afterId }) });
    for (const request of page) {
      if (lastId !== undefined && (newestFirst ? request.id < lastId : request.id > lastId)) return;
      yield request;
    }
    if (page.length < pageSize) return;
    afterId = page[page.length - 1]!.id;
  }
}
