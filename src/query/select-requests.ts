// Every request of a selection, one page at a time from the index (keyset paging, so memory stays constant however
// large the selection): what replay and export walk through.
import type { IndexStore } from '../index/index-store.js';
import type { DedupStage, PresentedRequest } from './dedup.js';
import type { Selection } from './request-cursor.js';

export const SELECTION_PAGE = 1000;

export interface SelectOptions {
  /** Nothing past this id (in the listing's order): what was archived after a plan is not included. */
  lastId?: string;
  newestFirst?: boolean;
  /** Start past this id (a cursor's position). */
  afterId?: string;
  pageSize?: number;
  /** Distinct requests: duplicates left out (or marked, with `withDuplicates`); none when unset or off. */
  dedup?: DedupStage;
  withDuplicates?: boolean;
  /** Each distinct request with its `duplicates` count (one more lookup per page; listings want it, replay not). */
  counts?: boolean;
}

export async function* selectRequests(index: IndexStore, selection: Selection, options: SelectOptions = {}): AsyncGenerator<PresentedRequest> {
  const newestFirst = options.newestFirst ?? false;
  const pageSize = options.pageSize ?? SELECTION_PAGE;
  const { lastId } = options;
  let afterId = options.afterId;
  for (;;) {
    const page = await index.listRequests({ ...selection, newestFirst, limit: pageSize, ...(afterId === undefined ? {} : { afterId }) });
    const shown = options.dedup?.enabled
      ? await options.dedup.present(page, { withDuplicates: options.withDuplicates ?? false, counts: options.counts ?? false })
      : page;
    for (const request of shown) {
      if (lastId !== undefined && (newestFirst ? request.id < lastId : request.id > lastId)) return;
      yield request;
    }
    if (page.length < pageSize) return;
    afterId = page[page.length - 1]!.id;
  }
}
