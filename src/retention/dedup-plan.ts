// Which requests of one archive object the dedup action drops. The rule is the one reads use to hide duplicates
// (src/query/dedup.ts): a request repeats a TWIN — same tenant, signal and content fingerprint — received before it
// and at most `window` earlier (src/index/twin-window.ts). A fingerprint is a hash, so it only nominates: a request is
// dropped only when its uncompressed bytes equal an earlier twin's, both read back from the blob store (length and
// CRC-32 checked on the way).
//
// Why dropping such a request never loses content, also when its twin is dropped in the same run: every dropped
// request equals an earlier one, which is either kept or was itself dropped for equalling an earlier one; ids only go
// down along that chain, and its first member has no earlier twin, so it is never dropped. Twins this run cannot rely
// on — unreadable, moved meanwhile, or in an object a delete policy takes (`twinObjectStays`) — do not count: the
// request is kept (a later run may drop it).
import { readRequestBytes } from '../archiver/object-reader.js';
import { CorruptDataError, NotFoundError } from '../errors.js';
import type { IndexStore, Twin, TwinRange } from '../index/index-store.js';
import { duplicateFloor } from '../index/twin-window.js';
import type { ArchivedRequest } from '../model.js';
import type { BlobStore } from '../storage/blob-store.js';
import { isUlid } from '../util/ulid.js';

export interface DedupPlanDeps {
  blobs: BlobStore;
  index: IndexStore;
  /** False for an object whose copies this run may remove (a delete policy's): its requests are no kept copy. */
  twinObjectStays?(key: string): Promise<boolean>;
}

export interface DedupPlan {
  /** Requests to drop: id → the earlier identical request it repeats. */
  drop: Map<string, string>;
  /**
   * Requests with a twin by fingerprint that are kept all the same, and why; `transient` when a later look may find
   * otherwise (a twin that moved or vanished while this run read it).
   */
  kept: { id: string; reason: string; transient: boolean }[];
}

/** Twin lookups per findTwins call: a bounded statement / query however large the object. */
const RANGES_PER_LOOKUP = 256;
/** Twins compared at most per request, latest first (the chain's previous member is nearly always the one). */
const MAX_COMPARES = 3;

const keyOf = (r: { tenant: string; signal: string; fingerprint?: string }): string => `${r.tenant}\u0000${r.signal}\u0000${r.fingerprint ?? ''}`;

export async function planDedup(deps: DedupPlanDeps, requests: readonly ArchivedRequest[], windowMs: number): Promise<DedupPlan> {
  const plan: DedupPlan = { drop: new Map(), kept: [] };
  // Requests without a fingerprint (captured before fingerprints) or an id that tells no time are never duplicates.
  const probes = requests.filter((r) => r.fingerprint !== undefined && isUlid(r.id));
  const ranges = probes.map((r): TwinRange => ({ tenant: r.tenant, signal: r.signal, fingerprint: r.fingerprint!, fromId: duplicateFloor(r.id, windowMs), toId: r.id }));
  const twins = new Map<string, Twin[]>();
  for (let i = 0; i < ranges.length; i += RANGES_PER_LOOKUP) {
    for (const twin of await deps.index.findTwins(ranges.slice(i, i + RANGES_PER_LOOKUP))) {
      const list = twins.get(keyOf(twin)) ?? [];
      if (!list.some((t) => t.id === twin.id)) list.push(twin);
      twins.set(keyOf(twin), list);
    }
  }
  // A twin in this same object is read where the manifest says (the index says the same unless it moved meanwhile).
  const here = new Map(requests.map((r) => [r.id, r]));
  const stays = new Map<string, Promise<boolean>>();
  const objectStays = (key: string): Promise<boolean> => {
    let answer = stays.get(key);
    if (answer === undefined) {
      answer = deps.twinObjectStays?.(key) ?? Promise.resolve(true);
      stays.set(key, answer);
    }
    return answer;
  };
  for (const request of probes) {
    const floor = duplicateFloor(request.id, windowMs);
    const earlier = (twins.get(keyOf(request)) ?? [])
      .filter((t) => t.id >= floor && t.id < request.id)
      .sort((a, b) => (a.id < b.id ? 1 : -1))
      .slice(0, MAX_COMPARES);
    if (earlier.length === 0) continue;
    const verdict = await compareWithTwins(deps, request, earlier, here, objectStays);
    if (verdict.twin !== undefined) plan.drop.set(request.id, verdict.twin);
    else plan.kept.push({ id: request.id, reason: verdict.reason, transient: verdict.transient });
  }
  return plan;
}

async function compareWithTwins(
  deps: DedupPlanDeps,
  request: ArchivedRequest,
  twins: readonly Twin[],
  here: ReadonlyMap<string, ArchivedRequest>,
  objectStays: (key: string) => Promise<boolean>,
): Promise<{ twin: string } | { twin?: undefined; reason: string; transient: boolean }> {
  let own: Buffer;
  try {
    own = await readRequestBytes(deps.blobs, request, 'background');
  } catch (error) {
    if (!unreadable(error)) throw error;
    return { reason: `its own bytes cannot be read: ${(error as Error).message}`, transient: false };
  }
  const reasons: string[] = [];
  let transient = false;
  for (const twin of twins) {
    const location = here.get(twin.id) ?? (await deps.index.getRequest(twin.id));
    if (location === null) {
      reasons.push(`twin ${twin.id} is gone`);
      transient = true;
      continue;
    }
    if (location.objectKey !== request.objectKey && !(await objectStays(location.objectKey))) {
      reasons.push(`twin ${twin.id} is in ${location.objectKey}, which a delete policy takes`);
      continue;
    }
    let other: Buffer;
    try {
      other = await readRequestBytes(deps.blobs, location, 'background');
    } catch (error) {
      if (!unreadable(error)) throw error;
      reasons.push(`twin ${twin.id} cannot be read: ${(error as Error).message}`);
      transient = true;
      continue;
    }
    if (other.equals(own)) return { twin: twin.id };
    reasons.push(`twin ${twin.id} has the same fingerprint but other bytes`);
  }
  return { reason: reasons.join('; '), transient };
}

/** Damage or a move racing this run: the comparison is not made, the request is kept. */
function unreadable(error: unknown): boolean {
  return error instanceof NotFoundError || error instanceof CorruptDataError;
}
