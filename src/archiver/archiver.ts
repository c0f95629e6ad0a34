// The archiver follows the spool and packs its records into archive objects, one open object per (tenant, signal).
// An object is sealed at a size or age limit, finished in the blob store, then indexed; only then are its spool
// records released. That order is the durability chain: nothing leaves the spool before it is findable.
//
// It never stops while the process runs, and never stops silently. Upload and index failures are retried forever
// (the data stays spooled); one record that cannot be read or archived after a few attempts is moved to the spool's
// quarantine instead of holding up everything behind it; an unexpected failure of the loop itself is logged and the
// loop restarted. health() says when archiving is stalled (the oldest unarchived record older than maxLag), which
// /readyz, a metric and an operational alert report.
import os from 'node:os';
import PQueue from 'p-queue';
import { CorruptDataError, InvalidArgumentError, MalformedPayloadError, NotFoundError } from '../errors.js';
import type { Codec, IngestNotes, RequestMeta, Signal } from '../model.js';
import { spanTraceIds } from '../otlp/trace-filter.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { IndexStore } from '../index/index-store.js';
import type { Spool, SpoolRef } from '../spool/spool.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { formatDuration } from '../util/human-units.js';
import { newUlid } from '../util/ulid.js';
import { monotonicMs } from '../util/monotonic.js';
import { JOBS_PER_WORKER } from '../compression/zstd-workers.js';
import { Backoff, sleep } from './backoff.js';
import { ClientBlockPolicy } from './client-blocks.js';
import { ObjectBuilder } from './object-builder.js';
import { objectKey } from './object-key.js';

export interface ArchiverOptions {
  maxObjectBytes: number;
  maxObjectAgeMs: number;
  codec: Codec;
  level?: number;
  uploadConcurrency: number;
  maxOpenObjects: number;
  /**
   * Trace ids held by open objects, over all of them: past this the object holding most is sealed. Each id costs a
   * few hundred bytes until its object is indexed (manifest, index rows), which maxObjectBytes does not bound: 64 MiB
   * of one-span traces are ~1.4 M ids. Default: no limit.
   */
  maxOpenTraceIds?: number;
  retryInitialBackoffMs: number;
  retryMaxBackoffMs: number;
  /** Archiving counts as stalled once the oldest unarchived record has waited this long. Default 5 minutes. */
  maxLagMs?: number;
  /** Store a request's gzip/zstd body as the client sent it when it qualifies (client-blocks.ts). Default true. */
  keepClientBlocks?: boolean;
  /** Longest manifest JSON of an object (object-format.ts); MAX_MANIFEST_CHARS when omitted. Tests set less. */
  maxManifestChars?: number;
}

export const DEFAULT_MAX_LAG_MS = 5 * 60_000;
/** Attempts to archive one record (read it back, append it) before it is quarantined. */
export const MAX_RECORD_ATTEMPTS = 3;

export interface ArchiverHealth {
  stalled: boolean;
  /** Why archiving counts as stalled, in words; null when it does not. */
  reason: string | null;
}

export interface ArchiverDeps {
  spool: Spool;
  blobStore: BlobStore;
  index: IndexStore;
  metrics: Metrics;
  logger: Logger;
}

interface OpenObject {
  tenant: string;
  signal: Signal;
  /** Wall clock: the object's key and manifest say when it was created. Never used for its age (openedAt is). */
  createdAtMs: number;
  /** Monotonic (util/monotonic.ts): its age for maxObjectAge, which a step of the wall clock must not stretch or cut. */
  openedAt: number;
  /** Monotonic: when its oldest request was received (see receivedOnMonotonic), for how long data has waited. */
  oldestReceivedAt: number;
  builder: ObjectBuilder;
  refs: SpoolRef[];
  rawBytes: number;
  appends: Promise<void>[];
  failure: unknown;
  /** Span trace ids per request id (traces only), committed with the object for the trace index. */
  traceIds: Map<string, readonly string[]>;
  /** The trace ids in traceIds, counted per request (what maxOpenTraceIds bounds). */
  traceIdCount: number;
}

type Sealed = Awaited<ReturnType<ObjectBuilder['finish']>>;

