// One answer from the archive's rows and the hot tiers' requests: each id once, the archive's row winning (a request
// that was sealed while it was being read is in both), in the listing's id order, cut at the limit. Keyset paging
// stays exact: each source answered at most `limit` rows past the same afterId, so the first `limit` of the union
// are the first `limit` of the whole.
import type { ArchivedRequest, RequestFilter } from '../model.js';
import { pageOf } from './hot-tier.js';

export function mergeTiers(archive: readonly ArchivedRequest[], hot: readonly (readonly ArchivedRequest[])[], filter: RequestFilter): ArchivedRequest[] {
  const byId = new Map<string, ArchivedRequest>();
  for (const answer of hot) for (const request of answer) if (!byId.has(request.id)) byId.set(request.id, request);
  for (const request of archive) byId.set(request.id, request);
  return pageOf([...byId.values()], filter);
}
