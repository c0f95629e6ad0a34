// ClickHouseIndexStore against both engines it must work on — a real ClickHouse 18.16 (Debian's clickhouse-server,
// started by scripts/start-clickhouse.sh) and a current ClickHouse (chdb behind scripts/chdb-http-server.mjs) — with
// the same adapter code: the IndexStore contract, exact reads over unmerged duplicates, hostile strings, batching
// thresholds, the outbox across an outage and a restart, one-line start-up errors, retention removing rows, paging
// while rows are inserted, and the migration of a version-3 index with its data.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BackendUnavailableError, InvalidArgumentError } from '../../src/errors.js';
import { ClickHouseIndexStore, type ClickHouseIndexStoreOptions } from '../../src/index/clickhouse-index-store.js';
import { LEGACY_MIGRATIONS, SCHEMA_VERSION } from '../../src/index/clickhouse-schema.js';
import { literal } from '../../src/index/clickhouse-sql.js';
import { objectRow, requestRow } from '../../src/index/clickhouse-rows.js';
import type { ArchivedRequest, ObjectMeta } from '../../src/model.js';
import { CLICKHOUSE_ENGINES } from '../helpers/chdb-server.js';
import { freePort, type ClickHouseServer } from '../helpers/clickhouse-server.js';
import { waitFor } from '../helpers/wait.js';
import { describeIndexStoreContract, makeObject } from './index-store-contract.js';

let databases = 0;
const tempDirs: string[] = [];

afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ch-index-'));
  tempDirs.push(dir);
  return dir;
}

function newDatabase(): string {
  return `test_${process.pid}_${++databases}`;
}

