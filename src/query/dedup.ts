// Distinct requests: retries collapsed by content fingerprint.
//
// The rule (README, "Distinct requests"). Two requests are twins when they have the same tenant, signal and
// fingerprint (xxh64 of the uncompressed bytes). A request is a DUPLICATE when a twin was received before it (smaller
// id) at most `window` earlier (receipt time = the millisecond in its ULID); otherwise it is DISTINCT. So twins form
// chains — each retry within the window of the previous member joins the chain — and every chain shows once, as its
// first member, with `duplicates` = how many later members the chain has. A gap longer than the window starts a new
// chain (a new distinct request). Requests without a fingerprint are always distinct and have no duplicates.
//
// Why chains and not fixed windows from the first member: whether a request is a duplicate is then decided by one
// bounded lookup (is there a twin in [t - window, t)?) that any reader, on any page, in any process, gets the same
// answer to from the index. With fixed windows, a request's status would depend on whether its predecessor started a
// window, which depends on its predecessor, back to the beginning of the archive. The price: identical bytes sent
// again and again, each within the window of the last, show as one request (with their count) however long it goes
// on; OTLP requests carry timestamps, so in practice only retries repeat their bytes.
//
// The stage works on any list of ArchivedRequest (from the index, or from elsewhere): the twins are looked up through
// `TwinLookup`s (the index's findTwins, plus any source of requests the index does not hold yet), whose answers are
// merged by id.
import type { Twin, TwinRange } from '../index/index-store.js';
import type { ArchivedRequest } from '../model.js';
import { floorId } from '../index/twin-window.js';
import { ulidTimeMs } from '../util/ulid.js';

export { floorId };

export type { Twin, TwinRange };

export type TwinLookup = (ranges: readonly TwinRange[]) => Promise<Twin[]>;

/** A request as reads present it: a distinct one with its duplicate count, or (with duplicates shown) a duplicate. */
export type PresentedRequest = ArchivedRequest & {
  /** Distinct requests: how many later twins the chain it heads has (set when deduplication is on). */
  duplicates?: number;
  /** Duplicates (shown only when asked for): the id of the twin it repeats (the chain's previous member). */
  duplicateOf?: string;
};

/** How far ahead one lookup round looks for later members of a chain, in windows. */
const CHAIN_LOOKAHEAD_WINDOWS = 4;

const keyOf = (r: { tenant: string; signal: string; fingerprint?: string }): string => `${r.tenant}\u0000${r.signal}\u0000${r.fingerprint ?? ''}`;

export class DedupStage {
  private readonly lookups: TwinLookup[];

  /** `windowMs` 0 turns deduplication off: every request is distinct. */
  constructor(
    readonly windowMs: number,
    lookups: readonly TwinLookup[],
  ) {
    if (!Number.isSafeInteger(windowMs) || windowMs < 0) throw new RangeError(`dedup window must be a non-negative integer of ms: got ${windowMs}`);
    this.lookups = [...lookups];
  }

  get enabled(): boolean {
    return this.windowMs > 0;
  }

  /** Another source of twins (e.g. requests not yet in the index), consulted beside the others. */
  addLookup(lookup: TwinLookup): void {
    this.lookups.push(lookup);
  }

  /** Twins in these ranges from every lookup, by id. */
  private async twins(ranges: readonly TwinRange[]): Promise<Twin[]> {
    if (ranges.length === 0) return [];
    const answers = await Promise.all(this.lookups.map((lookup) => lookup(ranges)));
    const byId = new Map<string, Twin>();
    for (const answer of answers) for (const twin of answer) byId.set(twin.id, twin);
    return [...byId.values()];
  }