/**
 * Records whose payload buffers may be held at once while being compressed and written: the jobs the compression
 * workers hold (availableParallelism() - 1 workers, JOBS_PER_WORKER each) plus two on the way, so a worker never
 * idles for lack of input while the event loop is busy with ingest. More only holds memory (1 MiB or more each)
 * without compressing any sooner; the spool keeps the rest.
 */
const MAX_APPENDS_IN_FLIGHT = Math.max(1, os.availableParallelism() - 1) * JOBS_PER_WORKER + 2;
/** Recovered records are checked against the index in batches of this many. */
const RECOVERY_BATCH = 500;
const RECOVERY_BATCH_BYTES = 32 * 2 ** 20;

export class Archiver {
  private readonly open = new Map<string, OpenObject>();
  private readonly uploads: PQueue;
  private readonly inFlightAppends = new Set<Promise<void>>();
  private readonly hardStop = new AbortController();
  private loop: Promise<void> | null = null;
  private ageTimer: NodeJS.Timeout | null = null;
  private recoveryBatch: { ref: SpoolRef; payload: Buffer; payloadCrc: number }[] = [];
  private recoveryBatchBytes = 0;
  /** Recovered records the tail has yet to yield; when it reaches 0 the last recovery batch is flushed at once. */
  private recoveredToCome = 0;
  // The times below are monotonic (util/monotonic.ts): they only ever measure durations within this process.
  private lastCommitAt = monotonicMs();
  private startedAt = monotonicMs();
  /** Last time anything left the spool's backlog: an object committed, records found done, a record quarantined. */
  private lastProgressAt = monotonicMs();
  private lastError: { message: string; at: number } | null = null;
  /** Objects opened and not yet released (open, sealed, uploading, being indexed): where the oldest waiting data is. */
  private readonly held = new Set<OpenObject>();
  private readonly clientBlocks: ClientBlockPolicy;

  constructor(private readonly options: ArchiverOptions, private readonly deps: ArchiverDeps) {
    this.uploads = new PQueue({ concurrency: options.uploadConcurrency });
    this.clientBlocks = new ClientBlockPolicy(options.keepClientBlocks ?? true, options.codec);
  }

  start(): void {
    this.recoveredToCome = this.deps.spool.stats().unreleasedRecords;
    this.startedAt = monotonicMs();
    this.lastProgressAt = this.startedAt;
    this.loop = this.supervise();
    const tick = Math.max(50, Math.min(1000, this.options.maxObjectAgeMs / 4));
    this.ageTimer = setInterval(() => this.sealAged(monotonicMs()), tick);
    this.ageTimer.unref();
  }

  /**
   * Archives everything the spool holds, within the deadline. Call after ingest has stopped and the spool's tail
   * has been ended. What is not archived in time stays in the spool for the next start.
   */
  async drain(deadlineMs: number): Promise<boolean> {
    if (deadlineMs <= Date.now()) {
      // No time at all: start nothing. Whatever is unarchived stays in the spool for the next start.
      if (this.ageTimer) clearInterval(this.ageTimer);
      this.hardStop.abort();
      return this.deps.spool.stats().unreleasedRecords === 0;
    }
    const timeLeft = (): number => Math.max(0, deadlineMs - Date.now());
    const gaveUp = (): boolean => this.hardStop.signal.aborted;
    const finished = (async () => {
      await this.loop;
      // Past the deadline the caller closes the spool and the stores: start nothing new against them.
      if (gaveUp()) return false;
      await this.flushRecoveryBatch();
      if (gaveUp()) return false;
      for (const key of [...this.open.keys()]) this.seal(key);
      await this.uploads.onIdle();
      return true;
    })();
    // Cancelled once drained, so a long grace period leaves no timer behind.
    const deadlineTimer = new AbortController();
    const timedOut = sleep(timeLeft(), deadlineTimer.signal).then(() => false);
    const drained = await Promise.race([finished, timedOut]);
    deadlineTimer.abort();
    if (this.ageTimer) clearInterval(this.ageTimer);
    if (!drained) this.hardStop.abort();
    return drained;
  }

  /** Milliseconds since the last object was committed to the index (for lag alerts and readiness). */
  msSinceLastCommit(): number {
    return monotonicMs() - this.lastCommitAt;
  }

