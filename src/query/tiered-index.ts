// The index as readers see it: the archive's rows (the IndexStore) merged with the hot tiers' requests, so that every
// read path built on IndexStore (list, paging, counts, get, find-trace, replay, export) sees a request from its
// acknowledgement on, once. Writes and object-level calls go to the archive's index unchanged.
//
// Order of asking: hot tiers first, then the index. The archiver makes a request's index rows durable before it
// leaves the spool, so whatever the hot answer missed because it was sealed meanwhile is in the index answer that
// follows; what is in both is shown once, from the archive (merge-tiers.ts).
import { readRequestBytes } from '../archiver/object-reader.js';
import { NotFoundError } from '../errors.js';
import type { IndexStore, ObjectListFilter, QuarantinedRequest, Twin, TwinRange } from '../index/index-store.js';
import { duplicateFloor } from '../index/twin-window.js';
import type { ArchivedRequest, ObjectMeta, RequestFilter, Signal } from '../model.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { HotTier } from './hot-tier.js';
import { mergeTiers } from './merge-tiers.js';

export interface TieredIndexOptions {
  /** Reads answer from the hot tiers alone (CaptureService's hot_only: what `--server` merges with its own index). */
  hotOnly?: boolean;
}

export class TieredIndex implements IndexStore {
  private readonly hotOnly: boolean;

  constructor(readonly archive: IndexStore, readonly hot: readonly HotTier[], options: TieredIndexOptions = {}) {
    this.hotOnly = options.hotOnly ?? false;
  }

  start(): Promise<void> {
    return this.archive.start();
  }

  async close(): Promise<void> {
    await Promise.all(this.hot.map((tier) => tier.close()));
    await this.archive.close();
  }

  async listRequests(filter: RequestFilter): Promise<ArchivedRequest[]> {
    const hot = await Promise.all(this.hot.map((tier) => tier.list(filter)));
    const archived = this.hotOnly ? [] : await this.archive.listRequests(filter);
    return mergeTiers(archived, hot, filter);
  }

  async countRequests(filter: RequestFilter): Promise<number> {
    const { limit: _limit, afterId: _afterId, ...selection } = filter;
    const hot = mergeTiers([], await Promise.all(this.hot.map((tier) => tier.list(selection))), selection);
    if (this.hotOnly) return hot.length;
    const archived = await this.archive.countRequests(filter);
    if (hot.length === 0) return archived;
    const known = await this.archive.knownRequestIds(hot.map((request) => request.id));
    return archived + hot.filter((request) => !known.has(request.id)).length;
  }

  /** Twins from the index and from the hot tiers (a retry may still be hot while the request it repeats is archived). */
  async findTwins(ranges: readonly TwinRange[]): Promise<Twin[]> {
    if (ranges.length === 0) return [];
    const archived = this.hotOnly ? [] : await this.archive.findTwins(ranges);
    const byId = new Map<string, Twin>(archived.map((twin) => [twin.id, twin]));
    // One hot listing per stream (tenant, signal), not per range.
    const streams = new Map<string, TwinRange[]>();
    for (const range of ranges) {
      const key = `${range.tenant}\u0000${range.signal}`;
      streams.set(key, [...(streams.get(key) ?? []), range]);
    }
    for (const group of streams.values()) {
      const { tenant, signal } = group[0]!;
      const hot = await Promise.all(this.hot.map((tier) => tier.list({ tenant, signal: signal as Signal })));
      for (const request of hot.flat()) {
        if (request.fingerprint === undefined || byId.has(request.id)) continue;
        const inRange = group.some((r) => r.fingerprint === request.fingerprint && request.id >= r.fromId && request.id < r.toId);
        if (inRange) byId.set(request.id, { id: request.id, tenant: request.tenant, signal: request.signal, fingerprint: request.fingerprint });
      }
    }
    return [...byId.values()];
  }

