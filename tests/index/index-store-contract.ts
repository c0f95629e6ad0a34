// The behaviour every IndexStore adapter must have, tested through the port only. An adapter's test file calls
// describeIndexStoreContract with a factory for a fresh, empty backend.

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { IndexStore } from '../../src/index/index-store.js';
import type { ArchivedRequest, ObjectMeta, RequestFilter, Signal } from '../../src/model.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { ARCHIVE_KEY_PREFIX } from '../../src/storage/blob-store.js';
import { createUlidGenerator } from '../../src/util/ulid.js';
import { DedupStage, floorId } from '../../src/query/dedup.js';

export interface IndexStoreFixture {
  /** Not started: the contract calls start(). */
  index: IndexStore;
  /** Another connection (reader) to the same backend, not started; the contract starts it after `index`. */
  openAnother(): Promise<IndexStore>;
  /** Removes whatever the fixture created (called after every connection is closed). */
  dispose(): Promise<void>;
  /** Makes every commit so far reach the backend itself (ClickHouse: flush the outbox); nothing to do by default. */
  settle?(): Promise<void>;
}

const nextId = createUlidGenerator();
const BASE_MS = 1_700_000_000_000;
let objectSerial = 0;

export interface RequestSpec {
  services?: string[];
  startNs?: bigint;
  endNs?: bigint;
}

/** An object of (tenant, signal) holding one request per spec, ids increasing in spec order. */
export function makeObject(
  tenant: string,
  signal: Signal,
  specs: readonly RequestSpec[],
  receivedAtMs = BASE_MS + objectSerial,
): { object: ObjectMeta; requests: ArchivedRequest[] } {
  const key = `${tenant}/${signal}/2023/11/14/22/obj-${String(++objectSerial).padStart(6, '0')}.otlpc`;
  let offset = 28;
  const requests = specs.map((spec, i): ArchivedRequest => {
    const startNs = spec.startNs ?? BigInt(receivedAtMs) * 1_000_000n;
    const request: ArchivedRequest = {
      id: nextId(receivedAtMs),
      tenant,
      signal,
      receivedAtMs,
      items: i + 1,
      services: spec.services ?? ['svc-a'],
      startNs,
      endNs: spec.endNs ?? startNs + 1_000n,
      rawBytes: 100 + i,
      objectKey: key,
      offset,
      length: 50 + i,
      codec: 'gzip',
      crc32: (0xfffffff0 + i) >>> 0,
    };
    offset += request.length + 20;
    return request;
  });
  const object: ObjectMeta = {
    key,
    tenant,
    signal,
    createdAtMs: receivedAtMs,
    sealedAtMs: receivedAtMs + 1000,
    requestCount: requests.length,
    rawBytes: requests.reduce((sum, r) => sum + r.rawBytes, 0),
    storedBytes: offset + 500,
    codec: 'gzip',
    startNs: requests.reduce((min, r) => (r.startNs < min ? r.startNs : min), requests[0]?.startNs ?? 0n),
    endNs: requests.reduce((max, r) => (r.endNs > max ? r.endNs : max), requests[0]?.endNs ?? 0n),
  };
  return { object, requests };
}

/** Every request the filter selects (afterId, order and limit aside), computed in memory. */
function selected(all: readonly ArchivedRequest[], filter: RequestFilter): ArchivedRequest[] {
  return all
    .filter((r) => filter.signal === undefined || r.signal === filter.signal)
    .filter((r) => filter.tenant === undefined || r.tenant === filter.tenant)
    .filter((r) => filter.service === undefined || r.services.includes(filter.service))
    .filter((r) => filter.sinceNs === undefined || r.endNs >= filter.sinceNs)
    .filter((r) => filter.untilNs === undefined || r.startNs <= filter.untilNs);
}

/** What listRequests must return, computed in memory. */
function expected(all: readonly ArchivedRequest[], filter: RequestFilter): ArchivedRequest[] {
  const newest = filter.newestFirst ?? false;
  return selected(all, filter)
    .filter((r) => filter.afterId === undefined || (newest ? r.id < filter.afterId : r.id > filter.afterId))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) * (newest ? -1 : 1))
    .slice(0, filter.limit ?? 1000);
}

