// The exact SQL the ClickHouse index generates (schema version 4) — DDL in each dialect, the insert statements with
// TabSeparated rows, every read query — run on Debian's ClickHouse 18.16 (a real server) and on a current ClickHouse
// (chdb, 26.x in-process): both must accept it and return the same, correct answers. The legacy dialect's DDL also
// runs on the current engine (an index created on 18.16 and read after the server is upgraded).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Session } from 'chdb';
import type { ArchivedRequest, ObjectMeta, RequestFilter } from '../../src/model.js';
import { dialectFor } from '../../src/index/clickhouse-dialect.js';
import {
  bucketsQuery,
  countQuery,
  idsLookupQuery,
  latest,
  objectFromSelected,
  objectKeysQuery,
  objectRequestCountQuery,
  objectsByKeyQuery,
  pageKeysQuery,
  requestFromSelected,
  rowsByKeysQuery,
  traceRequestIdsQuery,
  type ObjectFilter,
} from '../../src/index/clickhouse-queries.js';
import { INSERT_COLUMNS, objectFromRow, objectRow, requestFromRow, requestRow, traceRows, type InsertTable } from '../../src/index/clickhouse-rows.js';
import { tsvInsertStatement, tsvRow } from '../../src/index/clickhouse-tsv.js';
import { bootstrapStatements, freshSchemaStatements, tableNames, type SchemaTarget } from '../../src/index/clickhouse-schema.js';
import { literal } from '../../src/index/clickhouse-sql.js';
import { bucketOf, bucketRange } from '../../src/index/request-windows.js';
import { startClickHouse, type ClickHouseServer } from '../helpers/clickhouse-server.js';
import { makeObject } from './index-store-contract.js';

interface Engine {
  name: string;
  run(sql: string): Promise<Record<string, unknown>[]>;
  target: SchemaTarget;
}

const DB = 'compat_db';
const HOSTILE = ["'", '\\', "\\'", 'nul\0byte', 'new\nline\ttab\r', "'; DROP TABLE requests; --", 'Grüße 日本 👍🏽', '\x01\x1f\x7f'];

let server: ClickHouseServer;
let session: Session;
let sessionDir: string;
const engines: Engine[] = [];

/** What the client sends for an insert: the statement naming the columns, then the rows as TabSeparated lines. */
function insertStatement(table: InsertTable, rows: readonly object[]): string {
  const columns = INSERT_COLUMNS[table];
  return `${tsvInsertStatement(`${DB}.${table}`, columns)}\n${rows.map((row) => tsvRow(row, columns)).join('')}`;
}

function parseLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const objects = [
  makeObject('acme', 'traces', [{ services: ['checkout', HOSTILE[0]!] }, { services: [] }, { startNs: 2n ** 62n + 7n, endNs: 2n ** 62n + 9n }]),
  makeObject(HOSTILE[5]!, 'logs', [{ services: [HOSTILE[3]!, 'cart'] }, { services: ['cart'], startNs: 100n, endNs: 200n }]),
  makeObject('globex', 'metrics', HOSTILE.map((text) => ({ services: [text] }))),
];
const requests = objects.flatMap((o) => o.requests).sort((a, b) => (a.id < b.id ? -1 : 1));
// Trace ids for the trace requests: T1 in two of them, T2 in one.
const T1 = '0af7651916cd43dd8448eb211c80319c';
const T2 = 'ffffffffffffffffffffffffffffffff';
const traced = objects[0]!.requests.map((r, i) => ({ ...r, traceIds: [[T1], [T1, T2], []][i]! }));

function expectedRequests(filter: RequestFilter, limit: number): ArchivedRequest[] {
  return requests
    .filter((r) => filter.signal === undefined || r.signal === filter.signal)
    .filter((r) => filter.tenant === undefined || r.tenant === filter.tenant)
    .filter((r) => filter.service === undefined || r.services.includes(filter.service))
    .filter((r) => filter.sinceNs === undefined || r.endNs >= filter.sinceNs)
    .filter((r) => filter.untilNs === undefined || r.startNs <= filter.untilNs)
    .filter((r) => filter.afterId === undefined || r.id > filter.afterId)
    .slice(0, limit);
}

function expectedObjects(filter: ObjectFilter, limit: number): ObjectMeta[] {
  return objects
    .map((o) => o.object)
    .filter((o) => filter.tenant === undefined || o.tenant === filter.tenant)
    .filter((o) => filter.signal === undefined || o.signal === filter.signal)
    .filter((o) => filter.afterKey === undefined || o.key > filter.afterKey)
    .sort((a, b) => (a.key < b.key ? -1 : 1))
    .slice(0, limit);
}

