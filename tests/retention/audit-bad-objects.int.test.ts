// Retention on an archive with a bad day behind it, on the filesystem store and on s3rver (SQLite index on both):
// files someone else put beside the objects (names that look almost like ours, an unindexed object of the right
// shape, zero-byte ones), an indexed object whose bytes were damaged, one whose blob is gone, one truncated to zero.
// A run must touch nothing but indexed objects its policies match, must not stop at the first bad one (that one
// costs itself, reported by the item, the summary and the log), and must leave every good object's requests intact.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteIndexStore } from '../../src/index/sqlite-index-store.js';
import type { ObjectMeta } from '../../src/model.js';
import { retentionSchema, type RetentionConfig } from '../../src/retention/retention-config.js';
import { runRetention } from '../../src/retention/retention-run.js';
import { readRetentionStatus } from '../../src/retention/retention-status.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';
import { S3BlobStore } from '../../src/storage/s3-blob-store.js';
import type { Logger } from '../../src/telemetry/logger.js';
import { archiveInto, type CapturedEntry } from '../helpers/archive-builder.js';
import { tracePayload } from '../helpers/otlp-payloads.js';
import { startS3Server, type S3Server } from '../helpers/s3-server.js';
import { allObjects, allRequests } from './consistency.js';

const DAY = 86_400_000;

/** Files that are not ours, beside ours: none of them may be touched. */
const FOREIGN: Record<string, Buffer> = {
  'notes.txt': Buffer.from('someone else was here\n'),
  'svc/traces/obj-handmade.otlpc': Buffer.from('not an archive object, named like one'),
  'svc/traces/empty.otlpc': Buffer.alloc(0),
  'svc/traces/obj-x.otlpc.bak': Buffer.from('a backup someone made'),
  '_retention/README': Buffer.from('not a retention document'),
};

interface Store {
  name: string;
  open(dir: string): Promise<BlobStore>;
  dispose(): Promise<void>;
}

let s3: S3Server | undefined;
const STORES: Store[] = [
  { name: 'filesystem', open: async (dir) => new FsBlobStore(path.join(dir, 'objects')), dispose: async () => undefined },
  {
    name: 's3rver',
    open: async () => {
      s3 ??= await startS3Server();
      return new S3BlobStore(s3.settings({ prefix: `run-${Date.now()}/` }));
    },
    dispose: async () => {
      await s3?.dispose();
    },
  },
];

async function put(blobs: BlobStore, key: string, bytes: Buffer): Promise<void> {
  const writer = blobs.createWriter(key);
  await writer.write(bytes);
  await writer.complete();
}

async function readAll(blobs: BlobStore, key: string): Promise<Buffer | null> {
  const info = await blobs.stat(key);
  return info === null ? null : info.size === 0 ? Buffer.alloc(0) : blobs.readRange(key, 0, info.size);
}

function recordingLogger(): { logger: Logger; lines: { level: string; fields: Record<string, unknown>; msg: string }[] } {
  const lines: { level: string; fields: Record<string, unknown>; msg: string }[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg?: string) => void lines.push({ level, fields, msg: msg ?? '' });
  const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger } as unknown as Logger;
  return { logger, lines };
}

