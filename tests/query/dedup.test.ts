// The distinct-requests stage (src/query/dedup.ts) over a real SQLite index: a property test over generated payloads
// — requests whose bytes differ are never merged, however close in time; requests whose bytes are equal merge exactly
// when the rule says (chains within the window) — and the same decisions page by page as over the whole listing.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { SqliteIndexStore } from '../../src/index/sqlite-index-store.js';
import type { ArchivedRequest, ObjectMeta, Signal } from '../../src/model.js';
import { DedupStage, floorId } from '../../src/query/dedup.js';
import { distinctPage } from '../../src/query/distinct-page.js';
import { requestFingerprint } from '../../src/util/fingerprint.js';
import { createUlidGenerator, ulidTimeMs } from '../../src/util/ulid.js';

const WINDOW = 60_000;
const BASE_MS = 1_750_000_000_000;

interface Sent {
  tenant: string;
  signal: Signal;
  bytes: Uint8Array;
  atMs: number;
}

let serial = 0;

function archive(sent: readonly Sent[]): { object: ObjectMeta; requests: ArchivedRequest[] }[] {
  const nextId = createUlidGenerator();
  return [...sent]
    .sort((a, b) => a.atMs - b.atMs)
    .map((s) => {
      const key = `${s.tenant}/${s.signal}/obj-${++serial}.otlpc`;
      const request: ArchivedRequest = {
        id: nextId(s.atMs),
        tenant: s.tenant,
        signal: s.signal,
        receivedAtMs: s.atMs,
        items: 1,
        services: ['svc'],
        startNs: 1n,
        endNs: 2n,
        rawBytes: s.bytes.length,
        objectKey: key,
        offset: 0,
        length: s.bytes.length,
        codec: 'none',
        crc32: 0,
        fingerprint: requestFingerprint(s.bytes),
      };
      const object: ObjectMeta = {
        key, tenant: s.tenant, signal: s.signal, createdAtMs: s.atMs, sealedAtMs: s.atMs, requestCount: 1,
        rawBytes: s.bytes.length, storedBytes: s.bytes.length, codec: 'none', startNs: 1n, endNs: 2n,
      };
      return { object, requests: [request] };
    });
}

/** The rule, computed the slow way: a duplicate has an equal-content twin of its stream at most WINDOW before it. */
function expectedDuplicates(requests: readonly ArchivedRequest[], bytesOf: Map<string, string>): Set<string> {
  const out = new Set<string>();
  for (const r of requests) {
    const t = ulidTimeMs(r.id);
    const twin = requests.some(
      (e) => e.id < r.id && e.tenant === r.tenant && e.signal === r.signal && bytesOf.get(e.id) === bytesOf.get(r.id) && t - ulidTimeMs(e.id) <= WINDOW,
    );
    if (twin) out.add(r.id);
  }
  return out;
}

