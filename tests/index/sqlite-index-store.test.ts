import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteIndexStore } from '../../src/index/sqlite-index-store.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/index/sqlite-schema.js';
import { BackendUnavailableError, InvalidArgumentError } from '../../src/errors.js';
import { describeIndexStoreContract, makeObject } from './index-store-contract.js';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'sqlite-index-'));
}

describeIndexStoreContract('SqliteIndexStore (writer + read-only reader)', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'nested', 'index.db');
  return {
    index: new SqliteIndexStore(file),
    openAnother: async () => new SqliteIndexStore(file, { readonly: true }),
    dispose: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
});

describeIndexStoreContract('SqliteIndexStore (two writers)', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'index.db');
  return {
    index: new SqliteIndexStore(file),
    openAnother: async () => new SqliteIndexStore(file),
    dispose: async () => fs.rmSync(dir, { recursive: true, force: true }),
  };
});

describe('SqliteIndexStore specifics', () => {
  let dir: string;
  let file: string;
  const open: (SqliteIndexStore | Database.Database)[] = [];

  async function store(options: ConstructorParameters<typeof SqliteIndexStore>[1] = {}): Promise<SqliteIndexStore> {
    const s = new SqliteIndexStore(file, options);
    open.push(s);
    await s.start();
    return s;
  }

  function raw(): Database.Database {
    const db = new Database(file);
    db.pragma('busy_timeout = 5000');
    open.push(db);
    return db;
  }

  beforeEach(() => {
    dir = tempDir();
    file = path.join(dir, 'index.db');
  });

  afterEach(async () => {
    for (const handle of open.splice(0).reverse()) {
      if (handle instanceof SqliteIndexStore) await handle.close();
      else if (handle.open) handle.close();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('uses WAL and records the schema version', async () => {
    await store();
    const db = raw();
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
    expect(tables).toEqual(['objects', 'quarantined_requests', 'request_buckets', 'request_services', 'requests', 'retired_objects', 'trace_generations', 'trace_requests', 'untraced_requests']);
  });

  it('stores ns times as INTEGER and clamps only values outside signed 64-bit', async () => {
    const index = await store();
    const built = makeObject('acme', 'traces', [{ startNs: 2n ** 63n - 1n, endNs: 2n ** 64n - 1n }]);
    await index.commitObject(built.object, built.requests);
    const row = raw()
      .prepare('SELECT typeof(start_ns) AS t, start_ns, end_ns FROM requests')
      .safeIntegers(true)
      .get() as { t: string; start_ns: bigint; end_ns: bigint };
    expect(row).toEqual({ t: 'integer', start_ns: 2n ** 63n - 1n, end_ns: 2n ** 63n - 1n });
  });

  it('readers are not blocked by an open write transaction, and see only committed rows', async () => {
    const writer = await store();
    const first = makeObject('acme', 'traces', [{}, {}]);
    await writer.commitObject(first.object, first.requests);

    const holder = raw();
    holder.exec('BEGIN IMMEDIATE');
    holder.prepare("DELETE FROM requests WHERE id = ?").run(first.requests[0]!.id);

    const reader = await store({ readonly: true, busyTimeoutMs: 50 });
    const started = Date.now();
    expect(await reader.listRequests({})).toEqual(first.requests);
    expect(Date.now() - started).toBeLessThan(1000);
    holder.exec('ROLLBACK');
  });

  it('the writer commits while a reader holds a snapshot; the snapshot stays stable until it ends', async () => {
    const writer = await store();
    const first = makeObject('acme', 'traces', [{}]);
    await writer.commitObject(first.object, first.requests);

    const reader = raw();
    const count = reader.prepare('SELECT count(*) FROM requests').pluck();
    reader.exec('BEGIN');
    expect(count.get()).toBe(1);
    const second = makeObject('acme', 'traces', [{}, {}]);
    await writer.commitObject(second.object, second.requests);
    expect(count.get()).toBe(1);
    reader.exec('COMMIT');
    expect(count.get()).toBe(3);
  });

  it('reports a lock held past busy_timeout as BackendUnavailableError', async () => {
    const writer = await store({ busyTimeoutMs: 50 });
    const holder = raw();
    holder.exec('BEGIN IMMEDIATE');
    const built = makeObject('acme', 'traces', [{}]);
    await expect(writer.commitObject(built.object, built.requests)).rejects.toBeInstanceOf(BackendUnavailableError);
    holder.exec('ROLLBACK');
    await writer.commitObject(built.object, built.requests);
    expect(await writer.getRequest(built.requests[0]!.id)).toEqual(built.requests[0]);
  });

  it('keeps the first location of a request id committed again under another object', async () => {
    const index = await store();
    const first = makeObject('acme', 'traces', [{ services: ['a'] }]);
    const again = makeObject('acme', 'traces', [{ services: ['b'] }]);
    const moved = { ...again.requests[0]!, id: first.requests[0]!.id };
    await index.commitObject(first.object, first.requests);
    await index.commitObject(again.object, [moved]);
    expect(await index.getRequest(moved.id)).toEqual(first.requests[0]);
    expect(await index.listRequests({ service: 'b' })).toEqual([]);
    expect((await index.listObjects({})).map((o) => o.key)).toEqual([first.object.key, again.object.key]);
  });

  it('read-only: never writes, needs an existing, current database', async () => {
    await expect(store({ readonly: true })).rejects.toThrow(BackendUnavailableError);
    expect(fs.existsSync(file)).toBe(false);

    const writer = await store();
    await writer.close();
    // After the writer closed (WAL checkpointed and gone) a reader still opens.
    const reader = await store({ readonly: true });
    expect(await reader.listRequests({})).toEqual([]);
    const built = makeObject('acme', 'traces', [{}]);
    await expect(reader.commitObject(built.object, built.requests)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('migrates an empty database, refuses a newer one, and tells a reader to migrate an older one', async () => {
    const db = raw();
    db.pragma('user_version = 0');
    await expect(store({ readonly: true })).rejects.toThrow(/schema version 0, expected .*start the server once/);
    const writer = await store();
    const built = makeObject('acme', 'logs', [{}]);
    await writer.commitObject(built.object, built.requests);
    await writer.close();
    const reopened = await store();
    expect(await reopened.listRequests({})).toEqual(built.requests);
    await reopened.close();

    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    await expect(store()).rejects.toThrow(/newer than this build knows/);
  });

  it('migrates a version-3 index with its rows: fingerprints empty, bucket counts and time filters as if indexed now', async () => {
    // A version-3 file, written with the version-3 statements and the columns that version had.
    const db = raw();
    db.transaction(() => {
      for (const sql of MIGRATIONS.slice(0, 3)) db.exec(sql);
      db.pragma('user_version = 3');
    })();
    const objects = [
      makeObject('acme', 'logs', [{ services: ['a'], startNs: 10n, endNs: 20n }, { services: ['b'], startNs: 30n, endNs: 40n }], 1_700_000_000_000),
      makeObject('globex', 'traces', [{ services: ['a'], startNs: 50n, endNs: 60n }], 1_700_100_000_000),
    ];
    const insert = db.prepare(
      `INSERT INTO requests (id, tenant, signal, received_at_ms, items, services, start_ns, end_ns, raw_bytes, object_key,
         block_offset, block_length, codec, crc32) VALUES (@id, @tenant, @signal, @receivedAtMs, @items, @services, @startNs,
         @endNs, @rawBytes, @objectKey, @offset, @length, @codec, @crc32)`,
    );
    for (const { object, requests } of objects) {
      db.prepare(
        `INSERT INTO objects VALUES (@key, @tenant, @signal, @createdAtMs, @sealedAtMs, @requestCount, @rawBytes, @storedBytes, @codec, @startNs, @endNs)`,
      ).run(object);
      for (const r of requests) {
        insert.run({ ...r, services: JSON.stringify(r.services) });
        for (const service of r.services) db.prepare('INSERT INTO request_services VALUES (?, ?)').run(service, r.id);
      }
    }
    const all = objects.flatMap((o) => o.requests);
    const index = await store();
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(await index.listRequests({})).toEqual(all);
    expect(await index.countRequests({})).toBe(3);
    expect(await index.countRequests({ tenant: 'acme', signal: 'logs' })).toBe(2);
    expect(await index.listRequests({ sinceNs: 35n, untilNs: 55n, newestFirst: true })).toEqual([all[2], all[1]]);
    expect(await index.countRequests({ sinceNs: 35n, untilNs: 55n })).toBe(2);
    expect(await index.countRequests({ service: 'a' })).toBe(2);
    const later = makeObject('acme', 'logs', [{ startNs: 36n, endNs: 37n }], 1_700_200_000_000);
    await index.commitObject(later.object, later.requests);
    expect(await index.countRequests({ sinceNs: 35n, untilNs: 55n })).toBe(3);
  });

  it('migrates a version-1 index (no trace index): its trace requests are counted untraced until a re-commit brings their trace ids', async () => {
    const db = raw();
    db.transaction(() => {
      db.exec(MIGRATIONS[0]!);
      db.pragma('user_version = 1');
    })();
    const traced = makeObject('acme', 'traces', [{}, {}]);
    const logs = makeObject('acme', 'logs', [{}]);
    for (const { object, requests } of [traced, logs]) {
      db.prepare(
        `INSERT INTO objects VALUES (@key, @tenant, @signal, @createdAtMs, @sealedAtMs, @requestCount, @rawBytes, @storedBytes, @codec, @startNs, @endNs)`,
      ).run(object);
      for (const r of requests) {
        db.prepare(
          `INSERT INTO requests VALUES (@id, @tenant, @signal, @receivedAtMs, @items, @services, @startNs, @endNs, @rawBytes,
             @objectKey, @offset, @length, @codec, @crc32)`,
        ).run({ ...r, services: JSON.stringify(r.services) });
      }
    }
    const trace = 'ab'.repeat(16);
    const index = await store();
    // Before: find-trace misses both, and says so through the count.
    expect(await index.findTraceRequests(trace)).toEqual([]);
    expect(await index.untracedTraceRequests()).toBe(2);
    // A request of today, traced as it is committed, is found and not counted.
    const fresh = makeObject('acme', 'traces', [{}]);
    const freshRequests = fresh.requests.map((r) => ({ ...r, traceIds: [trace] }));
    await index.commitObject(fresh.object, freshRequests);
    expect((await index.findTraceRequests(trace)).map((r) => r.id)).toEqual([fresh.requests[0]!.id]);
    expect(await index.untracedTraceRequests()).toBe(2);
    // What reindex does: the same object again, its requests with the trace ids read from their blocks.
    const withIds = traced.requests.map((r, i) => ({ ...r, traceIds: i === 0 ? [trace] : [] }));
    await index.commitObject(traced.object, withIds);
    expect((await index.findTraceRequests(trace)).map((r) => r.id)).toEqual([traced.requests[0]!.id, fresh.requests[0]!.id]);
    expect(await index.untracedTraceRequests()).toBe(0);
    // Once filled, a further re-commit adds no duplicate rows.
    await index.commitObject(traced.object, withIds);
    expect(db.prepare('SELECT count(*) FROM trace_requests').pluck().get()).toBe(2);
  });

  it('reports an unusable path as BackendUnavailableError', async () => {
    fs.writeFileSync(path.join(dir, 'file'), 'x');
    const broken = new SqliteIndexStore(path.join(dir, 'file', 'index.db'));
    await expect(broken.start()).rejects.toThrow(BackendUnavailableError);
    const notStarted = new SqliteIndexStore(file);
    await expect(notStarted.listRequests({})).rejects.toThrow(/not started/);
  });

  it('commits an object of 10,000 requests in one transaction', async () => {
    const index = await store();
    const built = makeObject(
      'acme',
      'traces',
      Array.from({ length: 10_000 }, (_, i) => ({ services: [`svc-${i % 7}`, 'frontend'] })),
    );
    const started = process.hrtime.bigint();
    await index.commitObject(built.object, built.requests);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    expect(await index.listRequests({ limit: 20_000 })).toHaveLength(10_000);
    expect(await index.listRequests({ service: 'svc-3', limit: 20_000 })).toHaveLength(1429);
    expect(seconds).toBeLessThan(20); // generous: the number itself is measured separately, not asserted here
  });
});
