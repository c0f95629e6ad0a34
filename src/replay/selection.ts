// The requests a replay sends, straight from the index in id (= receive) order, one page at a time; and a first pass
// over the same selection for what must be known before the first send (totals for progress and ETA, the earliest
// data timestamp for --time-shift now, and the last id: a replay into the instance it reads from must not chase its
// own output).
import type { IndexStore } from '../index/index-store.js';
import type { ArchivedRequest } from '../model.js';
import type { DedupStage } from '../query/dedup.js';
import type { Selection } from '../query/request-cursor.js';
import { SELECTION_PAGE, selectRequests as selectPages } from '../query/select-requests.js';
import { emptyCounts, type ReplayCounts } from './replay-progress.js';

export type SelectionFilter = Selection;

export { SELECTION_PAGE };

/** Distinct requests: a replay sends each once (duplicates left out) unless `withDuplicates`. */
export interface ReplayDedup {
  dedup?: DedupStage;
  withDuplicates?: boolean;
}

/**
 * The selection in id order through the index's keyset paging (constant memory); with `lastId`, nothing after it
 * (what was archived after the plan is not replayed).
 */
export function selectRequests(
  index: IndexStore,
  filter: SelectionFilter,
  lastId?: string,
  pageSize = SELECTION_PAGE,
  distinct: ReplayDedup = {},
): AsyncGenerator<ArchivedRequest> {
  return selectPages(index, filter, { pageSize, ...(lastId === undefined ? {} : { lastId }), ...distinctOptions(distinct) });
}

function distinctOptions(distinct: ReplayDedup): { dedup?: DedupStage; withDuplicates: boolean } {
  return { ...(distinct.dedup === undefined ? {} : { dedup: distinct.dedup }), withDuplicates: distinct.withDuplicates ?? false };
}

export interface SelectionPlan {
  total: ReplayCounts;
  /** The last request of the selection when planned; null when empty. */
  lastId: string | null;
  earliestNs: bigint | null;
  latestNs: bigint | null;
}

export async function planSelection(
  index: IndexStore,
  filter: SelectionFilter,
  pageSize = SELECTION_PAGE,
  distinct: ReplayDedup = {},
  /** A replay cancelled while it plans (Ctrl-C, the API caller gone) stops reading the index: the plan is partial. */
  signal?: AbortSignal,
): Promise<SelectionPlan> {
  const total = emptyCounts();
  let earliestNs: bigint | null = null;
  let latestNs: bigint | null = null;
  let lastId: string | null = null;
  for await (const request of selectRequests(index, filter, undefined, pageSize, distinct)) {
    if (signal?.aborted) break;
    lastId = request.id;
    total.requests += 1;
    total.items += request.items;
    total.bytes += request.rawBytes;
    if (earliestNs === null || request.startNs < earliestNs) earliestNs = request.startNs;
    if (latestNs === null || request.endNs > latestNs) latestNs = request.endNs;
  }
  return { total, lastId, earliestNs, latestNs };
}
