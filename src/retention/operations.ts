// The four actions on one archive object, each a sequence of journalled steps (journal.ts explains the phases).
// Order of every step: the journal says what is about to happen before it happens; the index changes before the
// blob that it stops pointing at is deleted; a new object is complete and durable before the index points at it.
import { ObjectBuilder } from '../archiver/object-builder.js';
import { readObjectManifest, readRequestBytes } from '../archiver/object-reader.js';
import { CorruptDataError, NotFoundError } from '../errors.js';
import type { IndexStore } from '../index/index-store.js';
import type { ArchivedRequest, Codec, ObjectMeta, RequestMeta } from '../model.js';
import { spanTraceIds } from '../otlp/trace-filter.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { CompressAttempts } from './compress-attempts.js';
import { compressedKey, compressionMark } from './compressed-key.js';
import type { CrashHook } from './crash-hook.js';
import type { DedupChecks } from './dedup-checks.js';
import { dedupedKey } from './dedup-key.js';
import { planDedup, type DedupPlan } from './dedup-plan.js';
import type { ActionType, Journal, JournalEntry } from './journal.js';
import { dedupWindowOf, type ArchiveAction, type CompressAction, type DedupAction, type RetentionPolicy } from './retention-config.js';

export interface OperationDeps {
  blobs: BlobStore;
  index: IndexStore;
  journal: Journal;
  /** Objects that compress could not shrink, so that later runs leave them alone. */
  attempts: CompressAttempts;
  /** Objects dedup has been through, so that later runs (and later policies) are not held up by it. */
  checks: DedupChecks;
  crash: CrashHook;
  owner: string;
  /** dedup: whether the object at `key` keeps its requests through this run (false: a delete policy takes it). */
  twinObjectStays?(key: string): Promise<boolean>;
}

export interface OperationOutcome {
  /** Where the object's requests live now (null: deleted; the old key: nothing changed). */
  newKey: string | null;
  bytesAfter: number;
  /** Set when the action found nothing to gain (compress that would not shrink the object), or kept suspects (dedup). */
  note?: string;
  /** dedup: requests dropped as exact duplicates of earlier ones. */
  dropped?: number;
}

/** What the journal records of the policy behind an operation. */
export interface PolicyRef {
  name: string;
  action: { type: ActionType };
}

/** Blocks read ahead of the encoder while re-encoding an object. */
const COMPRESS_READ_AHEAD = 8;

export async function runOperation(deps: OperationDeps, policy: RetentionPolicy, object: ObjectMeta): Promise<OperationOutcome> {
  switch (policy.action.type) {
    case 'delete':
      return deleteObject(deps, policy, object);
    case 'archive':
      return archiveObject(deps, policy, policy.action, object);
    case 'compress':
      return compressObject(deps, policy, policy.action, object);
    case 'dedup':
      return dedupObject(deps, policy, policy.action, object);
  }
}

function archiveKeyFor(blobs: BlobStore, action: ArchiveAction, key: string): string {
  const { type: _type, ...target } = action;
  return blobs.archiveKey(key, target);
}

/** Where an action puts the object at `key` (null: nowhere, it deletes). Deterministic, no I/O. */
export function targetKey(blobs: BlobStore, policy: RetentionPolicy, key: string): string | null {
  const action = policy.action;
  switch (action.type) {
    case 'delete':
      return null;
    case 'archive':
      return archiveKeyFor(blobs, action, key);
    case 'compress':
      return compressedKey(key, { codec: action.codec, level: action.level });
    case 'dedup':
      // Where it goes when some, not all, of its requests are dropped (the object may also stay, or go).
      return dedupedKey(key);
  }
}

/** The ids an object holds, from its manifest; [] when the blob cannot be read (the index row goes regardless). */
async function requestIdsOf(blobs: BlobStore, key: string): Promise<string[]> {
  try {
    return (await readObjectManifest(blobs, key)).requests.map((r) => r.id);
  } catch (error) {
    if (error instanceof NotFoundError || error instanceof CorruptDataError) return [];
    throw error;
  }
}

async function deleteObject(deps: OperationDeps, policy: RetentionPolicy, object: ObjectMeta): Promise<OperationOutcome> {
  const { blobs, journal, crash } = deps;
  const ids = await requestIdsOf(blobs, object.key);
  await journal.put(entry(deps, policy, object.key, undefined, 'delete'));
  crash('delete');
  await finishDelete(deps, object.key, ids);
  return { newKey: null, bytesAfter: 0 };
}

/** Index first, then the blob, then the journal entry: each step idempotent, so recovery simply repeats them. */
export async function finishDelete(deps: OperationDeps, key: string, ids: readonly string[]): Promise<void> {
  await deps.index.deleteObject(key, ids);
  deps.crash('index-deleted');
  await deps.blobs.delete(key);
  deps.crash('source-deleted');
  await deps.attempts.forget(key);
  await deps.checks.forget(key);
  await deps.journal.remove(key);
}

