// The hot tier: requests that are acknowledged but not yet archived and indexed (they are in the spool, waiting for
// their object to seal). Reads merge it with the index (tiered-index.ts) so that a request is readable from its
// acknowledgement on. Adapters: the spool directory itself (spool-hot-tier.ts: the server's own, or the CLI's beside
// a running serve), and running instances asked over CaptureService (remote-hot-tier.ts, `--server`).
//
// The hand-over to the archive: the archiver commits an object's index rows, then releases its spool records, then
// removes the segment. A reader asks the hot tier first and the index second, so a request is always in at least one
// of the two answers; when it is in both, the archive's row wins (merge-tiers.ts).
import type { ArchivedRequest, RequestFilter } from '../model.js';

/** A hot request: index-row fields (fingerprint included, for de-duplication); location fields name its spool record. */
export type HotRequest = ArchivedRequest & { tier: 'hot' };

export interface HotTier {
  /** Hot requests matching the filter, in id order (afterId, newestFirst and limit honoured). */
  list(filter: RequestFilter): Promise<HotRequest[]>;
  get(id: string): Promise<HotRequest | null>;
  /** The request's bytes as the client sent them. NotFoundError once it left the hot tier (it is archived then). */
  read(request: ArchivedRequest): Promise<Buffer>;
  /** Hot trace requests holding spans of the trace (32 lowercase hex digits). */
  findTrace(traceId: string, filter: { tenant?: string }): Promise<HotRequest[]>;
  close(): Promise<void>;
}

/** Whether a request matches a selection's filters (signal, service, tenant, data time overlap); paging aside. */
export function matchesFilter(request: ArchivedRequest, filter: RequestFilter): boolean {
  if (filter.signal !== undefined && request.signal !== filter.signal) return false;
  if (filter.tenant !== undefined && request.tenant !== filter.tenant) return false;
  if (filter.service !== undefined && !request.services.includes(filter.service)) return false;
  if (filter.sinceNs !== undefined && request.endNs < filter.sinceNs) return false;
  if (filter.untilNs !== undefined && request.startNs > filter.untilNs) return false;
  return true;
}

/** Sorts by id in the filter's order, keeps what is past afterId, cuts at limit. */
export function pageOf<T extends { id: string }>(requests: T[], filter: RequestFilter): T[] {
  const newestFirst = filter.newestFirst ?? false;
  const { afterId } = filter;
  const past = afterId === undefined ? requests : requests.filter((r) => (newestFirst ? r.id < afterId : r.id > afterId));
  past.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) * (newestFirst ? -1 : 1));
  return filter.limit === undefined ? past : past.slice(0, filter.limit);
}
