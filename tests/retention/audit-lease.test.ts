// The retention lease when its holder is somewhere this process cannot see: a lease of the same host name but
// another pid namespace (containers sharing the node's host name, e.g. pods with hostNetwork) names a pid that
// means nothing here, so it must hold until it expires; only a lease of our own namespace whose process is gone
// is taken over at once. And a run stalled past its lease's expiry starts nothing more unless the lease is still
// (again) its own.
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LeaseHeldError, RetentionLease, type LeaseRecord } from '../../src/retention/lease.js';
import { retentionSchema } from '../../src/retention/retention-config.js';
import { runRetention } from '../../src/retention/retention-run.js';
import { readRetentionStatus } from '../../src/retention/retention-status.js';
import { StateStore } from '../../src/retention/state-store.js';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';
import { buildArchive, type CapturedEntry } from '../helpers/archive-builder.js';
import { tracePayload } from '../helpers/otlp-payloads.js';

let dir: string;
let blobs: FsBlobStore;
let state: StateStore;

/** A pid that belonged to a process that has exited (so nothing here answers to it). */
function deadPid(): number {
  for (;;) {
    const child = spawnSync(process.execPath, ['-e', '']);
    try {
      process.kill(child.pid!, 0);
    } catch {
      return child.pid!;
    }
  }
}

const ourNamespace = readlinkSync('/proc/self/ns/pid');

function lease(fields: Partial<LeaseRecord>): LeaseRecord {
  return { owner: 'other', host: os.hostname(), pid: deadPid(), acquiredAtMs: Date.now(), expiresAtMs: Date.now() + 60_000, ...fields };
}

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'retention-audit-lease-'));
  blobs = new FsBlobStore(path.join(dir, 'objects'));
  await blobs.start();
  state = new StateStore(blobs);
});

afterEach(async () => {
  await blobs.close();
  rmSync(dir, { recursive: true, force: true });
});

const take = () => new RetentionLease(state, { ttlMs: 60_000, settleMs: 10 }).acquire();

describe('retention lease holders out of sight', () => {
  test('same host name, another pid namespace: the pid means nothing here, so the lease holds until it expires', async () => {
    await state.write('lease.json', lease({ pidNamespace: 'pid:[1]' }));
    await expect(take()).rejects.toThrow(LeaseHeldError);
    expect((await readRetentionStatus(blobs)).lease?.live).toBe(true);
    await state.write('lease.json', lease({ pidNamespace: 'pid:[1]', expiresAtMs: Date.now() - 1 }));
    await expect(take()).resolves.toBeUndefined();
  });

  test('a lease without a namespace (an older version wrote it) is not judged by its pid either', async () => {
    await state.write('lease.json', lease({}));
    await expect(take()).rejects.toThrow(LeaseHeldError);
  });

  test('our own namespace and a process that is gone: taken over at once', async () => {
    await state.write('lease.json', lease({ pidNamespace: ourNamespace }));
    expect((await readRetentionStatus(blobs)).lease?.live).toBe(false);
    await expect(take()).resolves.toBeUndefined();
    // A lease this process writes names its namespace, so the next run here can judge it.
    expect((await state.read<LeaseRecord>('lease.json'))?.pidNamespace).toBe(ourNamespace);
  });
});

describe('a run whose lease lapses while it is stalled', () => {
  // The holder is "slow": its event loop is blocked (a long GC pause, a starved or frozen container) for longer than
  // the lease lasts, so it cannot renew; meanwhile another run may take the expired lease over.
  const DAY = 86_400_000;
  const entries = (): CapturedEntry[] => Array.from({ length: 6 }, (_, i) => ({ tenant: 'slow', signal: 'traces' as const, bytes: tracePayload(500 + i, 8).proto }));
  const config = retentionSchema.parse({
    leaseTtl: '1s',
    leaseSettle: '10ms',
    batchSize: 10,
    concurrency: 1,
    policies: [{ name: 'drop', match: { olderThan: '7d' }, action: { type: 'delete' } }],
  });
  const stallAfterFirst = (then: () => void) => {
    let stalled = false;
    return (p: { done: number }) => {
      if (stalled || p.done < 1) return;
      stalled = true;
      const until = Date.now() + 1300;
      while (Date.now() < until); // blocks everything, renewals included, past the 1s lease
      then();
    };
  };

  test('taken over meanwhile: the stalled run starts nothing more, and leaves the new holder its lease', async () => {
    const archive = await buildArchive(dir, entries(), 1, blobs);
    try {
      const taker: LeaseRecord = { owner: 'taker', host: 'elsewhere', pid: 4242, acquiredAtMs: Date.now(), expiresAtMs: Date.now() + 60_000 };
      const run = await runRetention(
        { blobs, index: archive.index, config },
        // Another host takes the expired lease while this process cannot run: written straight into the store's file.
        { asOfMs: Date.now() + 10 * DAY, onProgress: stallAfterFirst(() => writeFileSync(path.join(dir, 'objects', '_retention', 'lease.json'), JSON.stringify(taker))) },
      );
      expect(run.items.filter((i) => i.outcome === 'done')).toHaveLength(1);
      expect(run.items.filter((i) => i.outcome === 'failed').every((i) => /lease was lost/.test(i.error ?? ''))).toBe(true);
      expect(await archive.index.listObjects({})).toHaveLength(5);
      expect((await state.read<LeaseRecord>('lease.json'))?.owner).toBe('taker');
    } finally {
      await archive.index.close();
    }
  }, 30_000);

  test('nobody took it: the run takes its lease again and finishes', async () => {
    const archive = await buildArchive(dir, entries(), 1, blobs);
    try {
      const run = await runRetention({ blobs, index: archive.index, config }, { asOfMs: Date.now() + 10 * DAY, onProgress: stallAfterFirst(() => undefined) });
      expect(run.items.map((i) => i.outcome)).toEqual(Array(6).fill('done'));
      expect(await state.read('lease.json')).toBeNull();
    } finally {
      await archive.index.close();
    }
  }, 30_000);
});
