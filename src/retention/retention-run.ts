// One retention run: take the lease, finish what a killed run left in the journal, then page through the index
// (candidates older than the youngest policy's age, `batchSize` objects per page, by key), pick each object's
// policy (policy-match.ts) and run its action with at most `concurrency` objects at once. A dry run takes no lease
// and changes nothing; it reports exactly the objects a real run would act on now (and, for dedup, what it would drop).
import os from 'node:os';
import PQueue from 'p-queue';
import { readObjectManifest } from '../archiver/object-reader.js';
import { InvalidArgumentError } from '../errors.js';
import type { IndexStore } from '../index/index-store.js';
import type { ObjectMeta } from '../model.js';
import type { RetentionPolicySummary, RetentionRunSummary } from '../notify/retention-summary.js';
import type { BlobStore } from '../storage/blob-store.js';
import { silentLogger, type Logger } from '../telemetry/logger.js';
import { noCrash, type CrashHook } from './crash-hook.js';
import { Journal } from './journal.js';
import { RetentionLease } from './lease.js';
import { planObjectDedup, runOperation, targetKey, type OperationDeps } from './operations.js';
import { CompressAttempts } from './compress-attempts.js';
import { DedupChecks } from './dedup-checks.js';
import { actionApplies, cutoffMs, firstMatchingPolicy, PolicyUndecidedError, rowMatches } from './policy-match.js';
import { recoverJournal, type RecoveredEntry } from './recovery.js';
import { dedupWindowOf, type RetentionConfig, type RetentionPolicy } from './retention-config.js';
import { StateStore } from './state-store.js';
import { minOf } from '../util/arrays.js';

export const LAST_RUN_NAME = 'last-run.json';
const MAX_ERRORS_PER_POLICY = 5;

export interface RetentionRunDeps {
  blobs: BlobStore;
  index: IndexStore;
  config: RetentionConfig;
  logger?: Logger;
  /** Test-only fault injection (crash-hook.ts). */
  crash?: CrashHook;
}

export interface RetentionRunOptions {
  dryRun?: boolean;
  /** Only objects whose first matching policy is this one. */
  policy?: string;
  /** Judge ages as of this time (unix ms); now by default. */
  asOfMs?: number;
  onProgress?(progress: RetentionProgress): void;
  /** Stops taking new objects; those in flight finish (serve's shutdown). */
  signal?: AbortSignal;
}

export interface RetentionProgress {
  /** Index rows looked at, objects matched, and matched objects finished (succeeded or failed). */
  scanned: number;
  matched: number;
  done: number;
  failed: number;
  /** True once the index has been paged to the end: `matched` is final. */
  scanComplete: boolean;
  elapsedMs: number;
}

export type ItemOutcome = 'candidate' | 'done' | 'unchanged' | 'failed';

export interface RetentionItem {
  policy: string;
  action: string;
  key: string;
  /** Where the object's requests live after the action (null: deleted). */
  newKey?: string | null;
  requests: number;
  bytesBefore: number;
  bytesAfter: number;
  outcome: ItemOutcome;
  error?: string;
  note?: string;
  /** dedup: requests dropped as exact duplicates (a dry run: that would be). */
  dropped?: number;
}

export interface RetentionRunResult {
  summary: RetentionRunSummary;
  /** Every object acted on (or, in a dry run, that would be), in the order they were found. */
  items: RetentionItem[];
  /** Journal entries of earlier, killed runs that this run finished or undid first. */
  recovered: RecoveredEntry[];
}

export interface LastRunRecord {
  summary: RetentionRunSummary;
  recovered: number;
  host: string;
  pid: number;
}