export function describeIndexStoreContract(name: string, makeIndex: () => Promise<IndexStoreFixture>): void {
  describe(`IndexStore contract: ${name}`, () => {
    let fixture: IndexStoreFixture;
    let index: IndexStore;
    const others: IndexStore[] = [];

    async function another(): Promise<IndexStore> {
      const store = await fixture.openAnother();
      others.push(store);
      await store.start();
      return store;
    }

    async function commit(...objects: { object: ObjectMeta; requests: ArchivedRequest[] }[]): Promise<ArchivedRequest[]> {
      for (const { object, requests } of objects) await index.commitObject(object, requests);
      return objects.flatMap((o) => o.requests);
    }

    beforeEach(async () => {
      fixture = await makeIndex();
      index = fixture.index;
      await index.start();
    });

    afterEach(async () => {
      for (const other of others.splice(0)) await other.close();
      await index.close();
      await fixture.dispose();
    });

    it('finds twins by tenant, signal, fingerprint and id range, and counts duplicates within a window (distinct requests)', async () => {
      const WINDOW = 15 * 60_000;
      const t0 = BASE_MS + 5_000_000;
      const one = (tenant: string, signal: Signal, atMs: number, fingerprint?: string, services = ['svc-a']) => {
        const built = makeObject(tenant, signal, [{ services }], atMs);
        if (fingerprint !== undefined) built.requests[0]!.fingerprint = fingerprint;
        return built;
      };
      const A = 'aaaaaaaaaaaaaaaa';
      const B = 'bbbbbbbbbbbbbbbb';
      const built = [
        one('acme', 'traces', t0, A),
        one('acme', 'traces', t0 + 60_000, A), // retry a minute later: duplicate of the first
        one('acme', 'traces', t0 + 60_000 + WINDOW, A), // exactly a window after the previous one: still a duplicate
        one('acme', 'traces', t0 + 60_000 + 2 * WINDOW + 1_000, A), // more than a window later: distinct again
        one('acme', 'traces', t0 + 10_000, B, ['other']),
        one('beta', 'traces', t0 + 20_000, A), // another tenant
        one('acme', 'logs', t0 + 30_000, A), // another signal
        one('acme', 'traces', t0 + 40_000), // no fingerprint: never a twin
        one('acme', 'traces', t0 + 50_000),
      ];
      await commit(...built);
      const [a0, a1, a2, a3, b0, beta, logs] = built.map((b) => b.requests[0]!);
      const everything = { tenant: 'acme', signal: 'traces', fingerprint: A, fromId: floorId(t0 - 1), toId: floorId(t0 + 10 * WINDOW) };
      for (const store of [index, await another()]) {
        expect((await store.findTwins([everything])).map((t) => t.id).sort()).toEqual([a0!.id, a1!.id, a2!.id, a3!.id]);
        const twins = await store.findTwins([
          { ...everything, fromId: a1!.id, toId: a3!.id },
          { tenant: 'beta', signal: 'traces', fingerprint: A, fromId: floorId(t0), toId: floorId(t0 + WINDOW) },
          { tenant: 'acme', signal: 'traces', fingerprint: 'cccccccccccccccc', fromId: floorId(t0), toId: floorId(t0 + WINDOW) },
        ]);
        expect(twins.sort((x, y) => (x.id < y.id ? -1 : 1))).toEqual(
          [a1!, a2!, beta!].map((r) => ({ id: r.id, tenant: r.tenant, signal: r.signal, fingerprint: A })).sort((x, y) => (x.id < y.id ? -1 : 1)),
        );
        expect(await store.findTwins([])).toEqual([]);
        expect(await store.countDuplicates({}, WINDOW)).toBe(2);
        expect(await store.countDuplicates({ tenant: 'acme', signal: 'traces' }, WINDOW)).toBe(2);
        expect(await store.countDuplicates({ service: 'svc-a' }, WINDOW)).toBe(2);
        expect(await store.countDuplicates({ service: 'other' }, WINDOW)).toBe(0);
        expect(await store.countDuplicates({ signal: 'logs' }, WINDOW)).toBe(0);
        expect(await store.countDuplicates({}, 30_000)).toBe(0);
        expect(await store.countDuplicates({}, 0)).toBe(0);
        // The read-side stage over this adapter: chains, counts, and the earlier twin each duplicate repeats.
        const stage = new DedupStage(WINDOW, [(ranges) => store.findTwins(ranges)]);
        const page = await store.listRequests({});
        const shown = await stage.present(page, { counts: true });
        expect(shown.map((r) => [r.id, r.duplicates])).toEqual(
          page.filter((r) => r.id !== a1!.id && r.id !== a2!.id).map((r) => [r.id, r.id === a0!.id ? 2 : 0]),
        );
        const all = await stage.present(page, { counts: true, withDuplicates: true });
        expect(all.map((r) => r.id)).toEqual(page.map((r) => r.id));
        expect(all.find((r) => r.id === a2!.id)?.duplicateOf).toBe(a1!.id);
        expect(all.find((r) => r.id === a1!.id)?.duplicateOf).toBe(a0!.id);
        expect([b0, beta, logs, a3].map((r) => all.find((x) => x.id === r!.id)?.duplicates)).toEqual([0, 0, 0, 0]);
      }
      await fixture.settle?.();
      expect(await index.countDuplicates({}, WINDOW)).toBe(2);
    });

    it('returns every field of a committed request and object exactly', async () => {
      const built = makeObject('acme', 'traces', [{ services: ['checkout', 'payments'] }, { services: [] }, {}]);
      await commit(built);
      for (const request of built.requests) expect(await index.getRequest(request.id)).toEqual(request);
      expect(await index.listObjects({})).toEqual([built.object]);
      expect(await index.listRequests({})).toEqual(built.requests);
      expect(await index.getRequest('01ZZZZZZZZZZZZZZZZZZZZZZZZ')).toBeNull();
      expect(index.describe()).toMatch(/\S/);
    });

    it('is idempotent: committing the same object again changes nothing', async () => {
      const built = makeObject('acme', 'logs', [{ services: ['a', 'b'] }, { services: ['b'] }]);
      await commit(built, built);
      await index.commitObject(built.object, built.requests.slice(0, 1));
      expect(await index.listObjects({})).toEqual([built.object]);
      expect(await index.listRequests({})).toEqual(built.requests);
      expect(await index.listRequests({ service: 'b' })).toEqual(built.requests);
    });

    it('keeps nanosecond times above 2^53 exact', async () => {
      const start = 2n ** 62n + 12_345n; // far past 2^53: a double would round this
      const built = makeObject('acme', 'metrics', [
        { startNs: start, endNs: start + 1n },
        { startNs: 2n ** 53n + 1n, endNs: 2n ** 53n + 3n },
      ]);
      await commit(built);
      const [high, low] = built.requests;
      expect(await index.getRequest(high!.id)).toEqual(high);
      expect((await index.listObjects({}))[0]!.endNs).toBe(start + 1n);
      expect(await index.listRequests({ sinceNs: start + 1n })).toEqual([high]);
      expect(await index.listRequests({ sinceNs: start + 2n })).toEqual([]);
      expect(await index.listRequests({ untilNs: 2n ** 53n + 1n })).toEqual([low]);
      expect(await index.listRequests({ untilNs: 2n ** 53n })).toEqual([]);
    });

    it('filters by signal, tenant and service', async () => {
      const all = await commit(
        makeObject('acme', 'traces', [{ services: ['checkout'] }, { services: ['checkout', 'cart'] }]),
        makeObject('acme', 'logs', [{ services: ['cart'] }, { services: [] }]),
        makeObject('globex', 'traces', [{ services: ['checkout'] }]),
      );
      const ids = (rs: ArchivedRequest[]) => rs.map((r) => r.id);
      expect(ids(await index.listRequests({ signal: 'traces' }))).toEqual(ids(expected(all, { signal: 'traces' })));
      expect(await index.listRequests({ signal: 'traces' })).toHaveLength(3);
      expect(await index.listRequests({ tenant: 'globex' })).toEqual(expected(all, { tenant: 'globex' }));
      expect(await index.listRequests({ service: 'cart' })).toEqual(expected(all, { service: 'cart' }));
      expect(await index.listRequests({ service: 'cart' })).toHaveLength(2);
      expect(await index.listRequests({ service: 'checkout', tenant: 'acme', signal: 'traces' })).toHaveLength(2);
      expect(await index.listRequests({ service: 'nobody' })).toEqual([]);
      expect(await index.listRequests({ tenant: 'initech' })).toEqual([]);
    });

    it('filters by time overlap, inclusive at both ends', async () => {
      const all = await commit(
        makeObject('acme', 'traces', [
          { startNs: 100n, endNs: 200n },
          { startNs: 150n, endNs: 150n },
          { startNs: 300n, endNs: 400n },
        ]),
      );
      const [a, b, c] = all;
      expect(await index.listRequests({ sinceNs: 200n })).toEqual([a, c]);
      expect(await index.listRequests({ sinceNs: 201n })).toEqual([c]);
      expect(await index.listRequests({ untilNs: 100n })).toEqual([a]);
      expect(await index.listRequests({ untilNs: 99n })).toEqual([]);
      expect(await index.listRequests({ sinceNs: 150n, untilNs: 150n })).toEqual([a, b]);
      expect(await index.listRequests({ sinceNs: 201n, untilNs: 299n })).toEqual([]);
      expect(await index.listRequests({ sinceNs: 0n, untilNs: 1000n })).toEqual([a, b, c]);
    });

    it('orders by id and pages with afterId and limit, also under a filter', async () => {
      const all = await commit(
        makeObject('acme', 'traces', Array.from({ length: 13 }, (_, i) => ({ services: i % 2 ? ['odd'] : ['even'] }))),
        makeObject('acme', 'traces', Array.from({ length: 12 }, (_, i) => ({ services: i % 2 ? ['odd'] : ['even'] }))),
      );
      for (const filter of [{}, { service: 'odd' }, { signal: 'traces' as Signal, tenant: 'acme' }]) {
        const pages: ArchivedRequest[][] = [];
        let afterId: string | undefined;
        for (;;) {
          const page = await index.listRequests({ ...filter, limit: 5, ...(afterId ? { afterId } : {}) });
          if (page.length === 0) break;
          pages.push(page);
          afterId = page[page.length - 1]!.id;
        }
        expect(pages.flat()).toEqual(expected(all, filter));
        expect(pages.slice(0, -1).every((page) => page.length === 5)).toBe(true);
      }
      expect(await index.listRequests({ afterId: all[all.length - 1]!.id })).toEqual([]);
    });

    it('returns at most 1000 requests by default and rejects a bad limit', async () => {
      await commit(makeObject('acme', 'logs', Array.from({ length: 1005 }, () => ({}))));
      expect(await index.listRequests({})).toHaveLength(1000);
      expect(await index.listRequests({ limit: 1005 })).toHaveLength(1005);
      expect(await index.countRequests({})).toBe(1005);
      expect(await index.countRequests({ limit: 3 })).toBe(1005);
      await expect(index.listRequests({ limit: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(index.listRequests({ limit: -3 })).rejects.toBeInstanceOf(InvalidArgumentError);
    });

    it('matches an in-memory model for random filters (property)', async () => {
      const services = ['a', 'b', 'c'];
      const all: ArchivedRequest[] = [];
      for (const [tenant, signal] of [
        ['t1', 'traces'],
        ['t2', 'logs'],
        ['t1', 'metrics'],
        ['t2', 'traces'],
      ] as const) {
        const specs = Array.from({ length: 15 }, (_, i) => {
          const startNs = BigInt((i * 37 + tenant.length * 11) % 100);
          return { services: services.filter((_, j) => (i + j) % 3 !== 0), startNs, endNs: startNs + BigInt(i % 4) * 10n };
        });
        all.push(...(await commit(makeObject(tenant, signal, specs))));
      }
      const ids = all.map((r) => r.id);
      await fc.assert(
        fc.asyncProperty(
          fc.record(
            {
              signal: fc.constantFrom<Signal>('traces', 'metrics', 'logs'),
              tenant: fc.constantFrom('t1', 't2', 't3'),
              service: fc.constantFrom('a', 'b', 'c', 'd'),
              sinceNs: fc.bigInt({ min: -5n, max: 140n }),
              untilNs: fc.bigInt({ min: -5n, max: 140n }),
              afterId: fc.constantFrom(...ids),
              newestFirst: fc.boolean(),
              limit: fc.integer({ min: 1, max: 70 }),
            },
            { requiredKeys: [] },
          ),
          async (filter) => {
            expect(await index.listRequests(filter)).toEqual(expected(all, filter));
            expect(await index.countRequests(filter)).toBe(selected(all, filter).length);
          },
        ),
        { numRuns: 120 },
      );
    });

    it('pages newest first, and over requests received days apart, under every filter, in both orders', async () => {
      const DAY = 86_400_000;
      // Small enough that most filters take several pages (98 requests in all, 14 'rare'); each page is a query.
      const PAGE = 7;
      const all: ArchivedRequest[] = [];
      // Objects received over 40 days, data times near the receive time, one of them far older (a replay of old data).
      for (let day = 0; day < 40; day += 3) {
        for (const [tenant, signal] of [['t1', 'traces'], ['t2', 'logs']] as const) {
          const at = BASE_MS + day * DAY + (tenant === 't2' ? 3_600_000 : 0);
          const ns = BigInt(at) * 1_000_000n;
          const specs = Array.from({ length: 7 }, (_, i) => ({
            services: i % 3 === 0 ? ['rare', 'common'] : ['common'],
            startNs: day === 9 && i === 2 ? ns - 30n * BigInt(DAY) * 1_000_000n : ns - 5_000_000_000n,
            endNs: ns,
          }));
          all.push(...(await commit(makeObject(tenant, signal, specs, at))));
        }
      }
      const ns = (ms: number): bigint => BigInt(ms) * 1_000_000n;
      const filters: RequestFilter[] = [
        {},
        { tenant: 't1' },
        { tenant: 't2', signal: 'logs' },
        { service: 'rare' },
        { sinceNs: ns(BASE_MS + 10 * DAY), untilNs: ns(BASE_MS + 20 * DAY) },
        { sinceNs: ns(BASE_MS - 25 * DAY), untilNs: ns(BASE_MS - 20 * DAY) }, // only the replayed requests
        { sinceNs: ns(BASE_MS + 30 * DAY) },
        { untilNs: ns(BASE_MS + 2 * DAY), tenant: 't2' },
        { sinceNs: ns(BASE_MS + 5 * DAY), service: 'rare', signal: 'traces' },
        { sinceNs: ns(BASE_MS + 100 * DAY) },
      ];
      for (const filter of filters) {
        for (const newestFirst of [false, true]) {
          const pages: ArchivedRequest[][] = [];
          let afterId: string | undefined;
          for (;;) {
            const page = await index.listRequests({ ...filter, newestFirst, limit: PAGE, ...(afterId ? { afterId } : {}) });
            if (page.length === 0) break;
            pages.push(page);
            afterId = page[page.length - 1]!.id;
          }
          expect(pages.flat()).toEqual(expected(all, { ...filter, newestFirst, limit: 10_000 }));
          expect(pages.slice(0, -1).every((page) => page.length === PAGE)).toBe(true);
        }
        expect(await index.countRequests(filter)).toBe(selected(all, filter).length);
      }
      expect(await index.countRequests({ sinceNs: ns(BASE_MS - 25 * DAY), untilNs: ns(BASE_MS - 20 * DAY) })).toBe(2); // one per tenant
    });

    it('keeps a request fingerprint, and its absence', async () => {
      const built = makeObject('acme', 'logs', [{}, {}]);
      const withPrint = { ...built.requests[0]!, fingerprint: '0123456789abcdef0123456789abcdef' };
      await commit({ object: built.object, requests: [withPrint, built.requests[1]!] });
      expect(await index.getRequest(withPrint.id)).toEqual(withPrint);
      expect((await index.getRequest(built.requests[1]!.id))!.fingerprint).toBeUndefined();
      expect(await index.listRequests({})).toEqual([withPrint, built.requests[1]]);
    });

    it('tells which request ids are already indexed', async () => {
      const all = await commit(makeObject('acme', 'traces', Array.from({ length: 1200 }, () => ({}))));
      const known = all.filter((_, i) => i % 3 === 0).map((r) => r.id);
      const unknown = Array.from({ length: 700 }, (_, i) => `unknown-${i}`);
      const answer = await index.knownRequestIds([...unknown, ...known, known[0]!]);
      expect(answer).toEqual(new Set(known));
      expect(await index.knownRequestIds([])).toEqual(new Set());
      expect(await index.knownRequestIds(all.map((r) => r.id))).toEqual(new Set(all.map((r) => r.id)));
    });

    it('lists objects ordered by key, filtered, paged', async () => {
      const built = [
        makeObject('acme', 'traces', [{}]),
        makeObject('acme', 'logs', [{}]),
        makeObject('globex', 'traces', [{}]),
        makeObject('acme', 'traces', [{}]),
      ];
      await commit(...built);
      const byKey = built.map((b) => b.object).sort((a, b) => (a.key < b.key ? -1 : 1));
      expect(await index.listObjects({})).toEqual(byKey);
      expect(await index.listObjects({ tenant: 'acme', signal: 'traces' })).toEqual(
        byKey.filter((o) => o.tenant === 'acme' && o.signal === 'traces'),
      );
      expect(await index.listObjects({ signal: 'logs' })).toEqual([built[1]!.object]);
      expect(await index.listObjects({ limit: 2 })).toEqual(byKey.slice(0, 2));
      expect(await index.listObjects({ afterKey: byKey[1]!.key })).toEqual(byKey.slice(2));
    });

    describe('trace index', () => {
      const T1 = '0af7651916cd43dd8448eb211c80319c';
      const T2 = '4bf92f3577b34da6a3ce929d0e0e4736';
      const T3 = 'ffffffffffffffffffffffffffffffff';
      const withTraces = (built: ReturnType<typeof makeObject>, traces: string[][]): ReturnType<typeof makeObject> => ({
        object: built.object,
        requests: built.requests.map((request, i) => ({ ...request, traceIds: traces[i]! })),
      });
      /** What an index returns for a request: everything but the trace ids it was committed with. */
      const plain = (request: ArchivedRequest): ArchivedRequest => {
        const { traceIds: _, ...rest } = request;
        return rest;
      };

      it('finds every request holding a trace, across objects, in id order, as complete rows', async () => {
        const a = withTraces(makeObject('acme', 'traces', [{ services: ['checkout'] }, {}, {}]), [[T1, T2], [T2], [T1, T1]]);
        const b = withTraces(makeObject('acme', 'traces', [{}, { services: ['cart', 'db'] }]), [[T3], [T1]]);
        await commit(a, b);
        const found = async (trace: string): Promise<ArchivedRequest[]> => index.findTraceRequests(trace);
        expect(await found(T1)).toEqual([a.requests[0]!, a.requests[2]!, b.requests[1]!].map(plain));
        expect(await found(T2)).toEqual([a.requests[0]!, a.requests[1]!].map(plain));
        expect(await found(T3)).toEqual([plain(b.requests[0]!)]);
        expect((await found(T3))[0]!.traceIds).toBeUndefined();
        expect(await found('11111111111111111111111111111111')).toEqual([]);
      });

      it('a tenant filter sees only that tenant', async () => {
        const acme = withTraces(makeObject('acme', 'traces', [{}]), [[T1]]);
        const globex = withTraces(makeObject('globex', 'traces', [{}, {}]), [[T1], [T2]]);
        await commit(acme, globex);
        expect(await index.findTraceRequests(T1, { tenant: 'globex' })).toEqual([plain(globex.requests[0]!)]);
        expect(await index.findTraceRequests(T1, { tenant: 'acme' })).toEqual([plain(acme.requests[0]!)]);
        expect(await index.findTraceRequests(T2, { tenant: 'acme' })).toEqual([]);
        expect(await index.findTraceRequests(T1, { tenant: 'initech' })).toEqual([]);
        expect(await index.findTraceRequests(T1)).toHaveLength(2);
      });

      it('committing an object again finds each request once', async () => {
        const a = withTraces(makeObject('acme', 'traces', [{}, {}]), [[T1], [T1, T2]]);
        await commit(a, a, a);
        expect(await index.findTraceRequests(T1)).toEqual(a.requests.map(plain));
        expect(await index.findTraceRequests(T2)).toEqual([plain(a.requests[1]!)]);
      });

      it('requests committed without trace ids have no trace rows; many trace ids per request are all found', async () => {
        const logs = makeObject('acme', 'logs', [{}]);
        const many = Array.from({ length: 3000 }, (_, i) => i.toString(16).padStart(32, '0'));
        const traces = withTraces(makeObject('acme', 'traces', [{}, {}]), [many, []]);
        await commit(logs, traces);
        expect(await index.findTraceRequests(T1)).toEqual([]);
        for (const id of [many[0]!, many[1234]!, many[2999]!]) expect(await index.findTraceRequests(id)).toEqual([plain(traces.requests[0]!)]);
      });

      it('rejects a trace id that is not 32 lowercase hex digits', async () => {
        await expect(index.findTraceRequests(T1.toUpperCase())).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(index.findTraceRequests('abc')).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(index.findTraceRequests(`'${T1.slice(1)}`)).rejects.toBeInstanceOf(InvalidArgumentError);
      });

      it('a second connection finds what the first commits', async () => {
        const reader = await another();
        const a = withTraces(makeObject('acme', 'traces', [{}, {}]), [[T2], [T3]]);
        await commit(a);
        expect(await reader.findTraceRequests(T2)).toEqual([plain(a.requests[0]!)]);
        expect(await reader.findTraceRequests(T3, { tenant: 'acme' })).toEqual([plain(a.requests[1]!)]);
      });
    });

    describe('retention', () => {
      const T1 = '0af7651916cd43dd8448eb211c80319c';
      const T2 = '4bf92f3577b34da6a3ce929d0e0e4736';
      /** What an index returns for a request: everything but the trace ids it was committed with. */
      const plain = (request: ArchivedRequest): ArchivedRequest => {
        const { traceIds: _, ...rest } = request;
        return rest;
      };
      const withTrace = (built: ReturnType<typeof makeObject>, traceId: string): ReturnType<typeof makeObject> => ({
        object: built.object,
        requests: built.requests.map((request) => ({ ...request, traceIds: [traceId] })),
      });
      const settle = async (): Promise<void> => fixture.settle?.();
      /** The object moved to `key` and re-compressed: new offsets, lengths, codec and CRC for every request. */
      const moved = (built: ReturnType<typeof makeObject>, key: string): { object: ObjectMeta; requests: ArchivedRequest[] } => {
        const requests = built.requests.map((r, i) => ({ ...plain(r), objectKey: key, offset: 40 + i * 7, length: r.length - 3, codec: 'brotli' as const, crc32: (r.crc32 + 1) >>> 0 }));
        return { object: { ...built.object, key, codec: 'brotli', storedBytes: built.object.storedBytes - 99 }, requests };
      };
      const archived = (key: string): string => `${ARCHIVE_KEY_PREFIX}s3/archive-bucket/${key}`;

      it('getObject returns one object row exactly, or null', async () => {
        const a = makeObject('acme', 'traces', [{}, {}]);
        const b = makeObject('acme', 'logs', [{}]);
        await commit(a, b);
        expect(await index.getObject(a.object.key)).toEqual(a.object);
        expect(await index.getObject(b.object.key)).toEqual(b.object);
        expect(await index.getObject(`${a.object.key}x`)).toBeNull();
        expect(await index.getObject('')).toBeNull();
        expect(await (await another()).getObject(a.object.key)).toEqual(a.object);
      });

      it('listObjects: newestBeforeMs is on the seal time (data stamped later does not hold an object back); minStoredBytes is inclusive', async () => {
        const cutoff = 1_800_000_000_000;
        const ns = (ms: number): bigint => BigInt(ms) * 1_000_000n;
        const shape = (sealedAtMs: number, endNs: bigint, storedBytes: number): ReturnType<typeof makeObject> => {
          const built = makeObject('acme', 'traces', [{ startNs: endNs - 10n, endNs }], sealedAtMs - 1000);
          return { object: { ...built.object, sealedAtMs, endNs, startNs: endNs - 10n, storedBytes }, requests: built.requests };
        };
        const old = shape(cutoff - 10_000, ns(cutoff - 20_000), 1000);
        const justBefore = shape(cutoff - 1, ns(cutoff) - 1n, 5000);
        const sealedAtCutoff = shape(cutoff, ns(cutoff - 20_000), 5000);
        const dataAtCutoff = shape(cutoff - 10_000, ns(cutoff), 5000);
        const dataInFuture = shape(cutoff - 10_000, 2n ** 63n - 1n, 5000);
        const sealedLater = shape(cutoff + 5, ns(cutoff - 20_000), 5000);
        await commit(old, justBefore, sealedAtCutoff, dataAtCutoff, dataInFuture, sealedLater);
        const keys = (objects: ObjectMeta[]): string[] => objects.map((o) => o.key);
        const sorted = (...built: ReturnType<typeof makeObject>[]): string[] => built.map((b) => b.object.key).sort();
        expect(keys(await index.listObjects({ newestBeforeMs: cutoff }))).toEqual(sorted(old, justBefore, dataAtCutoff, dataInFuture));
        expect(keys(await index.listObjects({ newestBeforeMs: cutoff, minStoredBytes: 1001 }))).toEqual(sorted(justBefore, dataAtCutoff, dataInFuture));
        expect(keys(await index.listObjects({ minStoredBytes: 5000 }))).toEqual(sorted(justBefore, sealedAtCutoff, dataAtCutoff, dataInFuture, sealedLater));
        expect(keys(await index.listObjects({ minStoredBytes: 1000 }))).toHaveLength(6);
        expect(await index.listObjects({ minStoredBytes: 5001 })).toEqual([]);
        expect(keys(await index.listObjects({ newestBeforeMs: cutoff + 6 }))).toHaveLength(6);
        expect(keys(await index.listObjects({ newestBeforeMs: cutoff, tenant: 'acme', signal: 'traces', limit: 1 }))).toEqual(sorted(old, justBefore, dataAtCutoff, dataInFuture).slice(0, 1));
        expect(await index.listObjects({ newestBeforeMs: cutoff, tenant: 'globex' })).toEqual([]);
        expect(await index.listObjects({ newestBeforeMs: 0 })).toEqual([]);
      });

      it('deleteObject removes the object and every request row pointing at it, from every read; others stay', async () => {
        const a = withTrace(makeObject('acme', 'traces', [{ services: ['gone'] }, { services: ['gone', 'kept'] }, {}]), T1);
        const b = withTrace(makeObject('acme', 'traces', [{ services: ['kept'] }]), T1);
        const c = makeObject('acme', 'logs', [{ services: ['gone'] }]);
        await commit(a, b, c);
        await settle();
        const reader = await another();
        const aIds = a.requests.map((r) => r.id);
        // An id of b passed along with a's: only rows pointing at a's key are removed.
        await index.deleteObject(a.object.key, [...aIds, b.requests[0]!.id]);
        for (const store of [index, reader]) {
          expect(await store.getObject(a.object.key)).toBeNull();
          expect(await store.listObjects({})).toEqual([b.object, c.object].sort((x, y) => (x.key < y.key ? -1 : 1)));
          for (const id of aIds) expect(await store.getRequest(id)).toBeNull();
          expect(await store.listRequests({})).toEqual([...b.requests, ...c.requests].map(plain));
          expect(await store.listRequests({ service: 'gone' })).toEqual([plain(c.requests[0]!)]);
          expect(await store.listRequests({ service: 'kept' })).toEqual([plain(b.requests[0]!)]);
          expect(await store.findTraceRequests(T1)).toEqual([plain(b.requests[0]!)]);
          expect(await store.knownRequestIds([...aIds, b.requests[0]!.id])).toEqual(new Set([b.requests[0]!.id]));
          expect(await store.countRequests({})).toBe(2);
          expect(await store.countRequests({ service: 'gone' })).toBe(1);
          expect(await store.countRequests({ tenant: 'acme', signal: 'traces' })).toBe(1);
        }
        // Idempotent, also for a key that never existed.
        await index.deleteObject(a.object.key, aIds);
        await index.deleteObject(a.object.key);
        await index.deleteObject('never/existed.otlpc');
        expect(await index.listRequests({})).toEqual([...b.requests, ...c.requests].map(plain));
        expect(await index.getObject(b.object.key)).toEqual(b.object);
      });

      it('a deleted object stays deleted when it is committed again later (e.g. a reindex that read it just before)', async () => {
        const a = withTrace(makeObject('acme', 'traces', [{}, {}]), T2);
        const b = makeObject('acme', 'traces', [{}]);
        await commit(a, b);
        await settle();
        await index.deleteObject(a.object.key, a.requests.map((r) => r.id));
        await commit(a);
        await settle();
        expect(await index.getObject(a.object.key)).toBeNull();
        expect(await index.listObjects({})).toEqual([b.object]);
        expect(await index.listRequests({})).toEqual(b.requests);
        expect(await index.getRequest(a.requests[0]!.id)).toBeNull();
        expect(await index.findTraceRequests(T2)).toEqual([]);
      });

      it('replaceObject moves every request to the new location, leaves rows pointing elsewhere, retires the old row; idempotent', async () => {
        const a = withTrace(makeObject('acme', 'traces', [{ services: ['checkout'] }, {}, { services: ['cart'] }]), T1);
        const b = withTrace(makeObject('acme', 'traces', [{ services: ['cart'] }]), T2);
        await commit(a, b);
        await settle();
        const reader = await another();
        const next = moved(a, archived(a.object.key));
        // b's request listed too, as if it had been in the old object: its row points at b, so it stays there.
        const strayOfB = { ...plain(b.requests[0]!), objectKey: next.object.key, offset: 9999 };
        for (let run = 0; run < 2; run++) {
          await index.replaceObject(a.object.key, next.object, [...next.requests, strayOfB]);
          for (const store of [index, reader]) {
            for (const r of next.requests) expect(await store.getRequest(r.id)).toEqual(r);
            expect(await store.getRequest(b.requests[0]!.id)).toEqual(plain(b.requests[0]!));
            expect(await store.getObject(a.object.key)).toBeNull();
            expect(await store.getObject(next.object.key)).toEqual(next.object);
            expect(await store.listObjects({})).toEqual([next.object, b.object].sort((x, y) => (x.key < y.key ? -1 : 1)));
            expect(await store.listRequests({})).toEqual([...next.requests, plain(b.requests[0]!)]);
            expect(await store.listRequests({ service: 'cart' })).toEqual([next.requests[2]!, plain(b.requests[0]!)]);
            expect(await store.findTraceRequests(T1)).toEqual(next.requests);
            expect(await store.findTraceRequests(T2)).toEqual([plain(b.requests[0]!)]);
            expect(await store.knownRequestIds(next.requests.map((r) => r.id))).toEqual(new Set(next.requests.map((r) => r.id)));
            expect(await store.countRequests({})).toBe(4);
            expect(await store.countRequests({ service: 'cart' })).toBe(2);
          }
        }
        // A late re-commit of the old object (a reindex that read it before it moved) changes nothing.
        await commit(a);
        await settle();
        expect(await index.getObject(a.object.key)).toBeNull();
        expect(await index.listRequests({})).toEqual([...next.requests, plain(b.requests[0]!)]);
        expect(await index.findTraceRequests(T1)).toEqual(next.requests);
        // The retired key never takes an object again.
        await expect(index.replaceObject(b.object.key, { ...b.object, key: a.object.key }, [{ ...plain(b.requests[0]!), objectKey: a.object.key }])).rejects.toBeInstanceOf(
          InvalidArgumentError,
        );
        expect(await index.getRequest(b.requests[0]!.id)).toEqual(plain(b.requests[0]!));
        // The new object can itself be deleted later (archive, then delete after a longer time).
        await index.deleteObject(next.object.key, next.requests.map((r) => r.id));
        expect(await index.listRequests({})).toEqual([plain(b.requests[0]!)]);
        expect(await index.listObjects({})).toEqual([b.object]);
      });

      it('replaceObject with removedIds (dedup): the kept move, the removed lose their rows everywhere, others stay; idempotent; refusals', async () => {
        const a = withTrace(makeObject('acme', 'traces', [{ services: ['gone'] }, { services: ['kept'] }, { services: ['gone'] }]), T1);
        const b = makeObject('acme', 'traces', [{ services: ['gone'] }]);
        await commit(a, b);
        await settle();
        const reader = await another();
        // The first and the last go (the ends of the object's id range), the middle one moves.
        const removed = [a.requests[0]!.id, a.requests[2]!.id];
        const whole = moved(a, `${a.object.key.replace(/\.otlpc$/, '')}.d1.otlpc`);
        const next = { object: { ...whole.object, requestCount: 1 }, requests: [whole.requests[1]!] };
        // Refused before anything changes: an id both moved and removed; removal under the same key.
        await expect(index.replaceObject(a.object.key, next.object, next.requests, [next.requests[0]!.id])).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(index.replaceObject(a.object.key, { ...a.object }, [plain(a.requests[1]!)], removed)).rejects.toBeInstanceOf(InvalidArgumentError);
        expect(await index.listRequests({})).toEqual([...a.requests, ...b.requests].map(plain));
        for (let run = 0; run < 2; run++) {
          await index.replaceObject(a.object.key, next.object, next.requests, [...removed, b.requests[0]!.id]);
          for (const store of [index, reader]) {
            for (const id of removed) expect(await store.getRequest(id)).toBeNull();
            expect(await store.getRequest(next.requests[0]!.id)).toEqual(next.requests[0]);
            expect(await store.getObject(a.object.key)).toBeNull();
            expect(await store.getObject(next.object.key)).toEqual(next.object);
            // b's request was named among the removed ids but points at b: it stays.
            expect(await store.listRequests({})).toEqual([next.requests[0]!, plain(b.requests[0]!)]);
            expect(await store.listRequests({ service: 'gone' })).toEqual([plain(b.requests[0]!)]);
            expect(await store.findTraceRequests(T1)).toEqual(next.requests);
            expect(await store.knownRequestIds([...removed, next.requests[0]!.id])).toEqual(new Set([next.requests[0]!.id]));
            expect(await store.countRequests({})).toBe(2);
            expect(await store.countRequests({ tenant: 'acme', signal: 'traces' })).toBe(2);
            expect(await store.countRequests({ service: 'gone' })).toBe(1);
          }
        }
        // A late re-commit of the old object brings none of them back.
        await commit(a);
        await settle();
        expect(await index.listRequests({})).toEqual([next.requests[0]!, plain(b.requests[0]!)]);
      });

      it('replaceObject onto the same key (rewritten in place) updates the object row and every location', async () => {
        const a = makeObject('acme', 'logs', [{}, {}]);
        await commit(a);
        await settle();
        const next = moved(a, a.object.key);
        await index.replaceObject(a.object.key, next.object, next.requests);
        expect(await index.getObject(a.object.key)).toEqual(next.object);
        expect(await index.listObjects({})).toEqual([next.object]);
        expect(await index.listRequests({})).toEqual(next.requests);
        for (const r of next.requests) expect(await index.getRequest(r.id)).toEqual(r);
      });

      it('replaceObject refuses requests located outside the new object', async () => {
        const a = makeObject('acme', 'logs', [{}]);
        await commit(a);
        await settle();
        await expect(index.replaceObject(a.object.key, { ...a.object, key: archived(a.object.key) }, a.requests)).rejects.toBeInstanceOf(InvalidArgumentError);
        expect(await index.getRequest(a.requests[0]!.id)).toEqual(a.requests[0]);
        expect(await index.listObjects({})).toEqual([a.object]);
      });

      it('a read-only connection refuses every retention write', async () => {
        const a = makeObject('acme', 'logs', [{}]);
        await commit(a);
        await settle();
        const reader = await another();
        if (!reader.describe().includes('read-only')) return; // this fixture's second connection writes
        await expect(reader.deleteObject(a.object.key)).rejects.toBeInstanceOf(InvalidArgumentError);
        const next = moved(a, archived(a.object.key));
        await expect(reader.replaceObject(a.object.key, next.object, next.requests)).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(reader.commitObject(a.object, a.requests)).rejects.toBeInstanceOf(InvalidArgumentError);
        expect(await index.getObject(a.object.key)).toEqual(a.object);
        expect(await index.getRequest(a.requests[0]!.id)).toEqual(a.requests[0]);
      });
    });

    it('a second connection reads what the first commits, and never sees half an object', async () => {
      const reader = await another();
      expect(await reader.listRequests({})).toEqual([]);
      const objects = Array.from({ length: 6 }, () => makeObject('acme', 'traces', Array.from({ length: 400 }, () => ({}))));
      const sizes = new Set(objects.map((o) => o.object.key));
      const observations: number[][] = [];
      let writing = true;
      const polling = (async () => {
        while (writing) {
          const seen = await reader.listRequests({ limit: 5000 });
          const perObject = new Map<string, number>();
          for (const r of seen) perObject.set(r.objectKey, (perObject.get(r.objectKey) ?? 0) + 1);
          observations.push([...perObject.values()]);
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      })();
      for (const o of objects) {
        await index.commitObject(o.object, o.requests);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      writing = false;
      await polling;
      expect(observations.length).toBeGreaterThan(0);
      for (const counts of observations) expect(counts.every((n) => n === 400)).toBe(true);
      expect(await reader.listRequests({ limit: 5000 })).toHaveLength(2400);
      expect(new Set((await reader.listObjects({})).map((o) => o.key))).toEqual(sizes);
      expect(await reader.knownRequestIds([objects[5]!.requests[0]!.id])).toEqual(new Set([objects[5]!.requests[0]!.id]));
    });

    it('keeps quarantine records: read back by id (also by another connection), the latest reason winning', async () => {
      const built = makeObject('acme', 'logs', [{}, {}, {}]);
      await commit(built);
      const [a, b, c] = built.requests as [ArchivedRequest, ArchivedRequest, ArchivedRequest];
      await index.quarantineRequests([
        { id: a.id, reason: 'block at offset 28 of x.otlpc fails its CRC-32 check', atMs: 1_000 },
        { id: b.id, reason: 'archive object x.otlpc is missing', atMs: 2_000 },
      ]);
      await index.quarantineRequests([{ id: a.id, reason: 'block at offset 28 of x.otlpc does not decompress', atMs: 3_000 }]);
      await index.quarantineRequests([]);
      const reader = await another();
      const expected = new Map([
        [a.id, { id: a.id, reason: 'block at offset 28 of x.otlpc does not decompress', atMs: 3_000 }],
        [b.id, { id: b.id, reason: 'archive object x.otlpc is missing', atMs: 2_000 }],
      ]);
      expect(await reader.quarantinedRequests([a.id, b.id, c.id, '01ZZZZZZZZZZZZZZZZZZZZZZZZ'])).toEqual(expected);
      expect(await index.quarantinedRequests([c.id])).toEqual(new Map());
      // The rows themselves are left as they are.
      expect(await index.listRequests({})).toEqual(built.requests);
      if (reader.describe().includes('read-only')) {
        await expect(reader.quarantineRequests([{ id: c.id, reason: 'x', atMs: 1 }])).rejects.toBeInstanceOf(InvalidArgumentError);
      }
    });
  });
}
