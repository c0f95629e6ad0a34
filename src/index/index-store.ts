// The IndexStore port: rows that say what is where. Adapters: SQLite (embedded default) and ClickHouse.

import type { ArchivedRequest, ObjectMeta, RequestFilter } from '../model.js';

export interface ObjectListFilter {
  tenant?: string;
  signal?: string;
  afterKey?: string;
  limit?: number;
  /**
   * Only objects sealed before this (unix ms): the seal follows the receive time of every request in the object.
   * Retention's "older than". Data timestamps (endNs) do not count: one after the seal is a clock ahead or garbage.
   */
  newestBeforeMs?: number;
  /** Only objects of at least this many stored bytes. */
  minStoredBytes?: number;
}

/** Rows an adapter that buffers its writes (ClickHouse's outbox) has committed but not yet written to its backend. */
export interface OutboxStatus {
  /** Objects and request rows committed but not yet in the backend. */
  objects: number;
  requests: number;
  /** Age of the oldest queued object: how far the backend lags behind commits (0 when none wait). */
  lagMs: number;
  /** Whether the last attempt to reach the backend succeeded. */
  backendAvailable: boolean;
  /** Attempts to write queued rows (or to prepare the backend) that failed and will be retried, since start. */
  failedFlushes: number;
  /** Objects the backend refused alone, set aside (kept locally, not in the counts above) until the next start. */
  setAsideObjects?: number;
}

/** A request whose archived block is damaged or whose object is missing, as `verify --repair` found it. */
export interface QuarantinedRequest {
  id: string;
  /** What is wrong, for a person: which object, which offset, what failed. */
  reason: string;
  atMs: number;
}

/** Requests of one (tenant, signal, fingerprint) with ids in [fromId, toId): a twin lookup (src/query/dedup.ts). */
export interface TwinRange {
  tenant: string;
  signal: string;
  fingerprint: string;
  fromId: string;
  toId: string;
}

/** A request a twin lookup found. */
export interface Twin {
  id: string;
  tenant: string;
  signal: string;
  fingerprint: string;
}

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
   * Requests holding spans of this trace (id: 32 lowercase hex digits, else InvalidArgumentError), of one tenant when
   * given, ordered by id; [] when none. Only what was committed with `ArchivedRequest.traceIds` is found.
   */
  findTraceRequests(traceId: string, filter?: { tenant?: string }): Promise<ArchivedRequest[]>;
  /**
   * How many trace requests the index holds without their trace rows, which findTraceRequests therefore misses until
   * a reindex adds them (requests an index of an earlier version took in before it had a trace index). Absent on
   * adapters that cannot tell.
   */
  untracedTraceRequests?(): Promise<number>;
  /**
   * Requests matching the filter, ordered by id (= receive order), oldest first or, with `newestFirst`, newest first;
   * at most `limit` (default 1000), past `afterId`. Keyset paging: a page never shifts because rows were inserted or
   * deleted meanwhile, so following the pages returns every request that existed throughout, exactly once.
   */
  listRequests(filter: RequestFilter): Promise<ArchivedRequest[]>;
  /** How many requests listRequests would return in all for this filter (afterId, limit and order ignored). */
  countRequests(filter: RequestFilter): Promise<number>;
  getRequest(id: string): Promise<ArchivedRequest | null>;
  /**
   * Distinct requests: every live request in any of these ranges (same tenant, signal and fingerprint, id in
   * [fromId, toId)). Bounded by the (tenant, signal, id) key, so each range is an index range however large the archive.
   */
  findTwins(ranges: readonly TwinRange[]): Promise<Twin[]>;
  /**
   * Distinct requests: how many requests listRequests would return for this filter (afterId, limit and order ignored)
   * that have a twin received before them at most `windowMs` earlier (by the ms of their ids) — the duplicates that
   * reads leave out, so that `countRequests - countDuplicates` is what they show.
   */
  countDuplicates(filter: RequestFilter, windowMs: number): Promise<number>;
  /** Objects ordered by key. */
  listObjects(filter: ObjectListFilter): Promise<ObjectMeta[]>;
  /** One object row, or null. */
  getObject(key: string): Promise<ObjectMeta | null>;
  /**
   * Retention: removes an object from the index — its object row and every request row that points at it — in one
   * step readers never see half of. Request rows that point at another object are left alone. Idempotent. Durable
   * in the backend itself when the promise resolves (never only in a local buffer): the caller deletes the blob next.
   * `requestIds` are the ids the object holds (its manifest): adapters that cannot find rows by object key quickly
   * look them up by id; rows pointing at the object outside that list may then stay (there are none in practice).
   */
  deleteObject(key: string, requestIds?: readonly string[]): Promise<void>;
  /**
   * Retention: an object moved or was rewritten. `newObject` replaces the object row `oldKey`, and every request row
   * that points at `oldKey` gets the location `requests` gives for its id; rows pointing elsewhere are left alone.
   * Readers see the old or the new location of each request, never a missing one. Idempotent (running it again,
   * also after a crash half-way, finishes it). Durable in the backend itself when the promise resolves.
   * `removedIds` (retention's dedup: requests the new object leaves out): their rows that point at `oldKey` are
   * removed in the same step, as deleteObject removes rows — readers see them at the old location or not at all. Only
   * with a new key (InvalidArgumentError otherwise), and never an id that `requests` also gives (ditto).
   */
  replaceObject(oldKey: string, newObject: ObjectMeta, requests: readonly ArchivedRequest[], removedIds?: readonly string[]): Promise<void>;
  /**
   * `verify --repair`: records why these requests cannot be read (their block is damaged, their object missing), so
   * that a read that fails on one says why. Their rows stay as they are. Idempotent; for an id given again the
   * latest reason wins. Durable in the backend itself when the promise resolves.
   */
  quarantineRequests(entries: readonly QuarantinedRequest[]): Promise<void>;
  /** The quarantine records of those of these ids that have one. */
  quarantinedRequests(ids: readonly string[]): Promise<Map<string, QuarantinedRequest>>;
  describe(): string;
  /**
   * Optional: why the index cannot be used yet (backend unreachable at start-up while writes are buffered), or
   * null. A non-null reason makes /readyz answer not ready.
   */
  notReadyReason?(): string | null;
  /** Optional, for metrics: what a buffering adapter holds back. Adapters that write through have nothing queued. */
  outboxStatus?(nowMs?: number): OutboxStatus;
  /**
   * Optional, for adapters that buffer writes locally (ClickHouse's outbox): the rows this instance committed that
   * other readers of the same backend may not see yet. This instance's own reads include them already; the hot-only
   * view it serves to `--server` readers (who query the backend themselves) adds them, or a request whose spool
   * record was released would be in neither answer until the buffer is flushed. Null when nothing is buffered here.
   */
  pendingRows?(): PendingRows | null;
}

/** Committed rows not yet in the shared backend, read from the local buffer that holds them. */
export interface PendingRows {
  /** As IndexStore.listRequests, over the buffered rows alone. */
  list(filter: RequestFilter): ArchivedRequest[];
  get(id: string): ArchivedRequest | null;
  findTrace(traceId: string, tenant?: string): ArchivedRequest[];
}
