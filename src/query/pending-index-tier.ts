// Rows this instance committed to its index that other readers of the same backend may not see yet (ClickHouse's
// outbox, flushed behind the archiver), as a hot tier of the hot-only view served to `--server` readers. The archiver
// releases a spool record once its rows are committed — here, once they are in the outbox — so without this tier a
// request would be in neither the spool's answer nor the backend's until the flush. Its bytes are in the archive
// object already (the object is uploaded before its rows are committed).
import { readRequestBytes } from '../archiver/object-reader.js';
import { NotFoundError } from '../errors.js';
import type { PendingRows } from '../index/index-store.js';
import type { ArchivedRequest, RequestFilter } from '../model.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { HotRequest, HotTier } from './hot-tier.js';

export class PendingIndexTier implements HotTier {
  constructor(
    private readonly rows: PendingRows,
    private readonly blobs: BlobStore,
  ) {}

  async list(filter: RequestFilter): Promise<HotRequest[]> {
    return this.rows.list(filter).map(hot);
  }

  async get(id: string): Promise<HotRequest | null> {
    const request = this.rows.get(id);
    return request === null ? null : hot(request);
  }

  async read(request: ArchivedRequest): Promise<Buffer> {
    // Located by its own row: the request handed in may carry a spool location (listed while still in the spool).
    const row = this.rows.get(request.id);
    if (row === null) throw new NotFoundError(`request ${request.id} is no longer waiting for the index (it is there now)`);
    return readRequestBytes(this.blobs, row);
  }

  async findTrace(traceId: string, filter: { tenant?: string }): Promise<HotRequest[]> {
    return this.rows.findTrace(traceId, filter.tenant).map(hot);
  }

  async close(): Promise<void> {}
}

function hot(request: ArchivedRequest): HotRequest {
  return { ...request, tier: 'hot' };
}
