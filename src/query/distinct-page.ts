// One page of a listing as reads present it when deduplication is on: the raw rows are read in key order and the
// stage leaves out the duplicates (or marks them), until the page is full and one more shown request proves that the
// listing goes on. Whether a row is shown never depends on the page it lands on (the stage asks the index), so a
// cursor after the last shown id continues exactly where this page stopped.
import type { IndexStore } from '../index/index-store.js';
import type { RequestFilter } from '../model.js';
import type { DedupStage, PresentedRequest } from './dedup.js';

/** Rows asked of the index at once once chunks grow (or a page size's worth plus one if larger). */
const MAX_CHUNK_ROWS = 1000;

export interface DistinctPage {
  requests: PresentedRequest[];
  /** Another shown request follows the last one, or the scan stopped at its bound before the listing ended. */
  more: boolean;
  /**
   * Set when the scan stopped at `maxScannedRows` before the page was full: the id of the last row read, where the
   * next page starts (none of the rows up to it that this page leaves out would be shown on any page).
   */
  resumeAfterId?: string;
}

export interface ScanBounds {
  /** Stops reading (the promise rejects with the signal's reason) once the caller is gone. */
  signal?: AbortSignal;
  /**
   * Rows read per page at most (at least one chunk is always read): a run of duplicates (a retry storm) makes a
   * short page that continues where the scan stopped, instead of one call reading the whole selection.
   */
  maxScannedRows?: number;
}

export async function distinctPage(
  index: IndexStore,
  dedup: DedupStage,
  filter: RequestFilter & { limit: number },
  withDuplicates: boolean,
  bounds: ScanBounds = {},
): Promise<DistinctPage> {
  const { limit } = filter;
  const { signal, maxScannedRows = Infinity } = bounds;
  // A chunk that shows too little (a run of duplicates) is followed by a bigger one: fewer index round trips.
  let chunk = limit + 1;
  const shown: PresentedRequest[] = [];
  let afterId = filter.afterId;
  let more = false;
  let scanned = 0;
  let resumeAfterId: string | undefined;
  for (;;) {
    signal?.throwIfAborted();
    const rows = await index.listRequests({ ...filter, limit: chunk, ...(afterId === undefined ? {} : { afterId }) });
    signal?.throwIfAborted();
    for (const request of await dedup.present(rows, { withDuplicates })) {
      if (shown.length < limit) shown.push(request);
      else more = true;
    }
    scanned += rows.length;
    if (more || rows.length < chunk) break;
    afterId = rows[rows.length - 1]!.id;
    chunk = Math.max(chunk, Math.min(chunk * 2, MAX_CHUNK_ROWS));
    if (scanned >= maxScannedRows) {
      more = true;
      resumeAfterId = afterId;
      break;
    }
  }
  signal?.throwIfAborted();
  const distinct = shown.filter((r) => r.duplicateOf === undefined);
  const counts = await dedup.duplicateCounts(distinct);
  for (const r of distinct) r.duplicates = counts.get(r.id) ?? 0;
  return { requests: shown, more, ...(resumeAfterId === undefined ? {} : { resumeAfterId }) };
}