async function archiveObject(deps: OperationDeps, policy: RetentionPolicy, action: ArchiveAction, object: ObjectMeta): Promise<OperationOutcome> {
  const { blobs, journal, crash } = deps;
  const storageClass = action.storageClass;
  const newKey = archiveKeyFor(blobs, action, object.key);
  await journal.put(entry(deps, policy, object.key, newKey, 'copy'));
  crash('copy');
  try {
    await blobs.copy(object.key, newKey, storageClass === undefined ? {} : { storageClass });
  } catch (error) {
    await undoCopy(deps, object.key, newKey);
    throw error;
  }
  crash('copied');
  const size = await switchTo(deps, policy, object.key, newKey);
  return { newKey, bytesAfter: size };
}

async function compressObject(deps: OperationDeps, policy: RetentionPolicy, action: CompressAction, object: ObjectMeta): Promise<OperationOutcome> {
  const { blobs, journal, crash } = deps;
  const newKey = compressedKey(object.key, { codec: action.codec, level: action.level });
  await journal.put(entry(deps, policy, object.key, newKey, 'copy'));
  crash('copy');
  let size: number;
  try {
    size = await rewrite(blobs, object.key, newKey, { codec: action.codec, level: action.level });
  } catch (error) {
    await undoCopy(deps, object.key, newKey);
    throw error;
  }
  crash('copied');
  if (size >= object.storedBytes) {
    // Nothing to gain (already dense, or tiny requests): keep the original, drop the attempt, and remember it so the
    // next runs do not spend the CPU again.
    await undoCopy(deps, object.key, newKey);
    await deps.attempts.record({ key: object.key, codec: action.codec, level: action.level, storedBytes: object.storedBytes, reencodedBytes: size });
    return { newKey: object.key, bytesAfter: object.storedBytes, note: `re-encoding gave ${size} bytes, not less than ${object.storedBytes}: kept as is` };
  }
  await switchTo(deps, policy, object.key, newKey);
  return { newKey, bytesAfter: size };
}

interface RewriteOptions {
  codec: Codec;
  /** The codec's default when unset. */
  level?: number | undefined;
  /** Requests of the old object left out of the new one (dedup). */
  leaveOut?: ReadonlySet<string>;
}

/**
 * Writes a new object under `newKey` holding the requests of `oldKey` (all, or all but `leaveOut`), each block
 * encoded with `codec` and `level`, in the same order, with the same meta (and the original creation and seal times,
 * so the object keeps its age). Returns its size. Every block is checked (length, CRC-32) as it is read.
 */
async function rewrite(blobs: BlobStore, oldKey: string, newKey: string, options: RewriteOptions): Promise<number> {
  const manifest = await readObjectManifest(blobs, oldKey);
  const builder = new ObjectBuilder({
    key: newKey,
    tenant: manifest.object.tenant,
    signal: manifest.object.signal,
    codec: options.codec,
    ...(options.level === undefined ? {} : { level: options.level }),
    priority: 'background',
    writer: blobs.createWriter(newKey),
    nowMs: manifest.object.createdAtMs,
  });
  try {
    const pending: Promise<unknown>[] = [];
    for (const request of manifest.requests) {
      if (options.leaveOut?.has(request.id)) continue;
      const raw = await readRequestBytes(blobs, request, 'background');
      pending.push(builder.append(metaOf(request), raw, request.traceIds ?? traceIdsOf(request, raw)));
      if (pending.length >= COMPRESS_READ_AHEAD) await pending.shift();
    }
    await Promise.all(pending);
    const { object } = await builder.finish(manifest.object.sealedAtMs);
    return object.storedBytes;
  } catch (error) {
    await builder.abort();
    throw error;
  }
}

/** What dedup would drop from `object` now (dry runs ask this; a real run asks it again as it acts). */
export async function planObjectDedup(deps: Pick<OperationDeps, 'blobs' | 'index' | 'twinObjectStays'>, action: DedupAction, key: string): Promise<{ requests: ArchivedRequest[]; plan: DedupPlan }> {
  const { requests } = await readObjectManifest(deps.blobs, key);
  return { requests, plan: await planDedup(deps, requests, dedupWindowOf(action)) };
}

/**
 * Drops the requests that repeat an earlier identical one (dedup-plan.ts). None: the object stays as it is. All:
 * the object goes as with delete (every one has its kept copy elsewhere). Some: the others are written to a new
 * object (dedup-key.ts), same codec, the index switches to it with the dropped rows removed, the old object goes —
 * the same journalled steps as compress.
 */
