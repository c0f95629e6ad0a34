// Which policy acts on an archive object: the first, in listed order, whose `match` holds for the object AND whose
// action still applies to it. The second part is what lets policies be chained: with [archive after 7d, delete
// after 90d], an object already archived is not "matched" by the archive policy, so the delete policy gets it.
//
// - signal, tenant: equal to the object's.
// - olderThan: the object was sealed before asOf − olderThan (the same rule as IndexStore.listObjects'
//   newestBeforeMs, which pre-filters candidates). Its data cannot be younger than that: every request arrived before
//   the seal. Data timestamps after the seal come from a clock ahead or a garbage value (up to 2^64-1 ns, year 2554);
//   judging by them would keep such an object past its retention, or for ever.
// - minSize: the object's stored bytes are at least this.
// - service: ANY request in the object carries that service.name (an object mixes services; requiring all would
//   make the rule useless for shared Collectors). The services come from the object's manifest, read only when a
//   policy with a service rule is reached.
// - archive applies to objects not archived yet; compress to objects not archived and not already at (or beyond)
//   the target codec and level (compressed-key.ts) nor already re-encoded there without gain (compress-attempts.ts);
//   dedup to objects not archived (a cold copy is not rewritten: that would read it back from its storage class)
//   and not already deduplicated with that window or a wider one (dedup-checks.ts);
//   delete to every object.
import { OtlpCaptureError } from '../errors.js';
import type { ObjectMeta } from '../model.js';
import { ARCHIVE_KEY_PREFIX } from '../storage/blob-store.js';
import { compressionMark } from './compressed-key.js';
import { codecRank, type CompressAction, type CompressCodec, type DedupAction, type RetentionPolicy } from './retention-config.js';

/** Cut-off (unix ms) below which an object is older than `olderThanMs` at `asOfMs`. */
export function cutoffMs(asOfMs: number, olderThanMs: number): number {
  return asOfMs - olderThanMs;
}

/** The rule's fields that the index row alone decides (everything but service). */
export function rowMatches(policy: RetentionPolicy, object: ObjectMeta, asOfMs: number): boolean {
  const m = policy.match;
  if (m.signal !== undefined && object.signal !== m.signal) return false;
  if (m.tenant !== undefined && object.tenant !== m.tenant) return false;
  if (m.minSize !== undefined && object.storedBytes < m.minSize) return false;
  return object.sealedAtMs < cutoffMs(asOfMs, m.olderThan);
}

export function actionApplies(policy: RetentionPolicy, object: ObjectMeta): boolean {
  const action = policy.action;
  const archived = object.key.startsWith(ARCHIVE_KEY_PREFIX);
  switch (action.type) {
    case 'delete':
      return true;
    case 'dedup':
      return !archived;
    case 'archive':
      return !archived;
    case 'compress': {
      if (archived) return false;
      if (codecRank(object.codec) > codecRank(action.codec)) return false;
      const mark = compressionMark(object.key);
      return mark === null || !settingCovers(mark, action);
    }
  }
}

/**
 * Whether `policy` holds for an object could not be found out (its manifest is damaged or gone, a retention
 * document could not be read). Since the first matching policy wins, no later policy may be applied either: the
 * object is left as it is and reported, never handed to a policy that might not be the one it falls under.
 */
export class PolicyUndecidedError extends OtlpCaptureError {
  constructor(readonly policy: RetentionPolicy, readonly key: string, cause: unknown) {
    super(`${key}: cannot tell whether policy ${policy.name} applies, so left as it is: ${(cause as Error).message}`, { cause });
  }
}

export interface CompressSetting {
  codec: CompressCodec;
  level: number;
}

/** Whether an object re-encoded at `done` has nothing to gain from `wanted`: a stronger codec, or the same at a level as high. */
export function settingCovers(done: CompressSetting, wanted: CompressSetting): boolean {
  const rank = codecRank(done.codec);
  const target = codecRank(wanted.codec);
  return rank > target || (rank === target && done.level >= wanted.level);
}

/**
 * The policy that acts on `object`, or null. `servicesOf` loads the object's services (from its manifest) and is
 * called at most once, only if a policy with a service rule is reached. `triedWithoutGain` says whether the object
 * was already re-encoded at a compress policy's setting (or stronger) without shrinking (compress-attempts.ts);
 * `deduplicated` whether dedup already went through it with a dedup policy's window or a wider one (dedup-checks.ts).
 * Throws PolicyUndecidedError when one of these lookups fails.
 */
export async function firstMatchingPolicy(
  policies: readonly RetentionPolicy[],
  object: ObjectMeta,
  asOfMs: number,
  servicesOf: () => Promise<readonly string[]>,
  triedWithoutGain: (action: CompressAction) => Promise<boolean> = async () => false,
  deduplicated: (action: DedupAction) => Promise<boolean> = async () => false,
): Promise<RetentionPolicy | null> {
  let services: readonly string[] | undefined;
  for (const policy of policies) {
    if (!rowMatches(policy, object, asOfMs) || !actionApplies(policy, object)) continue;
    try {
      if (policy.action.type === 'compress' && (await triedWithoutGain(policy.action))) continue;
      if (policy.action.type === 'dedup' && (await deduplicated(policy.action))) continue;
      const service = policy.match.service;
      if (service !== undefined) {
        services ??= await servicesOf();
        if (!services.includes(service)) continue;
      }
    } catch (error) {
      throw new PolicyUndecidedError(policy, object.key, error);
    }
    return policy;
  }
  return null;
}