  /** For each of these requests that is a duplicate: the id of the twin it repeats (the latest earlier one). */
  async earlierTwins(requests: readonly ArchivedRequest[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    if (!this.enabled) return found;
    const probes = requests.filter((r) => r.fingerprint !== undefined);
    const ranges = probes.map(
      (r): TwinRange => ({
        tenant: r.tenant,
        signal: r.signal,
        fingerprint: r.fingerprint!,
        fromId: floorId(ulidTimeMs(r.id) - this.windowMs),
        toId: r.id,
      }),
    );
    const byKey = groupByKey(await this.twins(ranges));
    for (const r of probes) {
      const from = floorId(ulidTimeMs(r.id) - this.windowMs);
      let latest: string | undefined;
      for (const twin of byKey.get(keyOf(r)) ?? []) {
        if (twin.id >= from && twin.id < r.id && (latest === undefined || twin.id > latest)) latest = twin.id;
      }
      if (latest !== undefined) found.set(r.id, latest);
    }
    return found;
  }

  /**
   * How many later members the chain each of these requests heads has (0 for one without fingerprint). Meant for
   * distinct requests; for a duplicate it counts the rest of its chain.
   */
  async duplicateCounts(requests: readonly ArchivedRequest[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const r of requests) counts.set(r.id, 0);
    if (!this.enabled) return counts;
    // Open chains: the request that heads it and its last member found so far.
    let open = requests.filter((r) => r.fingerprint !== undefined).map((head) => ({ head, last: head.id }));
    while (open.length > 0) {
      const reach = (last: string): number => ulidTimeMs(last) + CHAIN_LOOKAHEAD_WINDOWS * this.windowMs;
      const ranges = open.map(
        ({ head, last }): TwinRange => ({ tenant: head.tenant, signal: head.signal, fingerprint: head.fingerprint!, fromId: last, toId: floorId(reach(last) + 1) }),
      );
      const byKey = groupByKey(await this.twins(ranges));
      const stillOpen: typeof open = [];
      for (const chain of open) {
        const end = reach(chain.last);
        const later = (byKey.get(keyOf(chain.head)) ?? []).filter((t) => t.id > chain.last && ulidTimeMs(t.id) <= end).sort((a, b) => (a.id < b.id ? -1 : 1));
        let last = chain.last;
        let closed = false;
        for (const twin of later) {
          if (ulidTimeMs(twin.id) - ulidTimeMs(last) > this.windowMs) {
            closed = true;
            break;
          }
          last = twin.id;
          counts.set(chain.head.id, counts.get(chain.head.id)! + 1);
        }
        // The chain may go on past what this round looked at only if its last member is within a window of the end.
        if (!closed && last !== chain.last && ulidTimeMs(last) + this.windowMs > end) stillOpen.push({ head: chain.head, last });
      }
      open = stillOpen;
    }
    return counts;
  }

  /**
   * A page of requests as a read presents it. Deduplication off: unchanged. Otherwise the duplicates are left out
   * (or, with `withDuplicates`, kept and marked with `duplicateOf`), and when `counts` is set each distinct request
   * gets its `duplicates` count. Order is kept.
   */
  async present(requests: readonly ArchivedRequest[], options: { withDuplicates?: boolean; counts?: boolean } = {}): Promise<PresentedRequest[]> {
    if (!this.enabled) return [...requests];
    const earlier = await this.earlierTwins(requests);
    const shown: PresentedRequest[] = [];
    for (const r of requests) {
      const of = earlier.get(r.id);
      if (of === undefined) shown.push({ ...r });
      else if (options.withDuplicates) shown.push({ ...r, duplicateOf: of });
    }
    if (options.counts) {
      const distinct = shown.filter((r) => r.duplicateOf === undefined);
      const counts = await this.duplicateCounts(distinct);
      for (const r of distinct) r.duplicates = counts.get(r.id) ?? 0;
    }
    return shown;
  }
}

function groupByKey(twins: readonly Twin[]): Map<string, Twin[]> {
  const byKey = new Map<string, Twin[]>();
  for (const twin of twins) {
    const key = keyOf(twin);
    const list = byKey.get(key);
    if (list === undefined) byKey.set(key, [twin]);
    else list.push(twin);
  }
  return byKey;
}

/** Deduplication off: what reads use when no window is configured. */
export const NO_DEDUP = new DedupStage(0, []);
