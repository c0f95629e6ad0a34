// Batches ClickHouse refuses every time, on both engines (Debian's 18.16 and a current ClickHouse behind the chdb
// shim): they must not stall the index for every object queued after them. A batch spanning more partitions than a
// current server takes in one insert goes in anyway (in chunks); an object ClickHouse refuses alone — here because an
// operator's view throws on its tenant, a refusal that is the same on every retry — is isolated and set aside in the
// outbox (readable, reported, retried at the next start) while the rest is indexed; a refusal of everything sets
// nothing aside; an outbox row this side cannot encode is set aside alone at once.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { ClickHouseIndexStore, type ClickHouseIndexStoreOptions } from '../../src/index/clickhouse-index-store.js';
import { registerIndexMetrics } from '../../src/index/index-metrics.js';
import type { ArchivedRequest, ObjectMeta } from '../../src/model.js';
import { CLICKHOUSE_ENGINES } from '../helpers/chdb-server.js';
import type { ClickHouseServer } from '../helpers/clickhouse-server.js';
import { waitFor } from '../helpers/wait.js';
import { makeObject } from './index-store-contract.js';

const DAY_MS = 86_400_000;

function recordingLogger(): { logger: ClickHouseIndexStoreOptions['logger']; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  if (process.env.DEBUG_POISON) return { logger: pino({ level: 'debug' }), lines };
  return { logger: pino({ level: 'info' }, sink), lines };
}