  /**
   * How long the oldest unarchived request has waited since it was received (0 when none waits). Measured on the
   * monotonic clock from the requests the archiver holds: the spool's oldestUnreleasedAgeMs is wall-clock time since
   * receipt, which a step of the clock makes an hour too long (a false stall) or too short (a real one hidden). The
   * spool's figure is used only while the archiver holds none of what waits (not read yet, or a recovery batch being
   * checked against the index).
   */
  oldestWaitingMs(): number {
    const stats = this.deps.spool.stats();
    if (stats.unreleasedRecords === 0) return 0;
    let oldest = Infinity;
    for (const object of this.held) oldest = Math.min(oldest, object.oldestReceivedAt);
    return oldest === Infinity ? stats.oldestUnreleasedAgeMs : Math.max(0, monotonicMs() - oldest);
  }

  /**
   * Stalled when the oldest unarchived record has waited longer than maxLag: whatever the cause (an outage being
   * retried, a loop that makes no progress), captured data is not becoming findable. A record recovered at start
   * counts from the start, not from its receipt: archiving has only had since then.
   */
  health(): ArchiverHealth {
    const maxLagMs = this.options.maxLagMs ?? DEFAULT_MAX_LAG_MS;
    const stats = this.deps.spool.stats();
    if (stats.unreleasedRecords === 0) return { stalled: false, reason: null };
    const nowMs = monotonicMs();
    const waitingMs = Math.min(this.oldestWaitingMs(), nowMs - this.startedAt);
    if (waitingMs <= maxLagMs) return { stalled: false, reason: null };
    const idleMs = Math.min(nowMs - this.lastProgressAt, waitingMs);
    const what =
      idleMs > maxLagMs
        ? `archiver stalled: no progress for ${formatDuration(idleMs)} while ${stats.unreleasedRecords} requests wait`
        : `archiver behind: the oldest unarchived request has waited ${formatDuration(waitingMs)}`;
    const error = this.lastError === null ? '' : `; last error ${formatDuration(nowMs - this.lastError.at)} ago: ${this.lastError.message}`;
    return { stalled: true, reason: `${what} (archiver.maxLag ${formatDuration(maxLagMs)})${error}` };
  }

  /** Runs the loop for as long as the spool has a tail; an unexpected failure is logged and the loop restarted. */
  private async supervise(): Promise<void> {
    const backoff = new Backoff(this.options.retryInitialBackoffMs, this.options.retryMaxBackoffMs);
    for (;;) {
      try {
        await this.follow();
        return; // the tail ended: the spool is closing
      } catch (error) {
        if (this.hardStop.signal.aborted) return;
        this.noteError(error);
        this.deps.metrics.archiveFailures.inc({ stage: 'archiver' });
        this.deps.logger.error({ err: error }, 'archiver loop failed; restarting it (spooled data is kept)');
        await sleep(backoff.next(), this.hardStop.signal);
      }
    }
  }

  private async follow(): Promise<void> {
    for await (const record of this.deps.spool.tail()) {
      if (this.hardStop.signal.aborted) return;
      if (record.recovered) {
        this.recoveryBatch.push({ ref: record.ref, payload: record.payload, payloadCrc: record.payloadCrc });
        this.recoveryBatchBytes += record.payload.length;
        this.recoveredToCome -= 1;
        if (
          this.recoveryBatch.length >= RECOVERY_BATCH ||
          this.recoveryBatchBytes >= RECOVERY_BATCH_BYTES ||
          this.recoveredToCome <= 0
        ) {
          await this.flushRecoveryBatch();
        }
        continue;
      }
      await this.flushRecoveryBatch();
      await this.addOrQuarantine(record.ref, record.payload, record.payloadCrc, record.notes);
    }
  }

  /** Recovered records may already be archived (crash after indexing, before release): skip those. */
  private async flushRecoveryBatch(): Promise<void> {
    if (this.recoveryBatch.length === 0) return;
    const batch = this.recoveryBatch;
    this.recoveryBatch = [];
    this.recoveryBatchBytes = 0;
    const known = await this.retryForever('index', () =>
      this.deps.index.knownRequestIds(batch.map((entry) => entry.ref.meta.id)),
    );
    const done = batch.filter((entry) => known.has(entry.ref.meta.id)).map((entry) => entry.ref);
    if (done.length > 0) {
      await this.release(done);
      this.lastProgressAt = monotonicMs();
    }
    for (const entry of batch) {
      if (!known.has(entry.ref.meta.id)) await this.addOrQuarantine(entry.ref, entry.payload, entry.payloadCrc);
    }
  }

