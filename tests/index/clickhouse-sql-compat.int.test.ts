// The exact SQL the ClickHouse index generates — DDL, the insert statements with JSONEachRow rows, every read
// query — run on Debian's ClickHouse 18.16 (a real server) and on a current ClickHouse (chdb, 26.x in-process):
// both must accept it and return the same, correct answers.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Session } from 'chdb';
import type { ArchivedRequest, ObjectMeta, RequestFilter } from '../../src/model.js';
import {
  getRequestQuery,
  knownIdsQuery,
  listObjectsQuery,
  listRequestsQuery,
  objectFromSelected,
  requestFromSelected,
  requestsByIdQuery,
  schemaVersionQuery,
  tablesQuery,
  traceRequestIdsQuery,
  type ObjectFilter,
} from '../../src/index/clickhouse-queries.js';
import { objectFromRow, objectRow, requestFromRow, requestRow, traceRows } from '../../src/index/clickhouse-rows.js';
import { MIGRATIONS, SCHEMA_VERSION, bootstrapStatements } from '../../src/index/clickhouse-schema.js';
import { literal } from '../../src/index/clickhouse-sql.js';
import { startClickHouse, type ClickHouseServer } from '../helpers/clickhouse-server.js';
import { makeObject } from './index-store-contract.js';

interface Engine {
  name: string;
  run(sql: string): Promise<Record<string, unknown>[]>;
}

const DB = 'compat_db';
const HOSTILE = ["'", '\\', "\\'", 'nul\0byte', 'new\nline\ttab\r', "'; DROP TABLE requests; --", 'Grüße 日本 👍🏽', '\x01\x1f\x7f'];

let server: ClickHouseServer;
let session: Session;
let sessionDir: string;
const engines: Engine[] = [];

