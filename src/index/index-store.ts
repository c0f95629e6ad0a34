// The IndexStore port: rows that say what is where. Adapters: SQLite (embedded default) and ClickHouse.

import type { ArchivedRequest, ObjectMeta, RequestFilter } from '../model.js';

export interface IndexStore {
  /** Creates or migrates the schema; throws a BackendUnavailableError with a clear message when unusable. */
  start(): Promise<void>;
  close(): Promise<void>;
  /**
   * Records a sealed object and all its requests (and their trace ids, when given). Durable when the promise
   * resolves. Idempotent: committing the same object (same key, same request ids) again changes nothing.
   */
  commitObject(object: ObjectMeta, requests: ArchivedRequest[]): Promise<void>;
  /** Which of these request ids are already indexed. */
  knownRequestIds(ids: readonly string[]): Promise<Set<string>>;
  /**
   * Requests holding spans of this trace (id: 32 lowercase hex digits), ordered by id; [] when none. Only what was
   * committed with `ArchivedRequest.traceIds` is found. Optional while not every adapter has a trace index.
   */
  findTraceRequests?(traceId: string, filter?: { tenant?: string }): Promise<ArchivedRequest[]>;
  /** Requests matching the filter, ordered by id (= receive order). */
  listRequests(filter: RequestFilter): Promise<ArchivedRequest[]>;
  getRequest(id: string): Promise<ArchivedRequest | null>;
  /** Objects ordered by key. */
  listObjects(filter: { tenant?: string; signal?: string; afterKey?: string; limit?: number }): Promise<ObjectMeta[]>;
  describe(): string;
  /**
   * Optional: why the index cannot be used yet (backend unreachable at start-up while writes are buffered), or
   * null. A non-null reason makes /readyz answer not ready.
   */
  notReadyReason?(): string | null;
}