  /** A record that can never go into an object (its meta cannot make an object key, say) is quarantined at once. */
  private async addOrQuarantine(ref: SpoolRef, payload: Buffer, payloadCrc: number, notes?: IngestNotes): Promise<void> {
    try {
      await this.add(ref, payload, payloadCrc, notes);
    } catch (error) {
      if (!isRecordProblem(error)) throw error;
      await this.quarantine(ref, error);
    }
  }

  private async add(ref: SpoolRef, payload: Buffer, payloadCrc: number, notes?: IngestNotes): Promise<void> {
    const meta = ref.meta;
    const key = `${meta.tenant}\u0000${meta.signal}`;
    let target = this.open.get(key);
    const traceIds = meta.signal === 'traces' ? this.readTraceIds(meta.id, payload, notes?.traceIds) : undefined;
    if (
      target &&
      target.refs.length > 0 &&
      (target.rawBytes + payload.length > this.options.maxObjectBytes || !target.builder.manifestRoom(meta, traceIds?.length ?? 0))
    ) {
      // Seal before the limit is passed: an object outgrows maxObjectBytes only when one request alone does. Its
      // manifest never outgrows what one JS string holds (tiny requests add up to a long manifest in few bytes).
      this.seal(key);
      target = undefined;
    }
    if (!target) {
      if (this.open.size >= this.options.maxOpenObjects) this.sealOldest();
      target = this.openObject(meta);
      this.open.set(key, target);
    }
    const object = target;
    object.refs.push(ref);
    object.oldestReceivedAt = Math.min(object.oldestReceivedAt, receivedOnMonotonic(meta.receivedAtMs));
    object.rawBytes += payload.length;
    if (traceIds !== undefined) {
      object.traceIds.set(meta.id, traceIds);
      object.traceIdCount += traceIds.length;
    }
    const kept = this.clientBlocks.choose(meta.signal, notes?.wire, payload.length, payloadCrc);
    if (kept !== null) this.deps.metrics.clientBlocksKept.inc({ signal: meta.signal, codec: kept.codec });
    // Trace ids go into the object's manifest (for a rebuilt index) and, from there, to commitObject.
    const append = object.builder.append(meta, payload, object.traceIds.get(meta.id), payloadCrc, kept ?? undefined).then(
      (location) => {
        if (kept === null) this.clientBlocks.observe(meta.signal, location.length, payload.length);
      },
      (error: unknown) => {
        object.failure ??= error;
      },
    );
    object.appends.push(append);
    this.inFlightAppends.add(append);
    void append.then(() => this.inFlightAppends.delete(append));
    if (object.rawBytes >= this.options.maxObjectBytes) this.seal(key);
    if (this.options.maxOpenTraceIds !== undefined) this.sealMostTraceIdsPast(this.options.maxOpenTraceIds);
    if (this.inFlightAppends.size >= MAX_APPENDS_IN_FLIGHT) await Promise.race(this.inFlightAppends);
    // Backpressure: while sealed objects wait for an upload slot, stop reading the spool (it keeps the data).
    await this.uploads.onSizeLessThan(this.options.uploadConcurrency);
  }

  private openObject(meta: RequestMeta): OpenObject {
    const createdAtMs = Date.now();
    const object: OpenObject = {
      tenant: meta.tenant,
      signal: meta.signal,
      createdAtMs,
      openedAt: monotonicMs(),
      oldestReceivedAt: Infinity,
      builder: this.newBuilder(meta.tenant, meta.signal, createdAtMs),
      refs: [],
      rawBytes: 0,
      appends: [],
      failure: undefined,
      traceIds: new Map(),
      traceIdCount: 0,
    };
    this.held.add(object);
    return object;
  }

  /**
   * Taken from ingest's scan when the payload came through the handover. Otherwise (read back from the spool, a
   * restart) the payload is in hand here, so its trace ids are read now (a wire walk of the spans). The request was
   * validated at ingest; should its trace ids still not be readable, the request is archived without trace-index
   * rows rather than not at all.
   */
  private readTraceIds(id: string, payload: Buffer, scanned: readonly string[] | undefined): readonly string[] | undefined {
    if (scanned !== undefined) return scanned;
    try {
      return spanTraceIds(payload);
    } catch (error) {
      this.deps.logger.warn({ err: error, request: id }, 'cannot read the trace ids of a request; find-trace will not find it');
      return undefined;
    }
  }