beforeAll(async () => {
  server = await startClickHouse();
  sessionDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chdb-compat-'));
  session = new Session(sessionDir);
  engines.push(
    {
      name: 'ClickHouse 18.16 (server)',
      // A SELECT gets FORMAT JSONEachRow appended, as the client does; DDL and inserts are sent as they are.
      run: async (sql) => (sql.startsWith('SELECT') ? server.query(sql) : server.command(sql).then(() => [])),
      target: { database: DB, cluster: null, dialect: dialectFor('18.16.1') },
    },
    {
      name: 'chdb (current ClickHouse)',
      run: async (sql) => parseLines(session.query(sql, 'JSONEachRow')),
      target: { database: DB, cluster: null, dialect: dialectFor('26.7.2.1') },
    },
  );
  // Schema and rows, on both, by the statements the store runs. Every row twice: reads must collapse them.
  for (const engine of engines) {
    const ddl = [...bootstrapStatements(engine.target), ...freshSchemaStatements(engine.target)];
    for (const statement of [...ddl, ...ddl]) await engine.run(statement);
    // Keep the duplicates apart (as unmerged parts), so the reads below must collapse them themselves.
    for (const table of ['requests', 'request_ids', 'request_services', 'objects', 'trace_requests']) await engine.run(`SYSTEM STOP MERGES ${DB}.${table}`);
    for (let copy = 0; copy < 2; copy++) {
      for (const { object, requests: rs } of objects) {
        await engine.run(insertStatement('requests', rs.map((r) => requestRow(r, 1000 + copy))));
        await engine.run(insertStatement('objects', [objectRow(object, 1000 + copy)]));
      }
      await engine.run(insertStatement('trace_requests', traceRows(traced)));
    }
  }
}, 120_000);

afterAll(async () => {
  session?.close();
  fs.rmSync(sessionDir, { recursive: true, force: true });
  await server?.dispose();
});