  /** The index's duplicates, plus hot requests not yet indexed that repeat an earlier twin (hot or archived). */
  async countDuplicates(filter: RequestFilter, windowMs: number): Promise<number> {
    if (windowMs <= 0) return 0;
    const { limit: _limit, afterId: _afterId, ...selection } = filter;
    const hot = mergeTiers([], await Promise.all(this.hot.map((tier) => tier.list(selection))), selection).filter(
      (request) => request.fingerprint !== undefined,
    );
    const archived = this.hotOnly ? 0 : await this.archive.countDuplicates(filter, windowMs);
    if (hot.length === 0) return archived;
    const known = this.hotOnly ? new Set<string>() : await this.archive.knownRequestIds(hot.map((request) => request.id));
    const unindexed = hot.filter((request) => !known.has(request.id));
    const twins = await this.findTwins(
      unindexed.map((request) => ({
        tenant: request.tenant,
        signal: request.signal,
        fingerprint: request.fingerprint!,
        fromId: duplicateFloor(request.id, windowMs),
        toId: request.id,
      })),
    );
    const repeated = unindexed.filter((request) =>
      twins.some((twin) => twin.tenant === request.tenant && twin.signal === request.signal && twin.fingerprint === request.fingerprint && twin.id < request.id && twin.id >= duplicateFloor(request.id, windowMs)),
    );
    return archived + repeated.length;
  }

  async getRequest(id: string): Promise<ArchivedRequest | null> {
    let hot: ArchivedRequest | null = null;
    for (const tier of this.hot) {
      hot = await tier.get(id);
      if (hot) break;
    }
    if (this.hotOnly) return hot;
    return (await this.archive.getRequest(id)) ?? hot;
  }

  async findTraceRequests(traceId: string, filter?: { tenant?: string }): Promise<ArchivedRequest[]> {
    const hot = await Promise.all(this.hot.map((tier) => tier.findTrace(traceId, filter ?? {})));
    const archived = this.hotOnly ? [] : await this.archive.findTraceRequests(traceId, filter);
    return mergeTiers(archived, hot, {});
  }

  /** The archive's count: hot requests are found from their bytes, never from trace rows. */
  async untracedTraceRequests(): Promise<number> {
    return this.hotOnly ? 0 : ((await this.archive.untracedTraceRequests?.()) ?? 0);
  }

  /**
   * A hot request's bytes, from the tier that holds it; once it has left every hot tier (sealed since it was listed)
   * from the archive, where it is by then.
   */
  async readHot(request: ArchivedRequest, blobs: BlobStore): Promise<Buffer> {
    for (const tier of this.hot) {
      try {
        return await tier.read(request);
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
      }
    }
    const archived = await this.archive.getRequest(request.id);
    if (!archived) throw new NotFoundError(`request ${request.id} is neither hot nor archived any more`);
    return readRequestBytes(blobs, archived);
  }

  commitObject(object: ObjectMeta, requests: ArchivedRequest[]): Promise<void> {
    return this.archive.commitObject(object, requests);
  }

  knownRequestIds(ids: readonly string[]): Promise<Set<string>> {
    return this.archive.knownRequestIds(ids);
  }

  listObjects(filter: ObjectListFilter): Promise<ObjectMeta[]> {
    return this.archive.listObjects(filter);
  }

  getObject(key: string): Promise<ObjectMeta | null> {
    return this.archive.getObject(key);
  }

  deleteObject(key: string, requestIds?: readonly string[]): Promise<void> {
    return this.archive.deleteObject(key, requestIds);
  }

  replaceObject(oldKey: string, newObject: ObjectMeta, requests: readonly ArchivedRequest[], removedIds?: readonly string[]): Promise<void> {
    return this.archive.replaceObject(oldKey, newObject, requests, removedIds);
  }

  quarantineRequests(entries: readonly QuarantinedRequest[]): Promise<void> {
    return this.archive.quarantineRequests(entries);
  }

  quarantinedRequests(ids: readonly string[]): Promise<Map<string, QuarantinedRequest>> {
    return this.archive.quarantinedRequests(ids);
  }

  describe(): string {
    return `${this.archive.describe()} + hot tier`;
  }
}

export function isTieredIndex(index: IndexStore): index is TieredIndex {
  return index instanceof TieredIndex;
}