  private newBuilder(tenant: string, signal: Signal, createdAtMs: number): ObjectBuilder {
    const key = objectKey({ tenant, signal, createdAtMs, id: newUlid(createdAtMs) });
    return new ObjectBuilder({
      key,
      tenant,
      signal,
      codec: this.options.codec,
      ...(this.options.level === undefined ? {} : { level: this.options.level }),
      writer: this.deps.blobStore.createWriter(key),
      nowMs: createdAtMs,
      ...(this.options.maxManifestChars === undefined ? {} : { maxManifestChars: this.options.maxManifestChars }),
    });
  }

  private sealAged(nowMs: number): void {
    for (const [key, object] of this.open) {
      if (nowMs - object.openedAt >= this.options.maxObjectAgeMs) this.seal(key);
    }
  }

  private sealOldest(): void {
    let oldest: [string, OpenObject] | undefined;
    for (const entry of this.open) if (!oldest || entry[1].openedAt < oldest[1].openedAt) oldest = entry;
    if (oldest) this.seal(oldest[0]);
  }

  /** When the open objects hold more than `limit` trace ids together, seals the one holding most. */
  private sealMostTraceIdsPast(limit: number): void {
    let total = 0;
    let most: [string, OpenObject] | undefined;
    for (const entry of this.open) {
      total += entry[1].traceIdCount;
      if (!most || entry[1].traceIdCount > most[1].traceIdCount) most = entry;
    }
    if (total > limit && most) this.seal(most[0]);
  }

  private seal(key: string): void {
    const object = this.open.get(key);
    if (!object) return;
    this.open.delete(key);
    this.uploads
      .add(() => this.archive(object))
      .catch((error: unknown) => {
        // Only reached when shutdown gave up: the records stay in the spool and are archived at the next start.
        this.deps.logger.warn({ err: error, records: object.refs.length }, 'archiving interrupted by shutdown');
      })
      .finally(() => this.held.delete(object));
  }

  private async archive(object: OpenObject): Promise<void> {
    if (this.hardStop.signal.aborted) {
      // Shutdown gave up before this object's turn: its records stay in the spool for the next start.
      await object.builder.abort().catch(() => undefined);
      return;
    }
    const started = process.hrtime.bigint();
    let sealed: Sealed;
    try {
      await Promise.all(object.appends);
      if (object.failure !== undefined) throw object.failure;
      sealed = await object.builder.finish(Date.now());
    } catch (error) {
      this.noteError(error);
      this.deps.metrics.archiveFailures.inc({ stage: 'upload' });
      this.deps.logger.warn({ err: error, records: object.refs.length }, 'archive upload failed; rebuilding from the spool');
      await object.builder.abort().catch(() => undefined);
      const rebuilt = await this.rebuild(object);
      if (rebuilt === null) return;
      sealed = rebuilt;
    }
    await this.retryForever('index', () => this.deps.index.commitObject(sealed.object, sealed.requests));
    await this.release(object.refs);
    this.held.delete(object);
    this.lastCommitAt = monotonicMs();
    this.lastProgressAt = this.lastCommitAt;
    this.deps.metrics.objectsArchived.inc({ signal: object.signal });
    this.deps.metrics.archivedRawBytes.inc({ signal: object.signal }, sealed.object.rawBytes);
    this.deps.metrics.archivedStoredBytes.inc({ signal: object.signal }, sealed.object.storedBytes);
    this.deps.metrics.archiveLag.observe({ signal: object.signal }, (this.lastCommitAt - object.oldestReceivedAt) / 1000);
    this.deps.metrics.uploadDuration.observe(
      { signal: object.signal },
      Number(process.hrtime.bigint() - started) / 1e9,
    );
    this.deps.logger.debug(
      { key: sealed.object.key, requests: sealed.object.requestCount, bytes: sealed.object.storedBytes },
      'archived object',
    );
  }

