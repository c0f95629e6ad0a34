// The replay's selection: paged through the index in id order, and bounded by the plan's last id, so that requests
// archived while a replay runs (a replay into the instance it reads from, say) are not chased.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteIndexStore } from '../../src/index/sqlite-index-store.js';
import type { ArchivedRequest } from '../../src/model.js';
import { planSelection, selectRequests } from '../../src/replay/selection.js';
import { makeObject } from '../index/index-store-contract.js';

let dir: string;
let index: SqliteIndexStore;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'selection-'));
  index = new SqliteIndexStore(path.join(dir, 'index.sqlite'));
  await index.start();
});

afterEach(async () => {
  await index.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function all(iterable: AsyncIterable<ArchivedRequest>): Promise<string[]> {
  const ids: string[] = [];
  for await (const request of iterable) ids.push(request.id);
  return ids;
}

test('pages through everything in id order; the plan counts it and names the last id', async () => {
  const a = makeObject('acme', 'traces', [{}, {}, {}]);
  const b = makeObject('acme', 'logs', [{}, {}]);
  await index.commitObject(a.object, a.requests);
  await index.commitObject(b.object, b.requests);
  const ids = [...a.requests, ...b.requests].map((r) => r.id).sort();
  expect(await all(selectRequests(index, {}, undefined, 2))).toEqual(ids);
  expect(await all(selectRequests(index, { signal: 'logs' }, undefined, 1))).toEqual(b.requests.map((r) => r.id).sort());
  const plan = await planSelection(index, {}, 2);
  expect(plan.total).toEqual({
    requests: 5,
    items: [...a.requests, ...b.requests].reduce((sum, r) => sum + r.items, 0),
    bytes: [...a.requests, ...b.requests].reduce((sum, r) => sum + r.rawBytes, 0),
  });
  expect(plan.lastId).toBe(ids.at(-1));
  expect(await planSelection(index, { tenant: 'nobody' })).toEqual({ total: { requests: 0, items: 0, bytes: 0 }, lastId: null, earliestNs: null, latestNs: null });
});

test('requests indexed after the plan are not selected', async () => {
  const a = makeObject('acme', 'traces', [{}, {}]);
  await index.commitObject(a.object, a.requests);
  const plan = await planSelection(index, {});
  const selection = selectRequests(index, {}, plan.lastId!, 1);
  const first = await selection.next();
  const later = makeObject('acme', 'traces', [{}, {}], Date.now() + 60_000);
  await index.commitObject(later.object, later.requests);
  const rest = await all(selection);
  expect([first.value!.id, ...rest]).toEqual(a.requests.map((r) => r.id).sort());
});