async function dedupObject(deps: OperationDeps, policy: RetentionPolicy, action: DedupAction, object: ObjectMeta): Promise<OperationOutcome> {
  const { blobs, journal, crash } = deps;
  const { requests, plan } = await planObjectDedup(deps, action, object.key);
  const note = plan.kept.length === 0 ? undefined : `kept ${plan.kept.length} with a twin by fingerprint only: ${plan.kept.slice(0, 3).map((k) => `${k.id} (${k.reason})`).join('; ')}`;
  const withNote = (outcome: OperationOutcome): OperationOutcome => (note === undefined ? outcome : { ...outcome, note });
  const windowMs = dedupWindowOf(action);
  // A request kept because its twin moved or vanished under this run is looked at again by the next one.
  const settled = plan.kept.every((k) => !k.transient);
  const remember = async (key: string): Promise<void> => {
    if (settled) await deps.checks.record({ key, windowMs, dropped: plan.drop.size });
  };
  if (plan.drop.size === 0) {
    await remember(object.key);
    return withNote({ newKey: object.key, bytesAfter: object.storedBytes, dropped: 0 });
  }
  if (plan.drop.size === requests.length) {
    await journal.put(entry(deps, policy, object.key, undefined, 'delete'));
    crash('delete');
    await finishDelete(deps, object.key, requests.map((r) => r.id));
    return withNote({ newKey: null, bytesAfter: 0, dropped: plan.drop.size });
  }
  const newKey = dedupedKey(object.key);
  await journal.put(entry(deps, policy, object.key, newKey, 'copy'));
  crash('copy');
  let size: number;
  try {
    // Objects do not record their level; a compress mark in the key does, else the codec's default is used.
    size = await rewrite(blobs, object.key, newKey, { codec: object.codec, level: compressionMark(object.key)?.level, leaveOut: new Set(plan.drop.keys()) });
  } catch (error) {
    await undoCopy(deps, object.key, newKey);
    throw error;
  }
  crash('copied');
  await switchTo(deps, policy, object.key, newKey, [...plan.drop.keys()]);
  await remember(newKey);
  return withNote({ newKey, bytesAfter: size, dropped: plan.drop.size });
}

/** A trace request's span trace ids when its manifest lacks them (older objects): the new manifest gets them. */
function traceIdsOf(request: ArchivedRequest, raw: Buffer): string[] | undefined {
  if (request.signal !== 'traces') return undefined;
  try {
    return spanTraceIds(raw);
  } catch {
    return undefined; // unreadable spans: the request is still kept, only without trace ids in the manifest
  }
}

function metaOf(r: ArchivedRequest): RequestMeta {
  return {
    id: r.id,
    tenant: r.tenant,
    signal: r.signal,
    receivedAtMs: r.receivedAtMs,
    items: r.items,
    services: r.services,
    startNs: r.startNs,
    endNs: r.endNs,
    rawBytes: r.rawBytes,
    ...(r.fingerprint === undefined ? {} : { fingerprint: r.fingerprint }),
  };
}

/**
 * The new object is complete: point the index at it (locations from its own manifest), then remove the old one.
 * Also recovery's way to finish an entry in phase switch. Returns the new object's size. `removedIds` (dedup): the
 * old object's requests the new one leaves out, whose rows go in the same index step.
 */
export async function switchTo(
  deps: Pick<OperationDeps, 'blobs' | 'index' | 'journal' | 'attempts' | 'checks' | 'crash' | 'owner'>,
  policy: PolicyRef,
  oldKey: string,
  newKey: string,
  removedIds: readonly string[] = [],
): Promise<number> {
  const { blobs, index, journal, crash } = deps;
  const manifest = await readObjectManifest(blobs, newKey);
  await journal.put(entry(deps, policy, oldKey, newKey, 'switch'));
  crash('switch');
  await index.replaceObject(oldKey, manifest.object, manifest.requests, removedIds);
  crash('replaced');
  await finishCleanup(deps, policy, oldKey, newKey);
  return manifest.object.storedBytes;
}

export async function finishCleanup(deps: Pick<OperationDeps, 'blobs' | 'journal' | 'attempts' | 'checks' | 'crash' | 'owner'>, policy: PolicyRef, oldKey: string, newKey: string): Promise<void> {
  await deps.journal.put(entry(deps, policy, oldKey, newKey, 'cleanup'));
  deps.crash('cleanup');
  await deps.blobs.delete(oldKey);
  deps.crash('source-deleted');
  await deps.attempts.forget(oldKey);
  await deps.checks.forget(oldKey);
  await deps.journal.remove(oldKey);
}

/**
 * Undoes phase copy: deletes the new object unless the index knows it (then it is not ours to delete: another
 * run finished the same move), and removes the entry.
 */
export async function undoCopy(deps: Pick<OperationDeps, 'blobs' | 'index' | 'journal'>, oldKey: string, newKey: string): Promise<void> {
  if ((await deps.index.getObject(newKey)) === null) await deps.blobs.delete(newKey);
  await deps.journal.remove(oldKey);
}

function entry(
  deps: Pick<OperationDeps, 'owner'>,
  policy: PolicyRef,
  oldKey: string,
  newKey: string | undefined,
  phase: JournalEntry['phase'],
): JournalEntry {
  return {
    policy: policy.name,
    action: policy.action.type,
    oldKey,
    ...(newKey === undefined ? {} : { newKey }),
    phase,
    owner: deps.owner,
    updatedAtMs: Date.now(),
  };
}