  /**
   * Builds the object again from the spool copies, with backoff, until it succeeds or shutdown gives up. A failure
   * that one record causes (it cannot be read back, or the object will not take it) counts against that record;
   * after MAX_RECORD_ATTEMPTS it is quarantined and the object is built without it. Failures of the blob store
   * count against no record: they are retried forever. Resolves null when nothing is left to archive (every record
   * quarantined) or shutdown gave up.
   */
  private async rebuild(object: OpenObject): Promise<Sealed | null> {
    const backoff = new Backoff(this.options.retryInitialBackoffMs, this.options.retryMaxBackoffMs);
    const attempts = new Map<SpoolRef, number>();
    while (!this.hardStop.signal.aborted && object.refs.length > 0) {
      await sleep(backoff.next(), this.hardStop.signal);
      if (this.hardStop.signal.aborted) break;
      const builder = this.newBuilder(object.tenant, object.signal, Date.now());
      let current: SpoolRef | undefined;
      try {
        for (const ref of object.refs) {
          current = ref;
          await builder.append(ref.meta, await this.deps.spool.read(ref), object.traceIds.get(ref.meta.id));
        }
        current = undefined;
        return await builder.finish(Date.now());
      } catch (error) {
        this.noteError(error);
        this.deps.metrics.archiveFailures.inc({ stage: 'upload' });
        this.deps.logger.warn({ err: error, records: object.refs.length, request: current?.meta.id }, 'archive upload retry failed');
        await builder.abort().catch(() => undefined);
        if (current !== undefined && isRecordProblem(error)) {
          const failed = (attempts.get(current) ?? 0) + 1;
          attempts.set(current, failed);
          if (failed >= MAX_RECORD_ATTEMPTS) {
            const poison = current;
            await this.quarantine(poison, error);
            object.refs = object.refs.filter((ref) => ref !== poison);
            backoff.reset();
          }
        }
      }
    }
    return null;
  }

  /** Moves a record that cannot be archived to the spool's quarantine; retried until that works (nothing is dropped). */
  private async quarantine(ref: SpoolRef, error: unknown): Promise<void> {
    const reason = `cannot be archived: ${(error as Error)?.message ?? String(error)}`;
    await this.retryForever('quarantine', () => this.deps.spool.quarantine(ref, reason));
    this.deps.metrics.archiverQuarantined.inc();
    this.lastProgressAt = monotonicMs();
    this.deps.logger.error(
      { request: ref.meta.id, tenant: ref.meta.tenant, signal: ref.meta.signal, reason },
      'archiver gave up on a spooled request and moved it to the spool quarantine',
    );
  }

  /** Marks records archived. A spool file that cannot be deleted afterwards is logged there and retried later. */
  private async release(refs: readonly SpoolRef[]): Promise<void> {
    await this.deps.spool.release(refs).catch((error: unknown) => {
      this.deps.logger.warn({ err: error }, 'archived records released, but a spool file could not be deleted');
    });
  }

  private noteError(error: unknown): void {
    this.lastError = { message: (error as Error)?.message ?? String(error), at: monotonicMs() };
  }

  private async retryForever<T>(stage: string, attempt: () => Promise<T>): Promise<T> {
    const backoff = new Backoff(this.options.retryInitialBackoffMs, this.options.retryMaxBackoffMs);
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        if (this.hardStop.signal.aborted) throw error;
        this.noteError(error);
        this.deps.metrics.archiveFailures.inc({ stage });
        this.deps.logger.warn({ err: error, stage }, `${stage} write failed; retrying`);
        await sleep(backoff.next(), this.hardStop.signal);
      }
    }
  }
}

/**
 * When a request was received, on the monotonic clock: its wall-clock age now, taken back from monotonic now. Read
 * as the archiver takes the record, moments after receipt in steady state, so a later step of the wall clock does
 * not change it. A receipt time ahead of the clock (it stepped back since) counts as now.
 */
function receivedOnMonotonic(receivedAtMs: number): number {
  const now = monotonicMs();
  return now - Math.max(0, Date.now() - receivedAtMs);
}

/** Errors one record causes on its own (damaged, gone, refused by the object format): retrying the store cannot help. */
function isRecordProblem(error: unknown): boolean {
  return (
    error instanceof CorruptDataError ||
    error instanceof NotFoundError ||
    error instanceof InvalidArgumentError ||
    error instanceof MalformedPayloadError
  );
}
