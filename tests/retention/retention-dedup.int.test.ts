// The dedup action on real adapters (filesystem + SQLite in process; s3rver + ClickHouse 18.16 where the pair
// starts): the scenario of dedup-scenario.ts, a dry run that says what would go, a run that drops exactly the
// copies — byte comparison keeping a same-fingerprint-other-bytes request — and leaves every other request readable
// byte for byte, reads showing the same distinct requests as before, metrics counting it, and later runs leaving
// the objects alone. Crashes at every journalled step: retention-dedup-crash.test.ts.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { createBlobStore, createIndexStore } from '../../src/app/components.js';
import { readObjectManifest } from '../../src/archiver/object-reader.js';
import { loadConfig } from '../../src/config/load.js';
import type { IndexStore } from '../../src/index/index-store.js';
import type { ArchivedRequest } from '../../src/model.js';
import { NoopNotifier } from '../../src/notify/noop-notifier.js';
import { DedupStage } from '../../src/query/dedup.js';
import { dedupedKey } from '../../src/retention/dedup-key.js';
import { planDedup } from '../../src/retention/dedup-plan.js';
import { retentionSchema, type RetentionConfig } from '../../src/retention/retention-config.js';
import { registerRetentionMetrics } from '../../src/retention/retention-metrics.js';
import { runRetention } from '../../src/retention/retention-run.js';
import { RetentionScheduler } from '../../src/retention/retention-scheduler.js';
import { readRetentionStatus } from '../../src/retention/retention-status.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { EMBEDDED_PAIR, S3_CLICKHOUSE_PAIR, type AdapterPair, type AdapterPairSpec } from '../helpers/adapter-pairs.js';
import { archiveInto } from '../helpers/archive-builder.js';
import { waitFor } from '../helpers/wait.js';
import { allRequests, expectConsistent } from './consistency.js';
import { DEDUP_NAMES, DROPPED, PER_OBJECT, dedupEntries, type DedupName } from './dedup-scenario.js';

const DAY = 86_400_000;
const WINDOW = 15 * 60_000;

function config(extra: Record<string, unknown> = {}, action: Record<string, unknown> = { type: 'dedup', window: '15m' }): RetentionConfig {
  return retentionSchema.parse({ batchSize: 2, concurrency: 1, leaseSettle: '10ms', ...extra, policies: [{ name: 'drop-copies', match: { olderThan: '7d' }, action }] });
}