describe.each(CLICKHOUSE_ENGINES)('$name', (engine) => {
  let server: ClickHouseServer;
  let dir: string;
  let database: string;
  let databases = 0;
  const open: ClickHouseIndexStore[] = [];

  beforeAll(async () => {
    server = await engine.start();
  }, 120_000);

  afterAll(async () => {
    await server?.dispose();
  });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ch-poison-'));
    database = `poison_${process.pid}_${++databases}`;
  });

  afterEach(async () => {
    for (const s of open.splice(0).reverse()) await s.close();
    await server.command(`DROP DATABASE IF EXISTS ${database}`);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function store(options: Partial<ClickHouseIndexStoreOptions> = {}): ClickHouseIndexStore {
    const s = new ClickHouseIndexStore({
      url: server.url,
      database,
      outboxPath: path.join(dir, 'outbox.sqlite'),
      batchIntervalMs: 20,
      retryInitialBackoffMs: 20,
      retryMaxBackoffMs: 50,
      closeTimeoutMs: 2000,
      ...options,
    });
    open.push(s);
    return s;
  }

  async function reader(): Promise<ClickHouseIndexStore> {
    const s = store({ readonly: true, outboxPath: path.join(dir, 'absent.sqlite') });
    await s.start();
    return s;
  }

  /** An operator's view that makes ClickHouse refuse every insert into requests holding a row `when` matches. */
  async function refuseRequests(when: string): Promise<void> {
    await server.command(`CREATE MATERIALIZED VIEW ${database}.guard ENGINE = Null AS SELECT throwIf(${when}) AS refused FROM ${database}.requests`);
    if (process.env.DEBUG_POISON) console.log('guard created');
  }

  // A current server refuses an insert into more than 100 partitions; 18.16 has no such limit, and writing a part per
  // partition is slow there (fsyncs), so it gets just enough to be inserted in two chunks (> PARTITIONS_PER_INSERT).
  const legacy = engine.name.includes('18.16');
  const spread = legacy ? 60 : 105;

  it(`indexes a batch that spans more partitions than one insert may touch (${spread} months, ${spread} id prefixes)`, async () => {
    const writer = store({ batchIntervalMs: 3_600_000, batchRows: 1_000_000 });
    await writer.start();
    const built: { object: ObjectMeta; requests: ArchivedRequest[] }[] = [];
    for (let i = 0; i < spread; i++) {
      const b = makeObject('sparse', 'logs', [{ services: ['a'] }], Date.UTC(2015, 0, 1) + i * 31 * DAY_MS);
      built.push(b);
      await writer.commitObject(b.object, b.requests);
    }
    expect(await writer.flushOutbox(10_000)).toBe(true);
    const r = await reader();
    expect(await r.countRequests({})).toBe(spread);
    const objects = await r.listObjects({ limit: 1000 });
    expect(objects.map((o) => o.key).sort()).toEqual(built.map((b) => b.object.key).sort());
    for (const b of [built[0]!, built[spread - 1]!]) expect(await r.getRequest(b.requests[0]!.id)).toEqual(b.requests[0]);
  }, 60_000);

  it('sets aside an object ClickHouse refuses alone, indexes the ones around it, reports it, and retries it at the next start', async () => {
    const { logger, lines } = recordingLogger();
    const writer = store({ batchRows: 5, batchIntervalMs: 3_600_000, logger });
    await writer.start();
    await refuseRequests("startsWith(object_key, 'poison/')");
    const good1 = makeObject('good', 'traces', [{ services: ['a'] }]);
    const poison = makeObject('poison', 'traces', [{ services: ['p'] }]);
    const good2 = makeObject('good', 'traces', [{ services: ['b'] }, { services: ['c'] }]);
    for (const b of [good1, poison, good2]) await writer.commitObject(b.object, b.requests); // 5 rows: one batch, due now

    const status = await waitFor('the refused object set aside', async () => {
      const s = writer.outboxStatus();
      return s.objects === 0 && s.setAsideObjects === 1 ? s : undefined;
    });
    expect(status.requests).toBe(0);
    const r = await reader();
    expect((await r.listObjects({ limit: 100 })).map((o) => o.key).sort()).toEqual([good1.object.key, good2.object.key].sort());
    expect(await r.getObject(poison.object.key)).toBeNull();
    // Kept, not dropped: the writer still answers for it from the outbox.
    expect(await writer.getRequest(poison.requests[0]!.id)).toEqual(poison.requests[0]);
    const report = lines.find((l) => l.level === 50 && l.msg.includes(poison.object.key));
    expect(report?.msg).toMatch(/set aside/);
    expect(report?.msg).toMatch(/throwIf|395/);
    const registry = new Registry();
    registerIndexMetrics(registry, () => writer);
    expect(await registry.getSingleMetricAsString('otlpcapture_index_outbox_set_aside_objects')).toMatch(/^otlpcapture_index_outbox_set_aside_objects 1$/m);
    expect(await registry.getSingleMetricAsString('otlpcapture_index_outbox_objects')).toMatch(/^otlpcapture_index_outbox_objects 0$/m);

    // Later objects are not held up by it.
    const later = makeObject('good', 'traces', [{}, {}, {}, {}, {}]);
    await writer.commitObject(later.object, later.requests);
    await waitFor('a later object indexed', async () => ((await r.getObject(later.object.key)) === null ? undefined : true));
    expect(writer.outboxStatus().setAsideObjects).toBe(1);

    // The operator fixes the cause; the next start takes the object back and indexes it.
    await server.command(`DROP TABLE ${database}.guard`);
    await writer.close();
    const restarted = store({ logger });
    await restarted.start();
    await waitFor('the set-aside object indexed after a restart', async () => ((await r.getObject(poison.object.key)) === null ? undefined : true));
    expect(restarted.outboxStatus()).toMatchObject({ objects: 0, setAsideObjects: 0 });
    expect(await r.getRequest(poison.requests[0]!.id)).toEqual(poison.requests[0]);
  }, 60_000);

  it('sets nothing aside when ClickHouse refuses everything: every object waits, then goes in once the cause is gone', async () => {
    const writer = store({ batchRows: 3, batchIntervalMs: 3_600_000, logger: recordingLogger().logger });
    await writer.start();
    await refuseRequests('length(id) > 0');
    const built = [makeObject('t', 'logs', [{}]), makeObject('t', 'logs', [{}]), makeObject('t', 'logs', [{}])];
    for (const b of built) await writer.commitObject(b.object, b.requests);
    // Enough attempts to have bisected the batch and tried each object alone and past the others.
    await waitFor('many refused attempts', async () => (writer.outboxStatus().failedFlushes >= 12 ? true : undefined));
    expect(writer.outboxStatus()).toMatchObject({ objects: 3, setAsideObjects: 0 });
    await server.command(`DROP TABLE ${database}.guard`);
    await waitFor('every object indexed', async () => (writer.outboxStatus().objects === 0 ? true : undefined));
    const r = await reader();
    expect((await r.listObjects({ limit: 100 })).length).toBe(3);
    expect(writer.outboxStatus().setAsideObjects).toBe(0);
  }, 60_000);

  it('sets aside at once an object whose queued row cannot be encoded (a damaged outbox row), and indexes the rest', async () => {
    const { logger, lines } = recordingLogger();
    const outboxPath = path.join(dir, 'outbox.sqlite');
    const first = store({ batchRows: 1_000_000, batchIntervalMs: 3_600_000, closeTimeoutMs: 0 });
    await first.start();
    const good = makeObject('t', 'metrics', [{}]);
    const damaged = makeObject('t', 'metrics', [{}]);
    for (const b of [good, damaged]) await first.commitObject(b.object, b.requests);
    await first.close();
    const db = new Database(outboxPath);
    db.prepare("UPDATE outbox_requests SET row = json_set(row, '$.items', 'many') WHERE id = ?").run(damaged.requests[0]!.id);
    db.close();

    const writer = store({ logger });
    await writer.start();
    await waitFor('the damaged object set aside', async () => (writer.outboxStatus().setAsideObjects === 1 && writer.outboxStatus().objects === 0 ? true : undefined));
    const r = await reader();
    expect(await r.getObject(good.object.key)).not.toBeNull();
    expect(await r.getObject(damaged.object.key)).toBeNull();
    expect(lines.find((l) => l.level === 50 && l.msg.includes(damaged.object.key))?.msg).toMatch(/column items/);
  }, 60_000);
});