describe.each(STORES)('retention over bad objects on the $name store', (store) => {
  let dir: string;
  let blobs: BlobStore;
  let index: SqliteIndexStore;
  let objects: ObjectMeta[];

  const config = (policies: unknown[]): RetentionConfig =>
    // One object at a time: s3rver (not S3) can crash when one journal document is written while another in the same
    // "directory" is deleted (it removes directories it thinks empty), which concurrency makes likely.
    retentionSchema.parse({ batchSize: 2, concurrency: 1, leaseSettle: '10ms', policies });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'retention-audit-bad-'));
    blobs = await store.open(dir);
    await blobs.start();
    index = new SqliteIndexStore(path.join(dir, 'index.sqlite'));
    await index.start();
    const entries: CapturedEntry[] = [];
    for (let i = 0; i < 12; i++) entries.push({ tenant: 'svc', signal: 'traces', bytes: tracePayload(100 + i, 12).proto });
    await archiveInto(blobs, index, entries, 2);
    objects = await allObjects(index);
    expect(objects).toHaveLength(6);
    for (const [key, bytes] of Object.entries(FOREIGN)) await put(blobs, key, bytes);
  }, 60_000);

  afterAll(async () => {
    await index.close();
    await blobs.close();
    await store.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test('one damaged, one missing and one emptied object cost themselves only; nothing foreign is touched', async () => {
    const [damaged, missing, emptied, ...good] = objects;
    // Damage: the trailer (and so the manifest's place) overwritten; a blob removed by hand; a blob emptied.
    const bytes = (await readAll(blobs, damaged!.key))!;
    bytes.fill(0x5a, bytes.length - 40);
    await put(blobs, damaged!.key, bytes);
    await blobs.delete(missing!.key);
    await put(blobs, emptied!.key, Buffer.alloc(0));

    // A service rule needs each object's manifest: the three bad ones cannot say whether it holds.
    const policies = config([{ name: 'drop-checkout', match: { service: 'checkout', olderThan: '7d' }, action: { type: 'delete' } }]);
    const dry = await runRetention({ blobs, index, config: policies }, { asOfMs: Date.now() + 10 * DAY, dryRun: true });
    expect(dry.items.map((i) => i.outcome).sort()).toEqual(['candidate', 'candidate', 'candidate', 'failed', 'failed', 'failed']);
    expect(await allObjects(index)).toHaveLength(6);
    const { logger, lines } = recordingLogger();
    const run = await runRetention({ blobs, index, config: policies, logger }, { asOfMs: Date.now() + 10 * DAY });
    const byKey = new Map(run.items.map((i) => [i.key, i]));
    for (const bad of [damaged!, missing!, emptied!]) {
      expect({ key: bad.key, outcome: byKey.get(bad.key)?.outcome }).toEqual({ key: bad.key, outcome: 'failed' });
      expect(byKey.get(bad.key)?.error).toContain(bad.key);
    }
    for (const ok of good) expect({ key: ok.key, outcome: byKey.get(ok.key)?.outcome }).toEqual({ key: ok.key, outcome: 'done' });
    expect(run.summary.policies[0]).toMatchObject({ objects: { processed: 6, succeeded: 3, failed: 3 } });
    expect(run.summary.policies[0]!.errors).toHaveLength(3);
    expect(lines.filter((l) => l.level === 'error' && /retention/.test(l.msg)).length).toBeGreaterThanOrEqual(3);

    // The bad ones stay indexed as they were (an unreadable object is not provably matched by a service rule).
    const left = (await allObjects(index)).map((o) => o.key).sort();
    expect(left).toEqual([damaged!.key, missing!.key, emptied!.key].sort());
    for (const [key, bytes] of Object.entries(FOREIGN)) expect({ key, same: (await readAll(blobs, key))?.equals(bytes) }).toEqual({ key, same: true });
    expect((await readRetentionStatus(blobs)).lease).toBeNull();
    expect((await readRetentionStatus(blobs)).pending).toEqual([]);
  }, 60_000);

  test('a delete policy without a service rule takes the bad objects too (the index says they are ours), and nothing else', async () => {
    const run = await runRetention(
      { blobs, index, config: config([{ name: 'drop-all', match: { olderThan: '7d' }, action: { type: 'delete' } }]) },
      { asOfMs: Date.now() + 10 * DAY },
    );
    expect(run.items.map((i) => [i.outcome, i.error])).toEqual([["done", undefined], ["done", undefined], ["done", undefined]]);
    expect(await allObjects(index)).toEqual([]);
    expect(await allRequests(index)).toEqual([]);
    for (const [key, bytes] of Object.entries(FOREIGN)) expect({ key, same: (await readAll(blobs, key))?.equals(bytes) }).toEqual({ key, same: true });
  }, 60_000);
});
