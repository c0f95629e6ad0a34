// The SQLite trace index: trace ids committed with an object's requests are found again, per tenant, only for
// requests that were actually inserted; re-commits add nothing; an index of schema version 1 is migrated.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { InvalidArgumentError } from '../../src/errors.js';
import { SqliteIndexStore } from '../../src/index/sqlite-index-store.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/index/sqlite-schema.js';
import type { ArchivedRequest } from '../../src/model.js';
import { makeObject } from './index-store-contract.js';

const T1 = '0af7651916cd43dd8448eb211c80319c';
const T2 = '4bf92f3577b34da6a3ce929d0e0e4736';
const T3 = 'ffffffffffffffffffffffffffffffff';

let dir: string;
let index: SqliteIndexStore;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlite-trace-'));
  index = new SqliteIndexStore(path.join(dir, 'index.sqlite'));
  await index.start();
});

afterEach(async () => {
  await index.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function withTraces(requests: ArchivedRequest[], traces: string[][]): ArchivedRequest[] {
  return requests.map((request, i) => ({ ...request, traceIds: traces[i]! }));
}

test('finds every request holding a trace, in id order, across objects; nothing for an unknown trace', async () => {
  const a = makeObject('acme', 'traces', [{}, {}, {}]);
  const b = makeObject('acme', 'traces', [{}, {}]);
  await index.commitObject(a.object, withTraces(a.requests, [[T1, T2], [T2], [T1]]));
  await index.commitObject(b.object, withTraces(b.requests, [[T3], [T1]]));
  const ids = async (trace: string, tenant?: string): Promise<string[]> =>
    (await index.findTraceRequests(trace, tenant === undefined ? {} : { tenant })).map((r) => r.id);
  expect(await ids(T1)).toEqual([a.requests[0]!.id, a.requests[2]!.id, b.requests[1]!.id]);
  expect(await ids(T2)).toEqual([a.requests[0]!.id, a.requests[1]!.id]);
  expect(await ids(T3)).toEqual([b.requests[0]!.id]);
  expect(await ids('11111111111111111111111111111111')).toEqual([]);
  // The rows are complete requests, with their location.
  const [first] = await index.findTraceRequests(T3);
  expect(first).toEqual(b.requests[0]);
});

test('a tenant filter sees only that tenant', async () => {
  const acme = makeObject('acme', 'traces', [{}]);
  const other = makeObject('globex', 'traces', [{}]);
  await index.commitObject(acme.object, withTraces(acme.requests, [[T1]]));
  await index.commitObject(other.object, withTraces(other.requests, [[T1]]));
  expect((await index.findTraceRequests(T1, { tenant: 'globex' })).map((r) => r.tenant)).toEqual(['globex']);
  expect(await index.findTraceRequests(T1, { tenant: 'initech' })).toEqual([]);
  expect((await index.findTraceRequests(T1)).length).toBe(2);
});

test('committing an object again adds no rows; a request indexed before keeps its first trace rows', async () => {
  const a = makeObject('acme', 'traces', [{}]);
  await index.commitObject(a.object, withTraces(a.requests, [[T1]]));
  await index.commitObject(a.object, withTraces(a.requests, [[T1]]));
  // The same request id under another object (a crash between index and release): its first entry stands.
  const again = { ...makeObject('acme', 'traces', [{}]), requests: [{ ...a.requests[0]!, objectKey: 'elsewhere', traceIds: [T2] }] };
  await index.commitObject(again.object, again.requests);
  expect((await index.findTraceRequests(T1)).map((r) => r.objectKey)).toEqual([a.object.key]);
  expect(await index.findTraceRequests(T2)).toEqual([]);
  const db = new Database(path.join(dir, 'index.sqlite'), { readonly: true });
  expect(db.prepare('SELECT count(*) AS n FROM trace_requests').get()).toEqual({ n: 1 });
  db.close();
});

test('requests committed without trace ids (metrics, logs, reindexed objects) have no trace rows', async () => {
  const a = makeObject('acme', 'logs', [{}]);
  await index.commitObject(a.object, a.requests);
  expect(await index.findTraceRequests(T1)).toEqual([]);
});

test('trace ids must be 32 lowercase hex digits', async () => {
  await expect(index.findTraceRequests('0AF7651916CD43DD8448EB211C80319C')).rejects.toThrow(InvalidArgumentError);
  await expect(index.findTraceRequests('abc')).rejects.toThrow(InvalidArgumentError);
});

test('a read-only reader finds traces too', async () => {
  const a = makeObject('acme', 'traces', [{}]);
  await index.commitObject(a.object, withTraces(a.requests, [[T2]]));
  const reader = new SqliteIndexStore(path.join(dir, 'index.sqlite'), { readonly: true });
  await reader.start();
  expect((await reader.findTraceRequests(T2)).map((r) => r.id)).toEqual([a.requests[0]!.id]);
  await reader.close();
});

test('an index of schema version 1 gets the trace table when a writer opens it', async () => {
  const file = path.join(dir, 'old.sqlite');
  const db = new Database(file);
  db.exec(MIGRATIONS[0]!);
  db.pragma('user_version = 1');
  db.close();
  const upgraded = new SqliteIndexStore(file);
  await upgraded.start();
  const a = makeObject('acme', 'traces', [{}]);
  await upgraded.commitObject(a.object, withTraces(a.requests, [[T1]]));
  expect((await upgraded.findTraceRequests(T1)).length).toBe(1);
  await upgraded.close();
  const check = new Database(file, { readonly: true });
  expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
  check.close();
});

test('an object with many trace rows: written in chunks (the event loop runs in between), over several generations, all found', async () => {
  const a = makeObject('acme', 'traces', [{}, {}, {}]);
  const idsOf = (r: number): string[] => Array.from({ length: 30_000 }, (_, i) => `${r}`.padStart(8, '0') + i.toString(16).padStart(24, '0'));
  let ticks = 0;
  const ticker = setInterval(() => (ticks += 1), 0);
  await index.commitObject(a.object, withTraces(a.requests, [idsOf(1), idsOf(2), idsOf(3)]));
  clearInterval(ticker);
  expect(ticks).toBeGreaterThan(3);
  for (const [r, request] of a.requests.entries()) {
    for (const i of [0, 12_345, 29_999]) {
      expect((await index.findTraceRequests(idsOf(r + 1)[i]!)).map((found) => found.id)).toEqual([request.id]);
    }
  }
  const db = new Database(path.join(dir, 'index.sqlite'), { readonly: true });
  expect(db.prepare('SELECT count(*) AS n FROM trace_requests').get()).toEqual({ n: 90_000 });
  const generations = db.prepare('SELECT gen, rows FROM trace_generations ORDER BY gen').all() as { gen: number; rows: number }[];
  expect(generations.length).toBeGreaterThanOrEqual(2);
  expect(generations.reduce((sum, g) => sum + g.rows, 0)).toBe(90_000);
  // A lookup is one primary-key search per generation, never a scan of the trace rows.
  const plan = (db.prepare(`EXPLAIN QUERY PLAN SELECT t.request_id FROM trace_generations g CROSS JOIN trace_requests t
    ON t.gen = g.gen AND t.trace_id = ?`).all(Buffer.alloc(16)) as { detail: string }[]).map((row) => row.detail);
  expect(plan).toEqual(expect.arrayContaining([expect.stringMatching(/^SEARCH t USING PRIMARY KEY \(gen=\? AND trace_id=\?\)/)]));
  db.close();
});