describe.each([
  [0, 'ClickHouse 18.16 (Debian server)'],
  [1, 'current ClickHouse (chdb)'],
])('same SQL, same answers: engine %i, %s', (which) => {
  const engine = (): Engine => engines[which]!;

  const names = () => tableNames(engine().target);
  const sorted = (rs: ArchivedRequest[]): ArchivedRequest[] => [...rs].sort((a, b) => (a.id < b.id ? -1 : 1));

  it('has the schema and both copies of every row, in every copy of requests', async () => {
    const [count] = await engine().run(`SELECT toString(count()) AS n FROM ${DB}.requests`);
    expect(count).toEqual({ n: String(requests.length * 2) });
    const [ids] = await engine().run(`SELECT toString(count()) AS n FROM ${DB}.request_ids`);
    expect(ids).toEqual({ n: String(requests.length * 2) });
    const [services] = await engine().run(`SELECT toString(count()) AS n FROM ${DB}.request_services`);
    expect(services).toEqual({ n: String(requests.reduce((sum, r) => sum + r.services.length, 0) * 2) });
    const [parts] = await engine().run(
      `SELECT toString(count()) AS n FROM system.parts WHERE database = '${DB}' AND table = 'requests' AND active`,
    );
    expect(Number(parts!.n)).toBeGreaterThan(1);
  });

  it('finds page keys in each copy, in both orders, then whole rows by key, 64-bit values exact', async () => {
    const filters: RequestFilter[] = [
      {},
      { signal: 'traces' },
      { tenant: HOSTILE[5]! },
      { service: 'cart' },
      { sinceNs: 2n ** 62n + 9n },
      { sinceNs: 150n, untilNs: 150n },
      { untilNs: -(2n ** 70n) },
      { signal: 'metrics', tenant: 'globex', service: HOSTILE[2]! },
      ...HOSTILE.map((text) => ({ service: text })),
    ];
    for (const filter of filters) {
      const want = sorted(expectedRequests(filter, 1000));
      for (const newestFirst of [false, true]) {
        const keys = await engine().run(pageKeysQuery(names(), filter, [], undefined, newestFirst, 1000));
        const order = newestFirst ? [...want].reverse() : want;
        // request_services has no data times: a time filter there is checked on the rows (none of these mixes both).
        // Every stored copy of a key comes back (both inserts), in listing order; the caller merges them.
        expect(keys.map((k) => k.id)).toEqual(order.flatMap((r) => [r.id, r.id]));
        expect(keys.every((k) => typeof k.object_key === 'string' && k.object_key !== '')).toBe(true);
        if (keys.length === 0) continue;
        const rows = await engine().run(rowsByKeysQuery(names(), keys as never, keys.map((k) => String(k.object_key))));
        expect(rows).toHaveLength(keys.length); // both copies of each
        const current = latest(rows.map(requestFromSelected), (row) => row.id);
        expect(order.map((r) => requestFromRow(current.get(r.id)!))).toEqual(order);
        expect(current.get(order[0]!.id)!.version).toBe('1001');
      }
    }
    // A page in a window, past a cursor.
    const range = bucketRange(bucketOf(requests[0]!.id));
    const keys = await engine().run(pageKeysQuery(names(), {}, [range], requests[1]!.id, false, 4));
    const next = requests.filter((r) => r.id > requests[1]!.id && r.id >= range.from && r.id < range.to).slice(0, 2).map((r) => r.id);
    expect(keys.map((k) => k.id)).toEqual(next.flatMap((id) => [id, id]));
  });

  it('counts: by bucket, by object rows, exactly over ids with a service or a time window', async () => {
    const buckets = await engine().run(bucketsQuery(names(), {}, null, 100, false));
    expect(buckets.reduce((sum, b) => sum + Number(b.requests), 0)).toBe(requests.length * 2);
    const [byObjects] = await engine().run(objectRequestCountQuery(names(), {}));
    expect(byObjects).toEqual({ n: String(requests.length) });
    for (const filter of [{ service: 'cart' }, { sinceNs: 150n, untilNs: 150n }, { service: HOSTILE[3]!, sinceNs: 0n }] as RequestFilter[]) {
      const ranges = buckets.map((b) => bucketRange(String(b.bucket)));
      const [n] = await engine().run(countQuery(names(), filter, filter.sinceNs === undefined ? [] : ranges));
      expect(n).toEqual({ n: String(expectedRequests(filter, 1000).length) });
    }
    // A data-time window leaves out the buckets whose data cannot overlap it.
    const none = await engine().run(bucketsQuery(names(), { sinceNs: 2n ** 63n - 1n }, null, 100, false));
    expect(none).toEqual([]);
  });

  it('answers ids and objects exactly', async () => {
    const ask = [requests[1]!.id, ...HOSTILE, requests[3]!.id];
    const copies = await engine().run(idsLookupQuery(names(), ask));
    expect(new Set(copies.map((row) => row.id))).toEqual(new Set([requests[1]!.id, requests[3]!.id]));
    for (const filter of [{}, { tenant: HOSTILE[5]! }, { signal: 'metrics' }, { afterKey: objects[0]!.object.key }] as ObjectFilter[]) {
      const keys = (await engine().run(objectKeysQuery(names(), filter, 10))).map((row) => String(row.key));
      const rows = keys.length === 0 ? [] : await engine().run(objectsByKeyQuery(names(), keys));
      const current = latest(rows.map(objectFromSelected), (row) => row.key);
      expect(keys.map((key) => objectFromRow(current.get(key)!))).toEqual(expectedObjects(filter, 10));
    }
  });

  it('finds the request ids of a trace: distinct ids from the trace rows, per tenant', async () => {
    const [a, b] = objects[0]!.requests;
    const idsOf = async (traceId: string, tenant?: string): Promise<string[]> =>
      (await engine().run(traceRequestIdsQuery(names(), traceId, tenant))).map((row) => String(row.request_id)).sort();
    expect(await idsOf(T1)).toEqual([a!.id, b!.id].sort()); // each once, though every trace row is there twice
    expect(await idsOf(T2, 'acme')).toEqual([b!.id]);
    expect(await idsOf(T1, 'globex')).toEqual([]);
    expect(await idsOf('11111111111111111111111111111111')).toEqual([]);
  });

  it('the legacy DDL is valid on the current engine too (an index created on 18.16, read after an upgrade)', async () => {
    const target: SchemaTarget = { database: 'compat_legacy', cluster: null, dialect: dialectFor('18.16.1') };
    for (const statement of [...bootstrapStatements(target), ...freshSchemaStatements(target)]) await engine().run(statement);
    await engine().run(insertStatement('requests', objects[0]!.requests.map((r) => requestRow(r))).replace(`${DB}.`, 'compat_legacy.'));
    const keys = await engine().run(pageKeysQuery(tableNames(target), {}, [], undefined, true, 10));
    expect(keys.map((k) => k.id)).toEqual(sorted(objects[0]!.requests).reverse().map((r) => r.id));
    await engine().run('DROP DATABASE compat_legacy');
  });

  it('reads every hostile literal back unchanged', async () => {
    for (const text of [...HOSTILE, 'x'.repeat(10_000)]) {
      expect(await engine().run(`SELECT ${literal(text)} AS v, ${literal([text, 'b'])} AS a`)).toEqual([{ v: text, a: [text, 'b'] }]);
    }
    expect(await engine().run(`SELECT toString(${literal(2n ** 64n - 1n)}) AS u, toString(${literal(-(2n ** 63n))}) AS i`)).toEqual([
      { u: '18446744073709551615', i: '-9223372036854775808' },
    ]);
  });
});
