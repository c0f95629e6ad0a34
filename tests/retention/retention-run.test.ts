// The retention run in-process on the embedded pair (filesystem + SQLite): every action, dry run, --policy,
// the lease, and recovery from journal entries left in every phase. The same behaviour through the CLI, on both
// adapter pairs and with real process kills, is in tests/e2e/retention.int.test.ts.
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readObjectManifest } from '../../src/archiver/object-reader.js';
import { Journal } from '../../src/retention/journal.js';
import { LeaseHeldError, RetentionLease } from '../../src/retention/lease.js';
import { retentionSchema, type RetentionConfig } from '../../src/retention/retention-config.js';
import { runRetention } from '../../src/retention/retention-run.js';
import { readRetentionStatus } from '../../src/retention/retention-status.js';
import { StateStore } from '../../src/retention/state-store.js';
import { buildArchive, type BuiltArchive, type CapturedEntry } from '../helpers/archive-builder.js';
import { logsPayload, tracePayload } from '../helpers/otlp-payloads.js';
import { expectConsistent } from './consistency.js';

const DAY = 86_400_000;

let dir: string;
let archive: BuiltArchive;
let sent: Map<string, Buffer>;
let archiveDir: string;

function config(policies: unknown[], extra: Record<string, unknown> = {}): RetentionConfig {
  return retentionSchema.parse({ batchSize: 3, concurrency: 4, leaseSettle: '10ms', ...extra, policies });
}

const listPrefixes = (): string[] => ['', `_archive/fs${archiveDir}/`];

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'retention-run-'));
  archiveDir = path.join(dir, 'cold');
  const entries: CapturedEntry[] = [];
  let seed = 1;
  for (const tenant of ['del', 'arc', 'cmp']) {
    for (let i = 0; i < 6; i++) entries.push({ tenant, signal: 'traces' as const, bytes: tracePayload(seed++, 30).proto });
    for (let i = 0; i < 2; i++) entries.push({ tenant, signal: 'logs' as const, bytes: logsPayload(seed++, 20).proto });
  }
  archive = await buildArchive(dir, entries, 2);
  sent = new Map();
  // buildArchive returns requests in id order, which is the order entries were given.
  archive.requests.forEach((r, i) => sent.set(r.id, Buffer.from(entries[i]!.bytes)));
});

afterEach(async () => {
  await archive.close();
  rmSync(dir, { recursive: true, force: true });
});

const POLICIES = (): unknown[] => [
  { name: 'drop-del', match: { tenant: 'del', olderThan: '7d' }, action: { type: 'delete' } },
  { name: 'cold-arc', match: { tenant: 'arc', olderThan: '7d' }, action: { type: 'archive', dir: archiveDir } },
  { name: 'shrink-cmp', match: { tenant: 'cmp', signal: 'traces', olderThan: '7d' }, action: { type: 'compress', codec: 'brotli', level: 11 } },
];