export async function runRetention(deps: RetentionRunDeps, options: RetentionRunOptions = {}): Promise<RetentionRunResult> {
  const startedAtMs = Date.now();
  const asOfMs = options.asOfMs ?? startedAtMs;
  const dryRun = options.dryRun ?? false;
  const logger = deps.logger ?? silentLogger();
  const policies = deps.config.policies;
  const chosen = choosePolicies(policies, options.policy);
  const state = new StateStore(deps.blobs);
  const journal = new Journal(state);
  const lease = new RetentionLease(state, { ttlMs: deps.config.leaseTtl, settleMs: deps.config.leaseSettle });
  const attempts = new CompressAttempts(state);
  const checks = new DedupChecks(state);
  const opDeps: OperationDeps = { blobs: deps.blobs, index: deps.index, journal, attempts, checks, crash: deps.crash ?? noCrash, owner: lease.owner };
  opDeps.twinObjectStays = (key) => objectStays(deps, opDeps, policies, asOfMs, key);

  const stop = new AbortController();
  const onOuterAbort = (): void => stop.abort();
  options.signal?.addEventListener('abort', onOuterAbort);
  let renewTimer: NodeJS.Timeout | undefined;
  if (!dryRun) {
    await lease.acquire();
    renewTimer = setInterval(() => {
      lease.renew().then(
        (ours) => {
          if (!ours) {
            logger.error('retention lease was taken over by another run; stopping this one');
            stop.abort();
          }
        },
        (error: unknown) => logger.warn({ error: (error as Error).message }, 'could not renew the retention lease'),
      );
    }, Math.max(500, Math.floor(deps.config.leaseTtl / 3)));
  }
  try {
    const recovered = dryRun ? [] : await recoverJournal(opDeps, await journal.entries());
    for (const r of recovered) {
      const level = r.outcome === 'failed' ? 'error' : 'info';
      logger[level]({ key: r.entry.oldKey, phase: r.entry.phase, action: r.entry.action, outcome: r.outcome, error: r.error }, 'retention journal entry of an interrupted run');
    }
    const leaseHeld = async (): Promise<boolean> => {
      if (await lease.stillHeld()) return true;
      if (!stop.signal.aborted) logger.error('retention lease lapsed and another run holds it now; stopping this one');
      stop.abort();
      return false;
    };
    const items = await scanAndAct(deps, opDeps, {
      policies,
      chosen,
      asOfMs,
      dryRun,
      stop: stop.signal,
      logger,
      startedAtMs,
      ...(dryRun ? {} : { leaseHeld }),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    const summary: RetentionRunSummary = {
      startedAtMs,
      finishedAtMs: Date.now(),
      dryRun,
      ...(options.asOfMs === undefined ? {} : { asOf: new Date(asOfMs).toISOString() }),
      policies: summarize(chosen, items),
    };
    if (!dryRun) {
      const record: LastRunRecord = { summary, recovered: recovered.length, host: os.hostname(), pid: process.pid };
      await state.write(LAST_RUN_NAME, record).catch((error: unknown) => logger.warn({ error: (error as Error).message }, 'could not record the retention run'));
    }
    return { summary, items, recovered };
  } finally {
    options.signal?.removeEventListener('abort', onOuterAbort);
    if (renewTimer) clearInterval(renewTimer);
    if (!dryRun) await lease.release().catch((error: unknown) => logger.warn({ error: (error as Error).message }, 'could not release the retention lease'));
  }
}

function choosePolicies(policies: readonly RetentionPolicy[], name: string | undefined): RetentionPolicy[] {
  if (name === undefined) return [...policies];
  const policy = policies.find((p) => p.name === name);
  if (!policy) {
    throw new InvalidArgumentError(
      `no retention policy named ${JSON.stringify(name)}; configured: ${policies.map((p) => p.name).join(', ') || 'none'}`,
    );
  }
  return [policy];
}

interface ScanOptions {
  policies: readonly RetentionPolicy[];
  chosen: readonly RetentionPolicy[];
  asOfMs: number;
  dryRun: boolean;
  stop: AbortSignal;
  logger: Logger;
  startedAtMs: number;
  /** Asked before each action: false when the lease is no longer this run's (then the run stops). */
  leaseHeld?(): Promise<boolean>;
  onProgress?(progress: RetentionProgress): void;
}

async function scanAndAct(deps: RetentionRunDeps, opDeps: OperationDeps, scan: ScanOptions): Promise<RetentionItem[]> {
  const items: RetentionItem[] = [];
  if (scan.chosen.length === 0) return items;
  const progress: RetentionProgress = { scanned: 0, matched: 0, done: 0, failed: 0, scanComplete: false, elapsedMs: 0 };
  const report = (): void => scan.onProgress?.({ ...progress, elapsedMs: Date.now() - scan.startedAtMs });
  const queue = new PQueue({ concurrency: deps.config.concurrency });
  /** Keys this run created: an archived or re-encoded object may sort after its old key and be paged to again. */
  const created = new Set<string>();
  // The index pre-filters by the loosest rule of the chosen policies; the exact choice is firstMatchingPolicy's.
  const only = scan.chosen.length === 1 ? scan.chosen[0]!.match : undefined;
  const youngest = minOf(scan.chosen, (p) => p.match.olderThan);
  let afterKey: string | undefined;
  // A scan that fails (the index went away) still waits for the objects in flight: the lease is released only after.
  try {
    for (;;) {
      if (scan.stop.aborted) break;
      const page = await deps.index.listObjects({
        newestBeforeMs: cutoffMs(scan.asOfMs, youngest),
        limit: deps.config.batchSize,
        ...(afterKey === undefined ? {} : { afterKey }),
        ...(only?.signal === undefined ? {} : { signal: only.signal }),
        ...(only?.tenant === undefined ? {} : { tenant: only.tenant }),
        ...(only?.minSize === undefined ? {} : { minStoredBytes: only.minSize }),
      });
      for (const object of page) {
        if (scan.stop.aborted) break;
        progress.scanned += 1;
        if (created.has(object.key)) continue;
        let policy: RetentionPolicy | null;
        try {
          policy = await policyFor(deps, opDeps, scan.policies, object, scan.asOfMs);
        } catch (error) {
          // One unreadable object costs that object: reported, left as it is, and the scan goes on.
          if (!(error instanceof PolicyUndecidedError)) throw error;
          const under = undecidedUnder(scan, error.policy, object);
          if (under === null) continue;
          progress.matched += 1;
          progress.failed += 1;
          progress.done += 1;
          items.push({
            policy: under.name,
            action: under.action.type,
            key: object.key,
            requests: object.requestCount,
            bytesBefore: object.storedBytes,
            bytesAfter: object.storedBytes,
            outcome: 'failed',
            error: error.message,
          });
          scan.logger.error({ key: object.key, policy: error.policy.name, error: error.message }, 'retention skipped an object it cannot judge');
          continue;
        }
        if (policy === null || !scan.chosen.includes(policy)) continue;
        progress.matched += 1;
        const item: RetentionItem = {
          policy: policy.name,
          action: policy.action.type,
          key: object.key,
          requests: object.requestCount,
          bytesBefore: object.storedBytes,
          bytesAfter: estimateAfter(policy, object),
          outcome: 'candidate',
        };
        items.push(item);
        if (scan.dryRun) {
          if (policy.action.type === 'dedup') await previewDedup(opDeps, policy.action, object, item);
          continue;
        }
        let planned: string | null;
        try {
          planned = targetKey(deps.blobs, policy, object.key);
        } catch (error) {
          // A target this store cannot take (checkRetentionConfig catches these at start): fail the object, not the run.
          item.outcome = 'failed';
          item.bytesAfter = item.bytesBefore;
          item.error = `${object.key}: ${(error as Error).message}`;
          progress.failed += 1;
          progress.done += 1;
          continue;
        }
        if (planned !== null) created.add(planned);
        await queue.onSizeLessThan(deps.config.concurrency);
        void queue.add(async () => {
          try {
            if (scan.leaseHeld !== undefined && !(await scan.leaseHeld())) {
              // Taken by the scan before the lease was lost: not acted on, and said so (the run did not finish).
              item.outcome = 'failed';
              item.bytesAfter = item.bytesBefore;
              item.error = `${object.key}: not acted on: the retention lease was lost to another run`;
              progress.failed += 1;
              progress.done += 1;
              return;
            }
            const outcome = await runOperation(opDeps, policy, object);
            item.newKey = outcome.newKey;
            item.bytesAfter = outcome.bytesAfter;
            item.outcome = outcome.newKey === object.key ? 'unchanged' : 'done';
            if (outcome.note !== undefined) item.note = outcome.note;
            if (outcome.dropped !== undefined) item.dropped = outcome.dropped;
            if (outcome.newKey !== null) created.add(outcome.newKey);
          } catch (error) {
            item.outcome = 'failed';
            item.bytesAfter = item.bytesBefore;
            item.error = `${object.key}: ${(error as Error).message}`;
            progress.failed += 1;
            scan.logger.error({ key: object.key, policy: policy.name, error: (error as Error).message }, 'retention action failed');
          }
          progress.done += 1;
          report();
        });
      }
      report();
      if (page.length < deps.config.batchSize) break;
      afterKey = page[page.length - 1]!.key;
    }
  } finally {
    await queue.onIdle();
  }
  progress.scanComplete = true;
  report();
  return items;
}

/**
 * The chosen policy an undecided object is reported under: the undecided one itself, or (with --policy naming a
 * later one) the first later chosen policy whose index-row rules hold, since it might have been the object's.
 * Null: no chosen policy could have taken the object, so the run has nothing to say about it.
 */
function undecidedUnder(scan: ScanOptions, undecided: RetentionPolicy, object: ObjectMeta): RetentionPolicy | null {
  if (scan.chosen.includes(undecided)) return undecided;
  const later = scan.policies.slice(scan.policies.indexOf(undecided) + 1);
  return later.find((p) => scan.chosen.includes(p) && rowMatches(p, object, scan.asOfMs) && actionApplies(p, object)) ?? null;
}

function policyFor(deps: RetentionRunDeps, opDeps: OperationDeps, policies: readonly RetentionPolicy[], object: ObjectMeta, asOfMs: number): Promise<RetentionPolicy | null> {
  return firstMatchingPolicy(
    policies,
    object,
    asOfMs,
    () => servicesOf(deps.blobs, object.key),
    (action) => opDeps.attempts.triedWithoutGain(object.key, action),
    (action) => opDeps.checks.covered(object.key, dedupWindowOf(action)),
  );
}

/** dedup: whether the object at `key` keeps its requests through runs as configured, i.e. no delete policy takes it. */
async function objectStays(deps: RetentionRunDeps, opDeps: OperationDeps, policies: readonly RetentionPolicy[], asOfMs: number, key: string): Promise<boolean> {
  const object = await deps.index.getObject(key);
  if (object === null) return false;
  return (await policyFor(deps, opDeps, policies, object, asOfMs))?.action.type !== 'delete';
}

/** A dry run's view of a dedup: what it would drop now, and what would be left (0 when every request would go). */
async function previewDedup(opDeps: OperationDeps, action: Parameters<typeof planObjectDedup>[1], object: ObjectMeta, item: RetentionItem): Promise<void> {
  try {
    const { requests, plan } = await planObjectDedup(opDeps, action, object.key);
    item.dropped = plan.drop.size;
    if (plan.drop.size > 0 && plan.drop.size === requests.length) item.bytesAfter = 0;
    if (plan.kept.length > 0) item.note = `would keep ${plan.kept.length} with a twin by fingerprint only`;
  } catch (error) {
    item.error = `${object.key}: ${(error as Error).message}`;
  }
}

/** Services of every request in an object (policy-match.ts: a service rule matches when any request has it). */
async function servicesOf(blobs: BlobStore, key: string): Promise<string[]> {
  const { requests } = await readObjectManifest(blobs, key);
  return [...new Set(requests.flatMap((r) => r.services))];
}

/** A dry run's "after": 0 for delete, unchanged for archive, unknown (so unchanged) for compress and dedup (previewDedup knows more). */
function estimateAfter(policy: RetentionPolicy, object: ObjectMeta): number {
  return policy.action.type === 'delete' ? 0 : object.storedBytes;
}

function summarize(policies: readonly RetentionPolicy[], items: readonly RetentionItem[]): RetentionPolicySummary[] {
  return policies.map((policy) => {
    const mine = items.filter((item) => item.policy === policy.name);
    const failed = mine.filter((item) => item.outcome === 'failed');
    const succeeded = mine.filter((item) => item.outcome !== 'failed');
    const sum = (list: readonly RetentionItem[], pick: (item: RetentionItem) => number): number => list.reduce((n, item) => n + pick(item), 0);
    const errors = failed.slice(0, MAX_ERRORS_PER_POLICY).map((item) => item.error ?? 'failed');
    return {
      policy: policy.name,
      action: policy.action.type,
      objects: { processed: mine.length, succeeded: succeeded.length, failed: failed.length },
      requests: { processed: sum(mine, (i) => i.requests), succeeded: sum(succeeded, (i) => i.requests), failed: sum(failed, (i) => i.requests) },
      bytesBefore: sum(mine, (i) => i.bytesBefore),
      bytesAfter: sum(mine, (i) => i.bytesAfter),
      ...(policy.action.type === 'dedup' ? { dropped: sum(succeeded, (i) => i.dropped ?? 0) } : {}),
      ...(errors.length > 0 ? { errors } : {}),
    };
  });
}
