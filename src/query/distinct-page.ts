// One page of a listing as reads present it when deduplication is on: the raw rows are read in key order and the
// stage leaves out the duplicates (or marks them), until the page is full and one more shown request proves that the
// listing goes on. Whether a row is shown never depends on the page it lands on (the stage asks the index), so a
// cursor after the last shown id continues exactly where this page stopped.
import type { IndexStore } from '../index/index-store.js';
import type { RequestFilter } from '../model.js';
import type { DedupStage, PresentedRequest } from './dedup.js';

export interface DistinctPage {
  requests: PresentedRequest[];
  /** Another shown request follows the last one. */
  more: boolean;
}

export async function distinctPage(
  index: IndexStore,
  dedup: DedupStage,
  filter: RequestFilter & { limit: number },
  withDuplicates: boolean,
): Promise<DistinctPage> {
  const { limit } = filter;
  const chunk = limit + 1;
  const shown: PresentedRequest[] = [];
  let afterId = filter.afterId;
  let more = false;
  for (;;) {
    const rows = await index.listRequests({ ...filter, limit: chunk, ...(afterId === undefined ? {} : { afterId }) });
    for (const request of await dedup.present(rows, { withDuplicates })) {
      if (shown.length < limit) shown.push(request);
      else more = true;
    }
    if (more || rows.length < chunk) break;
    afterId = rows[rows.length - 1]!.id;
  }
  const distinct = shown.filter((r) => r.duplicateOf === undefined);
  const counts = await dedup.duplicateCounts(distinct);
  for (const r of distinct) r.duplicates = counts.get(r.id) ?? 0;
  return { requests: shown, more };
}