describe.each(CLICKHOUSE_ENGINES)('$name', (engine) => {
let server: ClickHouseServer;

beforeAll(async () => {
  server = await engine.start();
}, 120_000);

afterAll(async () => {
  await server?.dispose();
});

function contractFixture(writer: Partial<ClickHouseIndexStoreOptions>, another: 'reader' | 'writer') {
  return async () => {
    const database = newDatabase();
    const outboxPath = path.join(tempDir(), 'index-outbox.sqlite');
    const base = { url: server.url, database, outboxPath };
    const index = new ClickHouseIndexStore({ ...base, ...writer });
    return {
      index,
      openAnother: async () =>
        another === 'reader' ? new ClickHouseIndexStore({ ...base, readonly: true }) : new ClickHouseIndexStore({ ...base, ...writer }),
      dispose: async () => server.command(`DROP DATABASE IF EXISTS ${database}`),
      settle: async () => {
        expect(await index.flushOutbox()).toBe(true);
      },
    };
  };
}

// Flushed within 20 ms: most reads are served by ClickHouse, some by the outbox, some by both at once.
describeIndexStoreContract(
  'ClickHouseIndexStore (writer flushing every 20 ms + read-only reader)',
  contractFixture({ batchIntervalMs: 20 }, 'reader'),
);
// Never flushed while the test runs: every read merges the outbox (only flushed at close).
describeIndexStoreContract(
  'ClickHouseIndexStore (rows held in the outbox + a second writer on it)',
  contractFixture({ batchIntervalMs: 3_600_000, batchRows: 100_000 }, 'writer'),
);

describe('ClickHouseIndexStore specifics', () => {
  const open: ClickHouseIndexStore[] = [];
  let database: string;
  let dir: string;

  function store(options: Partial<ClickHouseIndexStoreOptions> = {}): ClickHouseIndexStore {
    const s = new ClickHouseIndexStore({
      url: server.url,
      database,
      outboxPath: path.join(dir, 'index-outbox.sqlite'),
      batchIntervalMs: 20,
      ...options,
    });
    open.push(s);
    return s;
  }

  async function rawCount(table: string, final = false): Promise<number> {
    const [row] = await server.query<{ n: string }>(`SELECT count() AS n FROM ${database}.${table}${final ? ' FINAL' : ''}`);
    return Number(row!.n);
  }

  beforeEach(() => {
    database = newDatabase();
    dir = tempDir();
  });

  afterEach(async () => {
    if (!server.running) await server.start();
    for (const s of open.splice(0).reverse()) await s.close();
    await server.command(`DROP DATABASE IF EXISTS ${database}`);
  });

  it('creates the schema idempotently and records the applied migrations', async () => {
    await Promise.all([store().start(), store({ outboxPath: path.join(dir, 'other.sqlite') }).start()]);
    await store({ outboxPath: path.join(dir, 'third.sqlite') }).start();
    const tables = await server.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${database}' ORDER BY name`);
    expect(tables.map((t) => t.name)).toEqual(['objects', 'quarantined_requests', 'request_buckets', 'request_buckets_view', 'request_ids', 'request_ids_view', 'request_services', 'request_services_view', 'requests', 'retired_objects', 'schema_migrations', 'trace_requests']);
    const versions = await server.query<{ v: string }>(`SELECT DISTINCT toString(version) AS v FROM ${database}.schema_migrations ORDER BY v`);
    expect(versions.map((v) => Number(v.v))).toEqual([1, 2, 3, 4, 5]);
    expect(SCHEMA_VERSION).toBe(5);
    const engines = await server.query<{ engine: string }>(`SELECT engine FROM system.tables WHERE database = '${database}'`);
    expect(new Set(engines.map((e) => e.engine))).toEqual(new Set(['ReplacingMergeTree', 'AggregatingMergeTree', 'MaterializedView']));
    // Partitions of ~3 days of receipt, keys that start with the everyday filters.
    const keys = await server.query<{ name: string; partition_key: string; sorting_key: string }>(
      `SELECT name, partition_key, sorting_key FROM system.tables WHERE database = '${database}' AND name IN ('requests', 'request_ids', 'request_services') ORDER BY name`,
    );
    expect(keys.map((k) => [k.name, k.partition_key.replace(/\s/g, ''), k.sorting_key.replace(/\s/g, '')])).toEqual([
      ['request_ids', 'substring(id,1,4)', 'id'],
      ['request_services', 'substring(id,1,4)', 'service,id'],
      ['requests', 'substring(id,1,4)', 'tenant,signal,id'],
    ]);
    const dialect = store({ readonly: true });
    await dialect.start();
    expect(dialect.dialect?.name).toBe(engine.name.includes('18.16') ? 'legacy' : 'current');
  });

  it('reads exactly once what ClickHouse holds several times, before any merge', async () => {
    await server.command(`SYSTEM STOP MERGES`);
    try {
      const built = makeObject('acme', 'traces', Array.from({ length: 50 }, (_, i) => ({ services: [`s${i % 3}`] })));
      // Three writers with their own outboxes commit the same object: three inserts, three parts.
      for (const name of ['a', 'b', 'c']) {
        const s = store({ outboxPath: path.join(dir, `${name}.sqlite`) });
        await s.start();
        await s.commitObject(built.object, built.requests);
        await s.close();
      }
      expect(await rawCount('requests')).toBe(150);
      expect(await rawCount('objects')).toBe(3);
      const reader = store({ readonly: true, outboxPath: path.join(dir, 'none.sqlite') });
      await reader.start();
      expect(await reader.listRequests({})).toEqual(built.requests);
      expect(await reader.listRequests({ service: 's1' })).toEqual(built.requests.filter((_, i) => i % 3 === 1));
      expect(await reader.listObjects({})).toEqual([built.object]);
      expect(await reader.getRequest(built.requests[7]!.id)).toEqual(built.requests[7]);
      expect(await reader.knownRequestIds(built.requests.map((r) => r.id))).toEqual(new Set(built.requests.map((r) => r.id)));
    } finally {
      await server.command(`SYSTEM START MERGES`);
    }
  });

  it('round-trips hostile strings through ClickHouse, and the tables survive them', async () => {
    const hostile = [
      "'",
      "''",
      '\\',
      "\\'",
      'ends with a backslash\\',
      'nul \0 inside',
      'line\nfeed\r\ncrlf',
      'tab\there',
      '\x1b[31mescape\x7f',
      "'; DROP TABLE requests; --",
      `'); DROP DATABASE ${database}; --`,
      '" ` {x:String} ? $1 %s',
      'unicode: Grüße, 日本語, عربى, 👍🏽, e\u0301',
      'x'.repeat(20_000),
    ];
    const writer = store({ batchIntervalMs: 3_600_000 });
    await writer.start();
    const objects: { object: ObjectMeta; requests: ArchivedRequest[] }[] = [];
    for (const [i, text] of hostile.entries()) {
      const built = makeObject(`tenant-${i}`, 'logs', [{ services: [text, 'plain'] }, { services: [] }]);
      // Hostile object key and request id, too: every string column.
      const key = `${built.object.key}/${text}`;
      const object = { ...built.object, key, tenant: text };
      const requests = built.requests.map((r, j) => ({ ...r, id: `${r.id}${j === 0 ? text : ''}`, objectKey: key, tenant: text }));
      objects.push({ object, requests });
      await writer.commitObject(object, requests);
    }
    await writer.close(); // flushes everything to ClickHouse
    expect(await rawCount('requests')).toBe(hostile.length * 2);

    // A reader without the outbox: every answer below comes from ClickHouse, through `literal`.
    const reader = store({ readonly: true, outboxPath: path.join(dir, 'absent.sqlite') });
    await reader.start();
    for (const [i, text] of hostile.entries()) {
      const { object, requests } = objects[i]!;
      expect(await reader.getRequest(requests[0]!.id)).toEqual(requests[0]);
      expect(await reader.listRequests({ service: text })).toEqual([requests[0]]);
      expect(await reader.listRequests({ tenant: text })).toEqual(requests);
      expect(await reader.listObjects({ tenant: text })).toEqual([object]);
      expect(await reader.knownRequestIds([requests[0]!.id, `${text}-absent`])).toEqual(new Set([requests[0]!.id]));
      const [echo] = await server.query<{ v: string }>(`SELECT ${literal(text)} AS v`);
      expect(echo!.v).toBe(text);
    }
    const tables = await server.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${database}' ORDER BY name`);
    expect(tables.map((t) => t.name)).toEqual(['objects', 'quarantined_requests', 'request_buckets', 'request_buckets_view', 'request_ids', 'request_ids_view', 'request_services', 'request_services_view', 'requests', 'retired_objects', 'schema_migrations', 'trace_requests']);
  });

  it('inserts in batches: at batchRows rows, or when the oldest row has waited batchInterval', async () => {
    const bySize = store({ batchRows: 1000, batchIntervalMs: 3_600_000 });
    await bySize.start();
    const first = makeObject('acme', 'traces', Array.from({ length: 998 }, () => ({})));
    await bySize.commitObject(first.object, first.requests); // 998 requests + 1 object row
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await rawCount('requests')).toBe(0);
    expect(bySize.outboxStatus()).toMatchObject({ objects: 1, requests: 998 });
    const second = makeObject('acme', 'traces', [{}]);
    await bySize.commitObject(second.object, second.requests); // now 1001 rows
    await waitFor('the size-triggered batch', async () => (bySize.outboxStatus().objects === 0 ? true : undefined), 5000, 20);
    expect(bySize.outboxStatus()).toMatchObject({ objects: 0, requests: 0, lagMs: 0 });
    expect(await rawCount('requests')).toBe(999);
    expect(await rawCount('objects')).toBe(2);
    await bySize.close();

    database = newDatabase();
    const byAge = store({ batchRows: 100_000, batchIntervalMs: 700, outboxPath: path.join(dir, 'age.sqlite') });
    await byAge.start();
    const small = makeObject('acme', 'logs', Array.from({ length: 10 }, () => ({})));
    const committedAt = Date.now();
    await byAge.commitObject(small.object, small.requests);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await rawCount('requests')).toBe(0);
    expect(byAge.outboxStatus().lagMs).toBeGreaterThanOrEqual(250);
    await waitFor('the age-triggered batch', async () => ((await rawCount('requests')) === 10 ? true : undefined), 5000, 20);
    expect(Date.now() - committedAt).toBeGreaterThanOrEqual(650);
  });

  it('a reader without the outbox sees commits once flushed (lag ≤ batchInterval)', async () => {
    const writer = store({ batchIntervalMs: 400 });
    await writer.start();
    const reader = store({ readonly: true, outboxPath: path.join(dir, 'elsewhere.sqlite') });
    await reader.start();
    const built = makeObject('acme', 'metrics', [{}, {}]);
    await writer.commitObject(built.object, built.requests);
    expect(await writer.listRequests({})).toEqual(built.requests); // its own outbox
    expect(await reader.listRequests({})).toEqual([]);
    const seen = await waitFor('the reader to see the flushed rows', async () => {
      const rows = await reader.listRequests({});
      return rows.length > 0 ? rows : undefined;
    }, 5000, 20);
    expect(seen).toEqual(built.requests);
  });

  it('keeps commits in the outbox through an outage and a restart, then writes each row exactly once', async () => {
    const first = store({ batchIntervalMs: 50 });
    await first.start();
    const before = makeObject('acme', 'traces', [{}, {}, {}]);
    await first.commitObject(before.object, before.requests);
    // The whole batch (requests, then trace and object rows): the outbox lets go of it only after its last insert.
    await waitFor('rows before the outage', async () => ((await rawCount('requests')) === 3 && first.outboxStatus().objects === 0 ? true : undefined), 5000, 20);

    await server.stop();
    const during = Array.from({ length: 5 }, () => makeObject('acme', 'logs', Array.from({ length: 40 }, () => ({}))));
    for (const built of during) await first.commitObject(built.object, built.requests); // resolves: durable locally
    expect(first.outboxStatus()).toMatchObject({ objects: 5, requests: 200 });
    await waitFor('the flusher to notice the outage', async () => (first.outboxStatus().backendAvailable ? undefined : true), 5000, 20);
    // Its own commits stay readable from the outbox; ClickHouse is needed for the rest.
    expect(await first.getRequest(during[2]!.requests[5]!.id)).toEqual(during[2]!.requests[5]);
    await expect(first.listRequests({})).rejects.toBeInstanceOf(BackendUnavailableError);
    await first.close(); // cannot flush: the rows stay queued

    // A new process on the same outbox, ClickHouse still down: start() still works (buffering mode).
    const second = store({ batchIntervalMs: 50, bufferWhenUnavailable: true });
    await second.start();
    expect(second.notReadyReason()).toMatch(/unreachable/);
    expect(second.outboxStatus()).toMatchObject({ objects: 5, requests: 200, backendAvailable: false });
    expect(await second.knownRequestIds([during[4]!.requests[39]!.id])).toEqual(new Set([during[4]!.requests[39]!.id]));

    await server.start();
    await waitFor('the outbox to drain', async () => (second.outboxStatus().requests === 0 ? true : undefined), 30_000, 50);
    expect(second.notReadyReason()).toBeNull();
    expect(second.outboxStatus().backendAvailable).toBe(true);
    // Exactly once: no duplicate rows even before any merge or FINAL.
    expect(await rawCount('requests')).toBe(203);
    expect(await rawCount('objects')).toBe(6);
    const all = [before, ...during].flatMap((b) => b.requests).sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(await second.listRequests({ limit: 1000 })).toEqual(all);
  }, 90_000);

  it('trace rows travel with their object: queued with it, inserted in its batch, found before and after, once', async () => {
    const T1 = '5b8efff798038103d269b633813fc60c';
    const T2 = 'c0ffee00c0ffee00c0ffee00c0ffee00';
    const withTraces = (built: ReturnType<typeof makeObject>, traces: string[][]) => ({
      object: built.object,
      requests: built.requests.map((r, i) => ({ ...r, traceIds: traces[i]! })),
    });
    const ids = (rs: ArchivedRequest[]): string[] => rs.map((r) => r.id);
    const writer = store({ batchIntervalMs: 3_600_000, batchRows: 100_000 });
    await writer.start();
    const a = withTraces(makeObject('acme', 'traces', [{}, {}]), [[T1], [T1, T2]]);
    const b = withTraces(makeObject('globex', 'traces', [{}]), [[T1]]);
    await writer.commitObject(a.object, a.requests);
    await writer.commitObject(b.object, b.requests);
    // Only in the outbox so far: found by the writer and by a reader of the same outbox, not by one without it.
    expect(await rawCount('trace_requests')).toBe(0);
    const sameHost = store({ readonly: true });
    await sameHost.start();
    const otherHost = store({ readonly: true, outboxPath: path.join(dir, 'absent.sqlite') });
    await otherHost.start();
    expect(ids(await writer.findTraceRequests(T1))).toEqual([...ids(a.requests), ...ids(b.requests)]);
    expect(ids(await sameHost.findTraceRequests(T1, { tenant: 'acme' }))).toEqual(ids(a.requests));
    expect(await otherHost.findTraceRequests(T1)).toEqual([]);

    // Flushed (close writes out the outbox): every row once in ClickHouse, found from there alone.
    await writer.close();
    expect(await rawCount('trace_requests')).toBe(4);
    expect(ids(await otherHost.findTraceRequests(T1))).toEqual([...ids(a.requests), ...ids(b.requests)]);
    expect(ids(await otherHost.findTraceRequests(T2))).toEqual([a.requests[1]!.id]);
    expect(ids(await otherHost.findTraceRequests(T1, { tenant: 'globex' }))).toEqual(ids(b.requests));
    expect(await otherHost.findTraceRequests(T2, { tenant: 'globex' })).toEqual([]);

    // The same object committed again (a reindex, a retried batch): duplicates in ClickHouse, each request found once.
    const again = store({ outboxPath: path.join(dir, 'again.sqlite') });
    await again.start();
    await again.commitObject(a.object, a.requests);
    expect(ids(await again.findTraceRequests(T1))).toEqual([...ids(a.requests), ...ids(b.requests)]); // outbox + ClickHouse
    await again.close();
    expect(await rawCount('trace_requests')).toBe(7);
    expect(await otherHost.findTraceRequests(T2)).toEqual([a.requests[1]!].map(({ traceIds: _, ...r }) => r));
    // Bad ids never reach SQL.
    await expect(otherHost.findTraceRequests("' OR 1=1 --")).rejects.toBeInstanceOf(InvalidArgumentError);
    const bad = store({ outboxPath: path.join(dir, 'bad.sqlite') });
    await bad.start();
    await expect(bad.commitObject(a.object, [{ ...a.requests[0]!, traceIds: ['XYZ'] }])).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(bad.outboxStatus().objects).toBe(0);
  });

  it('fails start-up with one clear line: unreachable, wrong password, no index', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const startError = async (s: ClickHouseIndexStore): Promise<Error> => {
      const error = await s.start().then(() => null, (e: unknown) => e as Error);
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect(error!.message).not.toContain('\n');
      return error!;
    };
    expect((await startError(store({ url: nowhere, readonly: true }))).message).toMatch(
      new RegExp(`ClickHouse at ${nowhere} is unreachable .*ECONNREFUSED`),
    );
    expect((await startError(store({ url: nowhere }))).message).toMatch(/unreachable/);
    expect(fs.existsSync(path.join(dir, 'index-outbox.sqlite'))).toBe(true); // the writer made its outbox…
    fs.rmSync(path.join(dir, 'index-outbox.sqlite'));
    await store({ url: nowhere, readonly: true, outboxPath: path.join(dir, 'index-outbox.sqlite') }).start().catch(() => undefined);
    expect(fs.existsSync(path.join(dir, 'index-outbox.sqlite'))).toBe(false); // …a reader never does

    const password = 'sekret-Pa55';
    const refused = await startError(store({ password, readonly: true }));
    expect(refused.message).toMatch(/refused user "default": .*password/i);
    expect(refused.message).not.toContain(password);
    const inUrl = await startError(store({ url: server.url.replace('http://', `http://default:${password}@`), readonly: true }));
    expect(inUrl.message).not.toContain(password);
    expect(store({ url: server.url.replace('http://', `http://default:${password}@`) }).describe()).not.toContain(password);

    expect((await startError(store({ readonly: true }))).message).toMatch(new RegExp(`no otlp-capture index in database ${database}`));

    // Serve's mode: starts, says why it is not ready, and becomes ready once ClickHouse answers.
    const buffering = store({ url: nowhere, bufferWhenUnavailable: true, outboxPath: path.join(dir, 'buffer.sqlite') });
    await buffering.start();
    expect(buffering.notReadyReason()).toMatch(/unreachable/);
    const built = makeObject('acme', 'traces', [{}]);
    await buffering.commitObject(built.object, built.requests);
    expect(await buffering.getRequest(built.requests[0]!.id)).toEqual(built.requests[0]);
  });

  describe('retention writes', () => {
    /** The object moved to `key`: new offsets and codec for every request. */
    const movedTo = (built: ReturnType<typeof makeObject>, key: string) => ({
      object: { ...built.object, key, codec: 'brotli' as const },
      requests: built.requests.map((r, i) => ({ ...r, objectKey: key, offset: 100 + i, codec: 'brotli' as const })),
    });
    /** Rows straight into ClickHouse, as a replaceObject that crashed after some of its inserts would leave them. */
    const insertRaw = async (table: string, rows: object[]): Promise<void> =>
      server.command(`INSERT INTO ${database}.${table} FORMAT JSONEachRow ${rows.map((row) => JSON.stringify(row)).join('\n')}`);

    it('refuse with BackendUnavailableError while the object is still queued in the outbox, then work once flushed', async () => {
      const writer = store({ batchIntervalMs: 3_600_000, batchRows: 100_000 });
      await writer.start();
      const a = makeObject('acme', 'traces', [{}, {}]);
      await writer.commitObject(a.object, a.requests);
      const next = movedTo(a, `_archive/s3/archive/${a.object.key}`);
      await expect(writer.deleteObject(a.object.key)).rejects.toBeInstanceOf(BackendUnavailableError);
      await expect(writer.replaceObject(a.object.key, next.object, next.requests)).rejects.toThrow(/still queued/);
      expect(await writer.getObject(a.object.key)).toEqual(a.object);
      expect(await rawCount('retired_objects')).toBe(0);
      expect(await writer.flushOutbox()).toBe(true);
      await writer.replaceObject(a.object.key, next.object, next.requests);
      expect(await writer.listRequests({})).toEqual(next.requests);
      await writer.deleteObject(next.object.key);
      expect(await writer.listRequests({})).toEqual([]);
      expect(await writer.listObjects({})).toEqual([]);
      const reader = store({ readonly: true, outboxPath: path.join(dir, 'absent.sqlite') });
      await reader.start();
      await expect(reader.deleteObject(a.object.key)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(reader.flushOutbox()).rejects.toBeInstanceOf(InvalidArgumentError);
    });

    it('replaceObject finishes what a crash left half done: new object row only, then also the moved request rows', async () => {
      const writer = store();
      await writer.start();
      const a = makeObject('acme', 'traces', [{}, {}, {}]);
      const b = makeObject('acme', 'traces', [{}, {}]);
      await writer.commitObject(a.object, a.requests);
      await writer.commitObject(b.object, b.requests);
      expect(await writer.flushOutbox()).toBe(true);
      const nextA = movedTo(a, `_archive/s3/archive/${a.object.key}`);
      const nextB = movedTo(b, `_archive/s3/archive/${b.object.key}`);
      // a: crashed after the new object row. b: crashed after the moved request rows, before retiring the old key.
      await insertRaw('objects', [objectRow(nextA.object), objectRow(nextB.object)]);
      await insertRaw('requests', nextB.requests.map(requestRow));
      // Readers meanwhile see every request at one location or the other, never missing.
      expect((await writer.listRequests({})).map((r) => r.id)).toEqual([...a.requests, ...b.requests].map((r) => r.id));
      await writer.replaceObject(a.object.key, nextA.object, nextA.requests);
      await writer.replaceObject(b.object.key, nextB.object, nextB.requests);
      expect(await writer.listRequests({})).toEqual([...nextA.requests, ...nextB.requests]);
      expect(await writer.listObjects({})).toEqual([nextA.object, nextB.object]);
      expect(await writer.getObject(a.object.key)).toBeNull();
      expect(await writer.getObject(b.object.key)).toBeNull();
    });

    it('a late re-commit of a moved object is dropped at flush, so it cannot win FINAL over the moved rows', async () => {
      await server.command('SYSTEM STOP MERGES');
      try {
        const writer = store();
        await writer.start();
        const a = makeObject('acme', 'logs', [{}, {}]);
        await writer.commitObject(a.object, a.requests);
        expect(await writer.flushOutbox()).toBe(true);
        const next = movedTo(a, `_archive/s3/archive/${a.object.key}`);
        await writer.replaceObject(a.object.key, next.object, next.requests);
        await writer.commitObject(a.object, a.requests); // e.g. a reindex that listed the object before it moved
        expect(await writer.flushOutbox()).toBe(true);
        // The moved rows, and the original ones until they are removed (at once on a current server, by a batched
        // mutation later on 18.16); the re-commit was dropped.
        const removedAtOnce = writer.dialect!.lightweightDelete;
        expect(await rawCount('requests')).toBe(removedAtOnce ? 2 : 4);
        expect(await rawCount('objects')).toBe(removedAtOnce ? 1 : 2);
        const reader = store({ readonly: true, outboxPath: path.join(dir, 'absent.sqlite') });
        await reader.start();
        expect(await reader.listRequests({})).toEqual(next.requests);
        expect(await reader.getRequest(a.requests[1]!.id)).toEqual(next.requests[1]);
        expect(await reader.listObjects({})).toEqual([next.object]);
      } finally {
        await server.command('SYSTEM START MERGES');
      }
    });
  });

  it('migrates a version-3 index with its data by copy: duplicates collapsed, retired rows left out, the rest as before', async () => {
    // A version-3 index: its tables made by the version 1-3 statements, rows in their shape, each inserted twice
    // (unmerged duplicates), one object retired by retention.
    await server.command(`CREATE DATABASE ${database}`);
    await server.command(
      `CREATE TABLE ${database}.schema_migrations (version UInt32, description String, applied_at_ms Int64) ENGINE = ReplacingMergeTree ORDER BY version`,
    );
    for (const migration of LEGACY_MIGRATIONS) for (const sql of migration.statements(database)) await server.command(sql);
    const T1 = '0af7651916cd43dd8448eb211c80319c';
    const a = makeObject('acme', 'traces', [{ services: ['checkout'] }, {}, { services: ['checkout', 'cart'] }]);
    const b = makeObject('globex', 'logs', [{ services: ['cart'], startNs: 10n, endNs: 20n }, {}]);
    const gone = makeObject('acme', 'traces', [{}]);
    const v3Request = (r: ArchivedRequest) => {
      const { fingerprint: _f, version: _v, ...row } = requestRow(r);
      return row;
    };
    const v3Object = (o: ObjectMeta) => {
      const { version: _v, ...row } = objectRow(o);
      return row;
    };
    const insertRaw = async (table: string, rows: object[]): Promise<void> =>
      server.command(`INSERT INTO ${database}.${table} FORMAT JSONEachRow ${rows.map((row) => JSON.stringify(row)).join('\n')}`);
    for (let copy = 0; copy < 2; copy++) {
      for (const built of [a, b, gone]) {
        await insertRaw('requests', built.requests.map(v3Request));
        await insertRaw('objects', [v3Object(built.object)]);
      }
      await insertRaw('trace_requests', a.requests.slice(0, 2).map((r) => ({ trace_id: T1, request_id: r.id, tenant: 'acme' })));
    }
    await insertRaw('retired_objects', [{ key: gone.object.key, retired_at_ms: '1' }]);
    await insertRaw('schema_migrations', [1, 2, 3].map((version) => ({ version, description: 'v3', applied_at_ms: '1' })));

    const reader = store({ readonly: true, outboxPath: path.join(dir, 'absent.sqlite') });
    await expect(reader.start()).rejects.toThrow(/schema version 3, expected 5: start the server once to migrate it/);
    open.splice(open.indexOf(reader), 1);
    const writer = store();
    await writer.start();
    await store({ outboxPath: path.join(dir, 'second.sqlite') }).start(); // a second start changes nothing

    const tables = await server.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${database}' ORDER BY name`);
    expect(tables.map((t) => t.name)).toEqual([...['objects', 'quarantined_requests', 'request_buckets', 'request_buckets_view', 'request_ids', 'request_ids_view', 'request_services', 'request_services_view', 'requests', 'retired_objects', 'schema_migrations', 'trace_requests'], 'objects_v3', 'requests_v3'].sort());
    const versions = await server.query<{ v: string }>(`SELECT DISTINCT toString(version) AS v FROM ${database}.schema_migrations ORDER BY v`);
    expect(versions.map((v) => Number(v.v))).toEqual([1, 2, 3, 4, 5]);
    expect(await rawCount('requests')).toBe(5); // one copy of each live request
    expect(await rawCount('requests_v3', true)).toBe(6); // the old table, kept as it was (merges may have collapsed copies)
    const migrated = store({ readonly: true, outboxPath: path.join(dir, 'absent.sqlite') });
    await migrated.start();
    const live = [...a.requests, ...b.requests].sort((x, y) => (x.id < y.id ? -1 : 1));
    expect(await migrated.listRequests({})).toEqual(live);
    expect(await migrated.listRequests({ newestFirst: true, limit: 2 })).toEqual([...live].reverse().slice(0, 2));
    expect(await migrated.listRequests({ service: 'cart' })).toEqual([a.requests[2], b.requests[0]].sort((x, y) => (x!.id < y!.id ? -1 : 1)));
    expect(await migrated.listRequests({ sinceNs: 15n, untilNs: 15n })).toEqual([b.requests[0]]);
    expect(await migrated.countRequests({})).toBe(5);
    expect(await migrated.countRequests({ service: 'checkout' })).toBe(2);
    expect(await migrated.countRequests({ tenant: 'acme', signal: 'traces' })).toBe(3);
    expect(await migrated.listObjects({})).toEqual([a.object, b.object].sort((x, y) => (x.key < y.key ? -1 : 1)));
    expect(await migrated.getRequest(gone.requests[0]!.id)).toBeNull();
    expect((await migrated.findTraceRequests(T1)).map((r) => r.id)).toEqual(a.requests.slice(0, 2).map((r) => r.id));
    // Written on from here as any version-4 index.
    const later = makeObject('acme', 'traces', [{ services: ['cart'] }]);
    await writer.commitObject(later.object, later.requests);
    expect(await writer.flushOutbox()).toBe(true);
    expect(await migrated.countRequests({ service: 'cart' })).toBe(3);
    expect((await migrated.listRequests({ newestFirst: true, limit: 1 }))[0]).toEqual(later.requests[0]);
  });

  it('migrates an empty version-3 index without keeping empty backups', async () => {
    await server.command(`CREATE DATABASE ${database}`);
    await server.command(
      `CREATE TABLE ${database}.schema_migrations (version UInt32, description String, applied_at_ms Int64) ENGINE = ReplacingMergeTree ORDER BY version`,
    );
    for (const migration of LEGACY_MIGRATIONS) for (const sql of migration.statements(database)) await server.command(sql);
    await server.command(`INSERT INTO ${database}.schema_migrations FORMAT JSONEachRow {"version":3,"description":"v3","applied_at_ms":"1"}`);
    await store().start();
    const tables = await server.query<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${database}' ORDER BY name`);
    expect(tables.map((t) => t.name)).toEqual(['objects', 'quarantined_requests', 'request_buckets', 'request_buckets_view', 'request_ids', 'request_ids_view', 'request_services', 'request_services_view', 'requests', 'retired_objects', 'schema_migrations', 'trace_requests']);
  });

  it('retention removes the rows of deleted and replaced objects from every table, not only hides them', async () => {
    const writer = store({ purgeDelayMs: 3_600_000 });
    await writer.start();
    const a = makeObject('acme', 'traces', [{ services: ['x'] }, { services: ['x', 'y'] }]);
    const b = makeObject('acme', 'traces', [{ services: ['x'] }]);
    const c = makeObject('acme', 'logs', [{ services: ['z'] }]);
    for (const built of [a, b, c]) await writer.commitObject(built.object, built.requests);
    expect(await writer.flushOutbox()).toBe(true);
    const rowsOf = async (key: string): Promise<number[]> => {
      const counts: number[] = [];
      for (const [table, column] of [['requests', 'object_key'], ['request_ids', 'object_key'], ['objects', 'key']] as const) {
        const [row] = await server.query<{ n: string }>(`SELECT toString(count()) AS n FROM ${database}.${table} WHERE ${column} = ${literal(key)}`);
        counts.push(Number(row!.n));
      }
      return counts;
    };
    expect(await rowsOf(a.object.key)).toEqual([2, 2, 1]);
    await writer.deleteObject(a.object.key, a.requests.map((r) => r.id));
    const next = { object: { ...b.object, key: `_archive/x/${b.object.key}` }, requests: b.requests.map((r) => ({ ...r, objectKey: `_archive/x/${b.object.key}` })) };
    await writer.replaceObject(b.object.key, next.object, next.requests);
    // Hidden from every read at once, on both engines.
    expect(await writer.listRequests({})).toEqual([...next.requests, ...c.requests]);
    expect(await writer.countRequests({ service: 'x' })).toBe(1);
    if (!writer.dialect!.lightweightDelete) {
      // 18.16: one batched mutation per table; it runs in the background.
      expect(await rowsOf(a.object.key)).toEqual([2, 2, 1]);
      await writer.purgeRetiredNow();
    }
    await waitFor('the rows to be removed', async () => {
      const counts = [...(await rowsOf(a.object.key)), ...(await rowsOf(b.object.key))];
      return counts.every((n) => n === 0) ? true : undefined;
    }, 30_000, 100);
    expect(await rowsOf(next.object.key)).toEqual([1, 1, 1]);
    expect(await rowsOf(c.object.key)).toEqual([1, 1, 1]);
    expect(await writer.listRequests({})).toEqual([...next.requests, ...c.requests]);
    expect(await writer.countRequests({})).toBe(2);
  });

  it('paging while rows are inserted: every request that existed when paging began is listed once, none twice', async () => {
    const writer = store({ batchIntervalMs: 10 });
    await writer.start();
    const before: ArchivedRequest[] = [];
    for (let i = 0; i < 12; i++) {
      const built = makeObject(i % 2 ? 'acme' : 'globex', 'traces', Array.from({ length: 25 }, () => ({ services: ['s'] })), Date.now() - 3_600_000 + i * 60_000);
      await writer.commitObject(built.object, built.requests);
      before.push(...built.requests);
    }
    expect(await writer.flushOutbox()).toBe(true);
    const reader = store({ readonly: true, outboxPath: path.join(dir, 'absent.sqlite') });
    await reader.start();
    for (const filter of [{}, { tenant: 'acme' }, { service: 's' }] as const) {
      for (const newestFirst of [false, true]) {
        let inserting = true;
        const inserts = (async () => {
          // New requests as paging runs: newer ids (a live capture), and older ones (an object archived late).
          for (let i = 0; inserting && i < 40; i++) {
            const at = i % 2 ? Date.now() : Date.now() - 3_000_000 + i * 1000;
            const built = makeObject(i % 3 ? 'acme' : 'globex', 'traces', Array.from({ length: 7 }, () => ({ services: ['s'] })), at);
            await writer.commitObject(built.object, built.requests);
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        })();
        const seen: string[] = [];
        let afterId: string | undefined;
        for (;;) {
          const page = await reader.listRequests({ ...filter, newestFirst, limit: 23, ...(afterId ? { afterId } : {}) });
          if (page.length === 0) break;
          seen.push(...page.map((r) => r.id));
          afterId = page[page.length - 1]!.id;
        }
        inserting = false;
        await inserts;
        expect(new Set(seen).size).toBe(seen.length); // nothing repeated
        const expected = before.filter((r) => ('tenant' in filter ? r.tenant === filter.tenant : true)).map((r) => r.id);
        const seenSet = new Set(seen);
        expect(expected.filter((id) => !seenSet.has(id))).toEqual([]); // nothing that existed skipped
        const sorted = [...seen].sort();
        expect(seen).toEqual(newestFirst ? sorted.reverse() : sorted); // in order
      }
    }
  }, 120_000);

  it('rejects writes on a reader and bad limits', async () => {
    await store().start();
    const reader = store({ readonly: true });
    await reader.start();
    const built = makeObject('acme', 'traces', [{}]);
    await expect(reader.commitObject(built.object, built.requests)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(reader.listObjects({ limit: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => new ClickHouseIndexStore({ url: server.url, database: 'bad-name; DROP', outboxPath: 'x' })).toThrow(InvalidArgumentError);
    expect(() => new ClickHouseIndexStore({ url: server.url })).toThrow(/outbox/);
  });
});
});