/** What the client sends for an insert: the statement, then the rows as JSON lines. */
function insertStatement(table: string, rows: readonly object[]): string {
  return `INSERT INTO ${DB}.${table} FORMAT JSONEachRow\n${rows.map((row) => JSON.stringify(row)).join('\n')}\n`;
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
    },
    { name: 'chdb (current ClickHouse)', run: async (sql) => parseLines(session.query(sql, 'JSONEachRow')) },
  );
  // Schema and rows, on both, by the statements the store runs. Every row twice: FINAL must collapse them.
  for (const engine of engines) {
    const ddl = [...bootstrapStatements(DB), ...MIGRATIONS.flatMap((m) => m.statements(DB))];
    for (const statement of [...ddl, ...ddl]) await engine.run(statement);
    // Keep the duplicates apart (as unmerged parts), so the reads below must collapse them themselves.
    for (const table of ['requests', 'objects', 'trace_requests']) await engine.run(`SYSTEM STOP MERGES ${DB}.${table}`);
    await engine.run(insertStatement('schema_migrations', [{ version: SCHEMA_VERSION, description: 'x', applied_at_ms: '1' }]));
    for (let copy = 0; copy < 2; copy++) {
      for (const { object, requests: rs } of objects) {
        await engine.run(insertStatement('requests', rs.map(requestRow)));
        await engine.run(insertStatement('objects', [objectRow(object)]));
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

  it('has the schema, the migration version, and both copies of every row', async () => {
    const tables = (await engine().run(tablesQuery(DB))).map((row) => row.name).sort();
    expect(tables).toEqual(['objects', 'quarantined_requests', 'requests', 'retired_objects', 'schema_migrations', 'trace_requests']);
    expect(await engine().run(schemaVersionQuery(DB))).toEqual([{ version: String(SCHEMA_VERSION) }]);
    const [count] = await engine().run(`SELECT toString(count()) AS n FROM ${DB}.requests`);
    expect(count).toEqual({ n: String(requests.length * 2) });
    const [parts] = await engine().run(
      `SELECT toString(count()) AS n FROM system.parts WHERE database = '${DB}' AND table = 'requests' AND active`,
    );
    expect(Number(parts!.n)).toBeGreaterThan(1);
  });

  it('answers every list query exactly, 64-bit values included', async () => {
    const filters: { filter: RequestFilter; limit: number }[] = [
      { filter: {}, limit: 1000 },
      { filter: {}, limit: 3 },
      { filter: { signal: 'traces' }, limit: 1000 },
      { filter: { tenant: HOSTILE[5]! }, limit: 1000 },
      { filter: { service: 'cart' }, limit: 1000 },
      { filter: { sinceNs: 2n ** 62n + 9n }, limit: 1000 },
      { filter: { sinceNs: 150n, untilNs: 150n }, limit: 1000 },
      { filter: { untilNs: -(2n ** 70n) }, limit: 1000 },
      { filter: { sinceNs: 2n ** 70n }, limit: 1000 },
      { filter: { afterId: requests[4]!.id, limit: 2 }, limit: 2 },
      { filter: { signal: 'metrics', tenant: 'globex', service: HOSTILE[2]! }, limit: 1000 },
      ...HOSTILE.map((text) => ({ filter: { service: text }, limit: 1000 })),
    ];
    for (const { filter, limit } of filters) {
      const rows = await engine().run(listRequestsQuery(DB, filter, limit));
      expect(rows.map((row) => requestFromRow(requestFromSelected(row)))).toEqual(expectedRequests(filter, limit));
    }
  });

  it('answers get, known ids and objects exactly', async () => {
    for (const request of [requests[0]!, requests[requests.length - 1]!]) {
      const rows = await engine().run(getRequestQuery(DB, request.id));
      expect(rows.map((row) => requestFromRow(requestFromSelected(row)))).toEqual([request]);
    }
    expect(await engine().run(getRequestQuery(DB, HOSTILE[5]!))).toEqual([]);
    const ask = [requests[1]!.id, ...HOSTILE, requests[3]!.id];
    const known = (await engine().run(knownIdsQuery(DB, ask))).map((row) => row.id);
    expect(new Set(known)).toEqual(new Set([requests[1]!.id, requests[3]!.id]));
    expect(known).toHaveLength(2);
    for (const filter of [{}, { tenant: HOSTILE[5]! }, { signal: 'metrics' }, { afterKey: objects[0]!.object.key }] as ObjectFilter[]) {
      const rows = await engine().run(listObjectsQuery(DB, filter, 10));
      expect(rows.map((row) => objectFromRow(objectFromSelected(row)))).toEqual(expectedObjects(filter, 10));
    }
  });

  it('finds the requests of a trace: distinct ids from the trace rows, then the requests by id, per tenant', async () => {
    const [a, b] = objects[0]!.requests;
    const idsOf = async (traceId: string, tenant?: string): Promise<string[]> =>
      (await engine().run(traceRequestIdsQuery(DB, traceId, tenant))).map((row) => String(row.request_id)).sort();
    expect(await idsOf(T1)).toEqual([a!.id, b!.id].sort()); // each once, though every trace row is there twice
    expect(await idsOf(T2, 'acme')).toEqual([b!.id]);
    expect(await idsOf(T1, 'globex')).toEqual([]);
    expect(await idsOf('11111111111111111111111111111111')).toEqual([]);
    const byId = async (ids: string[], tenant?: string): Promise<ArchivedRequest[]> =>
      (await engine().run(requestsByIdQuery(DB, ids, tenant))).map((row) => requestFromRow(requestFromSelected(row)));
    expect(await byId([b!.id, a!.id, HOSTILE[5]!])).toEqual([a, b]);
    expect(await byId([a!.id], 'acme')).toEqual([a]);
    expect(await byId([a!.id], HOSTILE[5]!)).toEqual([]);
    const hostileTenant = objects[1]!.requests;
    expect(await byId(hostileTenant.map((r) => r.id), HOSTILE[5]!)).toEqual(hostileTenant);
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