describe('DedupStage over SQLite', () => {
  let index: SqliteIndexStore;

  beforeEach(async () => {
    index = new SqliteIndexStore(':memory:');
    await index.start();
  });

  afterEach(async () => {
    await index.close();
  });

  it('never merges requests whose bytes differ; merges equal bytes exactly by the chain rule; pages agree with the whole', async () => {
    const payload = fc.uint8Array({ minLength: 0, maxLength: 24 });
    const sends = fc.array(
      fc.record({
        tenant: fc.constantFrom('a', 'b'),
        signal: fc.constantFrom<Signal>('traces', 'logs'),
        // A small pool of payloads, so that equal bytes come up often, beside payloads of their own.
        pick: fc.nat({ max: 5 }),
        own: payload,
        atMs: fc.integer({ min: 0, max: 4 * WINDOW }),
      }),
      { minLength: 1, maxLength: 30 },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(payload, { minLength: 3, maxLength: 3 }), sends, async (pool, generated) => {
        await index.close();
        index = new SqliteIndexStore(':memory:');
        await index.start();
        const sent: Sent[] = generated.map((g) => ({
          tenant: g.tenant,
          signal: g.signal,
          bytes: g.pick < pool.length ? pool[g.pick]! : g.own,
          atMs: BASE_MS + g.atMs,
        }));
        const built = archive(sent);
        for (const { object, requests } of built) await index.commitObject(object, requests);
        const requests = built.flatMap((b) => b.requests);
        // archive() keeps the order of a stable sort by time: request i carries sentSorted(sent)[i]'s bytes.
        const ordered = sentSorted(sent);
        const bytesOf = new Map(requests.map((r, i) => [r.id, Buffer.from(ordered[i]!.bytes).toString('hex')]));
        const stage = new DedupStage(WINDOW, [(ranges) => index.findTwins(ranges)]);
        const listing = await index.listRequests({});
        const shown = await stage.present(listing, { withDuplicates: true, counts: true });
        const duplicates = new Set(shown.filter((r) => r.duplicateOf !== undefined).map((r) => r.id));
        expect(duplicates).toEqual(expectedDuplicates(requests, bytesOf));
        // Every duplicate repeats a request with the very same bytes (xxh64 equality never stood in for different bytes).
        for (const r of shown) if (r.duplicateOf !== undefined) expect(bytesOf.get(r.duplicateOf)).toBe(bytesOf.get(r.id));
        // Counts: every request is either distinct or counted in exactly one distinct request's duplicates.
        const counted = shown.reduce((sum, r) => sum + (r.duplicates ?? 0), 0);
        expect(counted).toBe(duplicates.size);
        expect(await index.countDuplicates({}, WINDOW)).toBe(duplicates.size);
        // Paging two at a time shows the same distinct requests as the whole listing.
        const paged: string[] = [];
        let afterId: string | undefined;
        for (;;) {
          const page = await distinctPage(index, stage, { limit: 2, ...(afterId === undefined ? {} : { afterId }) }, false);
          paged.push(...page.requests.map((r) => r.id));
          if (!page.more) break;
          afterId = page.requests[page.requests.length - 1]!.id;
        }
        expect(paged).toEqual(shown.filter((r) => r.duplicateOf === undefined).map((r) => r.id));
        // Bounded scans (one chunk of 3 rows per page) make short pages that resume where the scan stopped: the same.
        const bounded: string[] = [];
        afterId = undefined;
        for (let pages = 0; ; pages++) {
          expect(pages).toBeLessThanOrEqual(requests.length);
          const page = await distinctPage(index, stage, { limit: 2, ...(afterId === undefined ? {} : { afterId }) }, false, { maxScannedRows: 1 });
          bounded.push(...page.requests.map((r) => r.id));
          if (!page.more) break;
          afterId = page.resumeAfterId ?? page.requests[page.requests.length - 1]!.id;
        }
        expect(bounded).toEqual(paged);
      }),
      { numRuns: 60, seed: 17 },
    );
  });

  it('a page of a long run of duplicates stops at its scan bound, and stops reading once its caller is gone', async () => {
    const same = new Uint8Array([7, 7, 7]);
    const built = archive(Array.from({ length: 40 }, (_, i) => ({ tenant: 'a', signal: 'traces' as Signal, bytes: same, atMs: BASE_MS + i })));
    for (const { object, requests } of built) await index.commitObject(object, requests);
    let reads = 0;
    const counting = new Proxy(index, {
      get: (target, prop, receiver) =>
        prop === 'listRequests'
          ? (...args: Parameters<SqliteIndexStore['listRequests']>) => (reads++, target.listRequests(...args))
          : Reflect.get(target, prop, receiver),
    });
    const stage = new DedupStage(WINDOW, [(ranges) => index.findTwins(ranges)]);
    const first = await distinctPage(counting, stage, { limit: 5 }, false, { maxScannedRows: 12 });
    expect(first.requests.map((r) => r.id)).toEqual([built[0]!.requests[0]!.id]);
    expect(first.more).toBe(true);
    expect(reads).toBe(2); // a chunk of 6 rows, a doubled one of 12, then the bound
    expect(first.resumeAfterId).toBe(built[17]!.requests[0]!.id);
    const rest = await distinctPage(index, stage, { limit: 5, afterId: first.resumeAfterId! }, false);
    expect(rest).toEqual({ requests: [], more: false });
    const gone = new AbortController();
    gone.abort(new Error('caller gone'));
    reads = 0;
    await expect(distinctPage(counting, stage, { limit: 5 }, false, { signal: gone.signal })).rejects.toThrow('caller gone');
    expect(reads).toBe(0);
  });

  it('requests without fingerprint are never merged, and a window of 0 shows everything', async () => {
    const built = archive([
      { tenant: 'a', signal: 'traces', bytes: new Uint8Array([1]), atMs: BASE_MS },
      { tenant: 'a', signal: 'traces', bytes: new Uint8Array([1]), atMs: BASE_MS + 10 },
    ]);
    for (const { requests } of built) delete requests[0]!.fingerprint;
    for (const { object, requests } of built) await index.commitObject(object, requests);
    const listing = await index.listRequests({});
    const stage = new DedupStage(WINDOW, [(ranges) => index.findTwins(ranges)]);
    expect((await stage.present(listing, { counts: true })).map((r) => r.duplicates)).toEqual([0, 0]);
    expect(await new DedupStage(0, []).present(listing)).toEqual(listing);
    expect(floorId(ulidTimeMs(listing[0]!.id))).toBe(`${listing[0]!.id.slice(0, 10)}0000000000000000`);
  });
});

function sentSorted(sent: readonly Sent[]): Sent[] {
  return [...sent].sort((a, b) => a.atMs - b.atMs);
}