describe.each([EMBEDDED_PAIR, S3_CLICKHOUSE_PAIR] as AdapterPairSpec[])('retention dedup on the $name', (spec) => {
  let pair: AdapterPair;
  let dir: string;
  let blobs: BlobStore;
  let index: IndexStore;
  let ids: Map<DedupName, string>;
  let bytes: Map<DedupName, Buffer>;
  let requests: ArchivedRequest[];

  beforeAll(async () => {
    pair = await spec.start();
  }, 60_000);
  afterAll(async () => {
    await pair?.dispose();
  }, 60_000);

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'retention-dedup-'));
    // A database and bucket prefix of its own per test: the ClickHouse server and s3rver live through the file.
    const serial = path.basename(dir).replace(/[^A-Za-z0-9]/g, '');
    const env = { ...process.env, ...pair.env, ...(pair.env.CLICKHOUSE_DATABASE ? { CLICKHOUSE_DATABASE: `dedup_${serial}` } : {}) };
    const loaded = loadConfig({ env, overrides: { dataDir: dir } });
    blobs = await createBlobStore(loaded);
    await blobs.start();
    index = await createIndexStore(loaded, { readonly: false });
    await index.start();
    const t0 = Date.now() - 3_600_000;
    const scenario = dedupEntries(t0);
    bytes = scenario.bytes;
    requests = await archiveInto(blobs, index, scenario.entries, PER_OBJECT);
    // ClickHouse: rows still in the outbox are refused by retention's writes until written out.
    const flush = (index as { flushOutbox?: () => Promise<boolean> }).flushOutbox;
    if (flush) expect(await flush.call(index)).toBe(true);
    ids = new Map();
    scenario.entries.forEach((entry, i) => {
      const found = requests.find((r) => r.tenant === entry.tenant && r.receivedAtMs === entry.receivedAtMs)!;
      ids.set(DEDUP_NAMES[i]!, found.id);
    });
    expect(new Set(ids.values()).size).toBe(DEDUP_NAMES.length);
  }, 60_000);

  afterEach(async () => {
    await index?.close();
    // The bucket lives through the file: empty it for the next test.
    for await (const info of blobs.list('')) await blobs.delete(info.key);
    await blobs?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const idOf = (name: DedupName): string => ids.get(name)!;
  const objectOf = (name: DedupName): string => requests.find((r) => r.id === idOf(name))!.objectKey;
  const expectedAfter = (): Map<string, Buffer> => new Map(DEDUP_NAMES.filter((n) => !DROPPED.includes(n)).map((n) => [idOf(n), bytes.get(n)!]));
  const reads = (): DedupStage => new DedupStage(WINDOW, [(ranges) => index.findTwins(ranges)]);

  test('drops exactly the byte-identical copies, keeps the first of each chain and a same-fingerprint-other-bytes request', async () => {
    const deps = { blobs, index, config: config() };
    const asOfMs = Date.now() + 10 * DAY;
    const distinctBefore = (await reads().present(await allRequests(index))).map((r) => r.id);
    expect(distinctBefore).not.toContain(idOf('A2'));

    const dry = await runRetention(deps, { dryRun: true, asOfMs });
    const dryDrops = Object.fromEntries(dry.items.map((i) => [i.key, i.dropped]));
    expect(dryDrops).toEqual({
      [objectOf('A1')]: 0,
      [objectOf('A2')]: 1,
      [objectOf('A3')]: 3,
      [objectOf('A5')]: 0,
      [objectOf("A'")]: 0,
    });
    expect(dry.summary.policies[0]).toMatchObject({ action: 'dedup', dropped: 4 });
    expect((await allRequests(index)).length).toBe(DEDUP_NAMES.length); // the dry run changed nothing

    const sealedBefore = (await index.getObject(objectOf('A2')))!.sealedAtMs;
    const real = await runRetention(deps, { asOfMs });
    expect(real.items.map((i) => [i.key, i.outcome, i.newKey, i.dropped])).toEqual([
      [objectOf('A1'), 'unchanged', objectOf('A1'), 0],
      [objectOf('A2'), 'done', dedupedKey(objectOf('A2')), 1],
      [objectOf('A3'), 'done', null, 3],
      [objectOf('A5'), 'unchanged', objectOf('A5'), 0],
      [objectOf("A'"), 'unchanged', objectOf("A'"), 0],
    ].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)));
    // D: a twin of A1 by fingerprint whose bytes differ — kept, and said so.
    expect(real.items.find((i) => i.key === objectOf('A2'))!.note).toContain(`${idOf('D')} (twin ${idOf('A1')} has the same fingerprint but other bytes)`);

    const state = await expectConsistent(blobs, index, { listPrefixes: [''], expectedBytes: expectedAfter(), gone: DROPPED.map(idOf) });
    expect(state.objects.map((o) => o.key).sort()).toEqual([objectOf('A1'), dedupedKey(objectOf('A2')), objectOf('A5'), objectOf("A'")].sort());
    expect(await blobs.stat(objectOf('A2'))).toBeNull();
    expect(await blobs.stat(objectOf('A3'))).toBeNull();
    for (const name of DROPPED) expect(await index.getRequest(idOf(name))).toBeNull();
    // The rewritten object: the others, same codec, the original age, a manifest without the dropped one.
    const rewritten = await readObjectManifest(blobs, dedupedKey(objectOf('A2')));
    expect(rewritten.requests.map((r) => r.id)).toEqual([idOf('D'), idOf('X')]);
    expect(rewritten.object.codec).toBe('gzip');
    expect(rewritten.object.sealedAtMs).toBe(sealedBefore);
    expect(await index.getObject(dedupedKey(objectOf('A2')))).toMatchObject({ requestCount: 2 });
    expect(await index.countRequests({})).toBe(DEDUP_NAMES.length - DROPPED.length);
    expect(await index.countRequests({ tenant: 'dd', signal: 'traces' })).toBe(DEDUP_NAMES.length - DROPPED.length - 1);

    // Reads show the same distinct requests as before; with duplicates shown, only D (the read rule trusts the
    // fingerprint) is marked — every true copy is gone.
    const shown = await reads().present(await allRequests(index), { withDuplicates: true });
    expect(shown.filter((r) => r.duplicateOf !== undefined).map((r) => [r.id, r.duplicateOf])).toEqual([[idOf('D'), idOf('A1')]]);
    expect((await reads().present(await allRequests(index))).map((r) => r.id)).toEqual(distinctBefore);
    expect(await index.countDuplicates({}, WINDOW)).toBe(1);

    const summary = real.summary.policies[0]!;
    expect(summary).toMatchObject({ policy: 'drop-copies', action: 'dedup', dropped: 4, objects: { processed: 5, succeeded: 5, failed: 0 } });
    expect(summary.bytesAfter).toBeLessThan(summary.bytesBefore);

    // Done once: later runs (and their dry runs) leave the objects alone, so policies listed after it get them.
    expect((await runRetention(deps, { asOfMs })).items).toEqual([]);
    expect((await runRetention(deps, { asOfMs, dryRun: true })).items).toEqual([]);
    const status = await readRetentionStatus(blobs);
    expect(status.deduplicated).toBe(4);
    expect(status.pending).toEqual([]);
    const later = retentionSchema.parse({
      leaseTtl: '5s',
      leaseSettle: '10ms',
      policies: [
        { name: 'drop-copies', match: { olderThan: '7d' }, action: { type: 'dedup', window: '15m' } },
        { name: 'old', match: { olderThan: '7d' }, action: { type: 'delete' } },
      ],
    });
    const deleted = await runRetention({ blobs, index, config: later }, { asOfMs });
    expect(deleted.items.map((i) => i.policy)).toEqual(['old', 'old', 'old', 'old']);
    expect(await allRequests(index)).toEqual([]);
    expect((await readRetentionStatus(blobs)).deduplicated).toBe(0);
  }, 120_000);

  test('a twin in an object a delete policy takes is no kept copy: the request it would have let go is kept', async () => {
    const { requests: inObject } = await readObjectManifest(blobs, objectOf('A2'));
    const deleting = objectOf('A1');
    const plan = await planDedup({ blobs, index, twinObjectStays: async (key) => key !== deleting }, inObject, WINDOW);
    expect([...plan.drop]).toEqual([]);
    expect(plan.kept.map((k) => k.id).sort()).toEqual([idOf('D'), idOf('A2')].sort());
    const a2 = plan.kept.find((k) => k.id === idOf('A2'))!;
    expect(a2.reason).toContain(`twin ${idOf('A1')} is in ${deleting}, which a delete policy takes`);
    expect(a2.reason).toContain(`twin ${idOf('D')} has the same fingerprint but other bytes`);
    // The same object with its twin's object staying: A2 goes.
    const kept = await planDedup({ blobs, index }, inObject, WINDOW);
    expect([...kept.drop]).toEqual([[idOf('A2'), idOf('A1')]]);
    // A window too short to reach back to A1 (30 s to D, 60 s to A1) finds D only, whose bytes differ: nothing goes.
    expect([...(await planDedup({ blobs, index }, inObject, 45_000)).drop]).toEqual([]);
  }, 60_000);

  test('beside a delete policy: the objects it takes go, dedup of the rest is unaffected (twins never cross tenants)', async () => {
    const asOfMs = Date.now() + 10 * DAY;
    const ordered = retentionSchema.parse({
      concurrency: 1,
      leaseSettle: '10ms',
      policies: [
        { name: 'drop-other', match: { tenant: 'other', olderThan: '7d' }, action: { type: 'delete' } },
        { name: 'drop-copies', match: { olderThan: '7d' }, action: { type: 'dedup', window: '15m' } },
      ],
    });
    const run = await runRetention({ blobs, index, config: ordered }, { asOfMs });
    expect(run.summary.policies.map((p) => [p.policy, p.dropped])).toEqual([
      ['drop-other', undefined],
      ['drop-copies', 4],
    ]);
    await expectConsistent(blobs, index, {
      listPrefixes: [''],
      expectedBytes: new Map([...expectedAfter()].filter(([id]) => id !== idOf("A'"))),
      gone: [...DROPPED.map(idOf), idOf("A'")],
    });
  }, 120_000);

  test('serve counts what dedup dropped and the bytes it saved', async () => {
    const scheduled = retentionSchema.parse({ interval: '150ms', leaseTtl: '2s', concurrency: 1, policies: [{ name: 'copies', match: { olderThan: '1ms' }, action: { type: 'dedup', window: '15m' } }] });
    const scheduler = new RetentionScheduler({ blobs, index, config: scheduled, notifier: new NoopNotifier(), logger: silentLogger() });
    const registry = new Registry();
    registerRetentionMetrics(registry, () => scheduler.stats());
    scheduler.start();
    try {
      await waitFor('a dedup run', async () => (scheduler.runs >= 1 ? true : undefined), 20_000, 50);
    } finally {
      await scheduler.stop();
    }
    const text = await registry.metrics();
    expect(text).toMatch(/otlpcapture_retention_dedup_dropped_requests_total\{policy="copies"\} 4\b/);
    const saved = Number(/otlpcapture_retention_dedup_saved_bytes_total\{policy="copies"\} (\d+)/.exec(text)?.[1]);
    expect(saved).toBeGreaterThan(0);
    expect(text).toMatch(/otlpcapture_retention_objects_total\{policy="copies",action="dedup",result="succeeded"\} 5\b/);
  }, 60_000);
});