describe('retention run (filesystem + SQLite, in process)', () => {
  test('nothing is old enough now; 10 days on, each action does what it says and every request reads back byte for byte', async () => {
    const deps = { blobs: archive.blobs, index: archive.index, config: config(POLICIES()) };
    const now = await runRetention(deps);
    expect(now.items).toEqual([]);

    const asOfMs = Date.now() + 10 * DAY;
    const dry = await runRetention(deps, { dryRun: true, asOfMs });
    const before = await expectConsistent(archive.blobs, archive.index, { listPrefixes: listPrefixes(), expectedBytes: sent });
    const real = await runRetention(deps, { asOfMs });
    // The dry run listed exactly what the real run then did.
    expect(dry.items.map((i) => [i.policy, i.key])).toEqual(real.items.map((i) => [i.policy, i.key]));
    expect(real.items.filter((i) => i.outcome !== 'done')).toEqual([]);

    const byTenant = (tenant: string) => before.requests.filter((r) => r.tenant === tenant);
    const deleted = byTenant('del').map((r) => r.id);
    const kept = new Map([...sent].filter(([id]) => !deleted.includes(id)));
    const after = await expectConsistent(archive.blobs, archive.index, { listPrefixes: listPrefixes(), expectedBytes: kept, gone: deleted });

    for (const r of after.requests.filter((x) => x.tenant === 'arc')) expect(r.objectKey.startsWith(`_archive/fs${archiveDir}/arc/`)).toBe(true);
    const cmpTraces = after.objects.filter((o) => o.tenant === 'cmp' && o.signal === 'traces');
    expect(cmpTraces.length).toBe(3);
    for (const o of cmpTraces) {
      expect(o.codec).toBe('brotli');
      expect(o.key).toMatch(/\.brotli-11\.otlpc$/);
      // The manifest of the re-encoded object keeps the age and the trace ids (reindex rebuilds find-trace from it).
      const manifest = await readObjectManifest(archive.blobs, o.key);
      const original = before.objects.find((b) => o.key.startsWith(b.key.replace(/\.otlpc$/, '')))!;
      expect(manifest.object.sealedAtMs).toBe(original.sealedAtMs);
      expect(manifest.requests.every((r) => (r.traceIds?.length ?? 0) > 0)).toBe(true);
    }
    // cmp's logs matched no policy.
    expect(after.objects.filter((o) => o.tenant === 'cmp' && o.signal === 'logs').every((o) => o.codec === 'gzip')).toBe(true);

    const shrink = real.summary.policies.find((p) => p.policy === 'shrink-cmp')!;
    expect(shrink.objects).toEqual({ processed: 3, succeeded: 3, failed: 0 });
    expect(shrink.requests.processed).toBe(6);
    expect(shrink.bytesAfter).toBeLessThan(shrink.bytesBefore);
    const drop = real.summary.policies.find((p) => p.policy === 'drop-del')!;
    expect(drop).toMatchObject({ objects: { processed: 4, succeeded: 4, failed: 0 }, requests: { processed: 8 }, bytesAfter: 0 });
    const cold = real.summary.policies.find((p) => p.policy === 'cold-arc')!;
    expect(cold.bytesAfter).toBe(cold.bytesBefore);
    process.stdout.write(`compress brotli-11 over gzip-1: ${shrink.bytesBefore} -> ${shrink.bytesAfter} bytes (${(shrink.bytesAfter / shrink.bytesBefore).toFixed(3)})\n`);

    // Run again: nothing left to do (archived objects are not archived again, compressed ones not recompressed).
    const again = await runRetention(deps, { asOfMs });
    expect(again.items).toEqual([]);
    const status = await readRetentionStatus(archive.blobs);
    expect(status.lease).toBeNull();
    expect(status.pending).toEqual([]);
    expect(status.lastRun?.summary.policies.map((p) => p.policy)).toEqual(['drop-del', 'cold-arc', 'shrink-cmp']);
  }, 60_000);

  test('--policy restricts the run to objects whose first matching policy it is; an unknown name is refused', async () => {
    const deps = { blobs: archive.blobs, index: archive.index, config: config(POLICIES()) };
    const asOfMs = Date.now() + 10 * DAY;
    const result = await runRetention(deps, { policy: 'cold-arc', asOfMs });
    expect(result.summary.policies.map((p) => p.policy)).toEqual(['cold-arc']);
    expect(new Set(result.items.map((i) => i.policy))).toEqual(new Set(['cold-arc']));
    expect(result.items).toHaveLength(4);
    const objects = await archive.index.listObjects({});
    expect(objects.filter((o) => o.tenant === 'del')).toHaveLength(4);
    await expect(runRetention(deps, { policy: 'nope', asOfMs })).rejects.toThrow('no retention policy named "nope"; configured: drop-del, cold-arc, shrink-cmp');
  }, 60_000);

  test('a live lease held by another owner makes a run refuse and change nothing; an expired one is taken over', async () => {
    const deps = { blobs: archive.blobs, index: archive.index, config: config(POLICIES()) };
    const state = new StateStore(archive.blobs);
    // A lease of another host (this host's dead pids are taken over at once).
    await state.write('lease.json', { owner: 'x', host: 'elsewhere', pid: 1, acquiredAtMs: Date.now(), expiresAtMs: Date.now() + 60_000 });
    const asOfMs = Date.now() + 10 * DAY;
    await expect(runRetention(deps, { asOfMs })).rejects.toThrow(LeaseHeldError);
    await expect(runRetention(deps, { asOfMs })).rejects.toThrow(/another retention run holds the lease \(elsewhere pid 1/);
    expect((await archive.index.listObjects({})).length).toBe(12);
    await state.write('lease.json', { owner: 'x', host: 'elsewhere', pid: 1, acquiredAtMs: Date.now() - 120_000, expiresAtMs: Date.now() - 1 });
    const result = await runRetention(deps, { asOfMs });
    expect(result.items.length).toBe(11);
    // Two leases racing: only one of them goes on (with the default settle time, as a real run takes it).
    const a = new RetentionLease(state, { ttlMs: 60_000 });
    const b = new RetentionLease(state, { ttlMs: 60_000 });
    const outcomes = await Promise.allSettled([a.acquire(), b.acquire()]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
  }, 60_000);

  test('a run waits retention.leaseSettle after taking the lease', async () => {
    const timed = async (leaseSettle: string): Promise<number> => {
      const started = performance.now();
      const run = await runRetention({ blobs: archive.blobs, index: archive.index, config: config(POLICIES(), { leaseSettle }) });
      expect(run.items).toEqual([]); // nothing is old enough now: the lease is all the run does
      return performance.now() - started;
    };
    const quick = await timed('10ms');
    const slow = await timed('600ms');
    expect(slow).toBeGreaterThanOrEqual(600);
    expect(slow - quick).toBeGreaterThan(450);
  });

  test('an object compress cannot shrink is kept, remembered and left alone by later runs until a stronger setting or another action comes', async () => {
    // The objects were written with gzip level 1 (what an archiver at that setting leaves); a policy asking for the
    // same re-encodes each to exactly its size, which is no gain. (checkRetentionConfig refuses such a policy when the
    // archiver's setting is the same today; an archiver whose setting changed leaves such objects behind.)
    const same = [{ name: 'same-cmp', match: { tenant: 'cmp', signal: 'traces', olderThan: '7d' }, action: { type: 'compress', codec: 'gzip', level: 1 } }];
    const asOfMs = Date.now() + 10 * DAY;
    const run = (policies: unknown[], options: { dryRun?: boolean } = {}) =>
      runRetention({ blobs: archive.blobs, index: archive.index, config: config(policies) }, { asOfMs, ...options });
    const cmpKeys = async () => (await archive.index.listObjects({ tenant: 'cmp', signal: 'traces' })).map((o) => o.key).sort();
    const keysBefore = await cmpKeys();
    expect(keysBefore).toHaveLength(3);

    const first = await run(same);
    expect(first.items.map((i) => [i.key, i.outcome])).toEqual(keysBefore.map((k) => [k, 'unchanged']));
    expect(first.items.every((i) => /not less than/.test(i.note ?? ''))).toBe(true);
    expect(await cmpKeys()).toEqual(keysBefore);
    const kept = (await new StateStore(archive.blobs).names('kept/')).length;
    expect(kept).toBe(3);
    expect((await readRetentionStatus(archive.blobs)).keptAsIs).toBe(3);

    // Later runs (and their dry runs) do not try again.
    expect((await run(same, { dryRun: true })).items).toEqual([]);
    expect((await run(same)).items).toEqual([]);
    // A stronger setting does.
    const stronger = [{ ...same[0]!, action: { type: 'compress', codec: 'brotli', level: 11 } }];
    const third = await run(stronger);
    expect(third.items.map((i) => i.outcome)).toEqual(['done', 'done', 'done']);
    // The remembered attempts go with the objects they were about.
    expect(await new StateStore(archive.blobs).names('kept/')).toEqual([]);
    expect((await readRetentionStatus(archive.blobs)).keptAsIs).toBe(0);
    await expectConsistent(archive.blobs, archive.index, { listPrefixes: listPrefixes(), expectedBytes: sent });
  }, 60_000);

  test('a remembered compress attempt does not hold back a later policy, and is forgotten when the object is deleted', async () => {
    const asOfMs = Date.now() + 10 * DAY;
    const same = { name: 'same-cmp', match: { tenant: 'cmp', signal: 'traces', olderThan: '7d' }, action: { type: 'compress', codec: 'gzip', level: 1 } };
    const drop = { name: 'drop-cmp', match: { tenant: 'cmp', signal: 'traces', olderThan: '7d' }, action: { type: 'delete' } };
    const run = (policies: unknown[]) =>
      runRetention({ blobs: archive.blobs, index: archive.index, config: config(policies) }, { asOfMs });
    expect((await run([same])).items.map((i) => i.outcome)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    // With the compress policy first, the object passes on to the next matching policy.
    const second = await run([same, drop]);
    expect(second.items.map((i) => [i.policy, i.outcome])).toEqual([
      ['drop-cmp', 'done'],
      ['drop-cmp', 'done'],
      ['drop-cmp', 'done'],
    ]);
    expect(await new StateStore(archive.blobs).names('kept/')).toEqual([]);
  }, 60_000);

  test('journal entries left in every phase are finished or undone by the next run, leaving a consistent state', async () => {
    const deps = { blobs: archive.blobs, index: archive.index, config: config(POLICIES()) };
    const journal = new Journal(new StateStore(archive.blobs));
    const objects = await archive.index.listObjects({});
    const arc = objects.filter((o) => o.tenant === 'arc');
    const del = objects.filter((o) => o.tenant === 'del');
    const owner = 'killed-run';
    const archiveKey = (key: string) => archive.blobs.archiveKey(key, { dir: archiveDir });
    // copy: the copy exists, the index never pointed at it → undone.
    await archive.blobs.copy(arc[0]!.key, archiveKey(arc[0]!.key));
    await journal.put({ policy: 'cold-arc', action: 'archive', oldKey: arc[0]!.key, newKey: archiveKey(arc[0]!.key), phase: 'copy', owner, updatedAtMs: 0 });
    // switch: copy done, index not switched yet → finished.
    await archive.blobs.copy(arc[1]!.key, archiveKey(arc[1]!.key));
    await journal.put({ policy: 'cold-arc', action: 'archive', oldKey: arc[1]!.key, newKey: archiveKey(arc[1]!.key), phase: 'switch', owner, updatedAtMs: 0 });
    // cleanup: index switched, old object still there → finished.
    await archive.blobs.copy(arc[2]!.key, archiveKey(arc[2]!.key));
    const moved = await readObjectManifest(archive.blobs, archiveKey(arc[2]!.key));
    await archive.index.replaceObject(arc[2]!.key, moved.object, moved.requests);
    await journal.put({ policy: 'cold-arc', action: 'archive', oldKey: arc[2]!.key, newKey: archiveKey(arc[2]!.key), phase: 'cleanup', owner, updatedAtMs: 0 });
    // delete: index row removed, blob still there → finished.
    await archive.index.deleteObject(del[0]!.key);
    await journal.put({ policy: 'drop-del', action: 'delete', oldKey: del[0]!.key, phase: 'delete', owner, updatedAtMs: 0 });
    expect((await readRetentionStatus(archive.blobs)).pending).toHaveLength(4);

    // A dry run recovers nothing and changes nothing.
    const dry = await runRetention(deps, { dryRun: true });
    expect(dry.recovered).toEqual([]);
    expect((await readRetentionStatus(archive.blobs)).pending).toHaveLength(4);

    const result = await runRetention(deps, { policy: 'shrink-cmp' }); // now: nothing old enough, only recovery
    expect(result.items).toEqual([]);
    expect(result.recovered.map((r) => [r.entry.oldKey, r.outcome]).sort()).toEqual(
      [
        [arc[0]!.key, 'rolled back'],
        [arc[1]!.key, 'finished'],
        [arc[2]!.key, 'finished'],
        [del[0]!.key, 'finished'],
      ].sort(),
    );
    expect((await readRetentionStatus(archive.blobs)).pending).toEqual([]);
    const deletedIds = (await readObjectManifestIds(del[0]!.key)) ?? [];
    const expected = new Map([...sent].filter(([id]) => !deletedIds.includes(id)));
    const state = await expectConsistent(archive.blobs, archive.index, { listPrefixes: listPrefixes(), expectedBytes: expected });
    expect(state.objects.some((o) => o.key === arc[0]!.key)).toBe(true);
    expect(state.objects.some((o) => o.key === archiveKey(arc[1]!.key))).toBe(true);
  }, 60_000);
});

async function readObjectManifestIds(key: string): Promise<string[] | null> {
  return archive.requests.filter((r) => r.objectKey === key).map((r) => r.id);
}
