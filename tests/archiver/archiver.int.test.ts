// The Archiver with its real neighbours — Spool, FsBlobStore, SqliteIndexStore — in a temp dir. Faults are real
// ones (a blob root that is no longer a directory, an SQLite write lock held by another connection), never mocks.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Archiver, type ArchiverOptions } from '../../src/archiver/archiver.js';
import { readRequestBytes } from '../../src/archiver/object-reader.js';
import { SqliteIndexStore } from '../../src/index/sqlite-index-store.js';
import type { ArchivedRequest, RequestMeta, Signal } from '../../src/model.js';
import { Spool } from '../../src/spool/spool.js';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { waitFor } from '../helpers/wait.js';
import { payload, requestMeta, visibleFiles } from './fixtures.js';

const BASE_OPTIONS: ArchiverOptions = {
  maxObjectBytes: 64 * 2 ** 20,
  maxObjectAgeMs: 60 * 60_000,
  codec: 'gzip',
  uploadConcurrency: 2,
  maxOpenObjects: 32,
  retryInitialBackoffMs: 20,
  retryMaxBackoffMs: 200,
};

interface Sent {
  meta: RequestMeta;
  bytes: Buffer;
}

/** One data dir: spool, blob store and index, plus an archiver over them. */
class Rig {
  readonly blobRoot: string;
  readonly spoolDir: string;
  readonly indexPath: string;
  readonly metrics = new Metrics({ processMetrics: false });
  spool!: Spool;
  archiver!: Archiver;
  readonly store: FsBlobStore;
  readonly index: SqliteIndexStore;

  constructor(readonly dir: string, spoolName = 'spool') {
    this.blobRoot = path.join(dir, 'objects');
    this.spoolDir = path.join(dir, spoolName);
    this.indexPath = path.join(dir, 'index.sqlite');
    this.store = new FsBlobStore(this.blobRoot);
    this.index = new SqliteIndexStore(this.indexPath, { busyTimeoutMs: 20 });
  }

  async open(segmentBytes = 64 * 1024): Promise<this> {
    await this.store.start();
    await this.index.start();
    await this.openSpool(segmentBytes);
    return this;
  }

  async openSpool(segmentBytes = 64 * 1024): Promise<Spool> {
    this.spool = await Spool.open({ dir: this.spoolDir, segmentBytes, maxBytes: 256 * 2 ** 20, fsync: 'never' });
    return this.spool;
  }

  startArchiver(options: Partial<ArchiverOptions> = {}): Archiver {
    this.archiver = new Archiver(
      { ...BASE_OPTIONS, ...options },
      { spool: this.spool, blobStore: this.store, index: this.index, metrics: this.metrics, logger: silentLogger() },
    );
    this.archiver.start();
    return this.archiver;
  }

  async append(sizes: number[], overrides: Partial<RequestMeta> = {}): Promise<Sent[]> {
    const sent: Sent[] = [];
    for (const size of sizes) {
      const bytes = payload(size);
      const meta = requestMeta(bytes, overrides);
      await this.spool.append(meta, bytes);
      sent.push({ meta, bytes });
    }
    return sent;
  }

  /** Ends the tail and drains within `ms`. */
  async drain(ms = 20_000): Promise<boolean> {
    this.spool.endTail();
    return this.archiver.drain(Date.now() + ms);
  }

  async indexed(): Promise<ArchivedRequest[]> {
    return this.index.listRequests({ limit: 100_000 });
  }

  async waitIndexed(count: number): Promise<ArchivedRequest[]> {
    return waitFor(`${count} requests indexed`, async () => {
      const rows = await this.indexed();
      return rows.length >= count ? rows : undefined;
    });
  }

  async failures(stage: string): Promise<number> {
    const metric = await this.metrics.archiveFailures.get();
    return metric.values.filter((v) => v.labels.stage === stage).reduce((sum, v) => sum + v.value, 0);
  }

  async objectsArchived(): Promise<number> {
    const metric = await this.metrics.objectsArchived.get();
    return metric.values.reduce((sum, v) => sum + v.value, 0);
  }

  spoolFiles(): string[] {
    return fs.readdirSync(this.spoolDir).filter((name) => name.endsWith('.spool') || name.endsWith('.released'));
  }

  segmentFiles(): string[] {
    return this.spoolFiles().filter((name) => name.endsWith('.spool'));
  }

  /**
   * After close: no segment is left, and whatever a reopen finds (a release log that lost a race with its segment's
   * deletion, see the spool's open problems) is swept, leaving the directory empty of spool files.
   */
  async expectSpoolEmptyAfterClose(): Promise<void> {
    await this.spool.close();
    expect(this.segmentFiles()).toEqual([]);
    await this.openSpool();
    expect(this.spool.stats().unreleasedRecords).toBe(0);
    await this.spool.close();
    expect(this.spoolFiles()).toEqual([]);
  }

  async close(): Promise<void> {
    await this.spool.close();
    await this.index.close();
    await this.store.close();
  }
}

let dir: string;
let rigs: Rig[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'archiver-int-'));
  rigs = [];
});

afterEach(async () => {
  for (const rig of rigs) {
    // A real deadline, so that uploads in flight after a failed test finish before their directory is removed.
    rig.spool.endTail();
    await rig.archiver?.drain(Date.now() + 5000).catch(() => undefined);
    await rig.close().catch(() => undefined);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

async function newRig(segmentBytes?: number, spoolName?: string): Promise<Rig> {
  const rig = await new Rig(dir, spoolName).open(segmentBytes);
  rigs.push(rig);
  return rig;
}

/** Every sent request is indexed exactly once and reads back byte for byte from its object. */
async function expectArchivedOnce(rig: Rig, sent: Sent[]): Promise<ArchivedRequest[]> {
  const rows = await rig.indexed();
  const ids = rows.map((row) => row.id);
  expect(new Set(ids).size).toBe(ids.length);
  expect(ids.sort()).toEqual(sent.map((s) => s.meta.id).sort());
  const byId = new Map(rows.map((row) => [row.id, row]));
  for (const { meta, bytes } of sent) {
    const row = byId.get(meta.id)!;
    expect(row).toMatchObject({ tenant: meta.tenant, signal: meta.signal, rawBytes: bytes.length, services: meta.services });
    expect((await readRequestBytes(rig.store, row)).equals(bytes)).toBe(true);
  }
  // Every object in the index is in the store and the other way round: no orphan, no object indexed twice.
  const objects = await rig.index.listObjects({ limit: 10_000 });
  expect(visibleFiles(rig.blobRoot).sort()).toEqual(objects.map((o) => o.key).sort());
  expect(objects.reduce((sum, o) => sum + o.requestCount, 0)).toBe(rows.length);
  return rows;
}

/** Request ids grouped by the object that holds them, in id order. */
function idsByObject(rows: ArchivedRequest[]): string[][] {
  const groups = new Map<string, string[]>();
  for (const row of [...rows].sort((a, b) => a.id.localeCompare(b.id))) {
    const group = groups.get(row.objectKey) ?? [];
    group.push(row.id);
    groups.set(row.objectKey, group);
  }
  return [...groups.values()].sort((a, b) => a[0]!.localeCompare(b[0]!));
}

describe('rolling objects', () => {
  test('an object is sealed before a request would take it past maxObjectBytes; a lone larger request gets its own', async () => {
    const rig = await newRig(8 * 1024);
    rig.startArchiver({ maxObjectBytes: 10_000 });
    const sent = await rig.append([3000, 3000, 3000, 3000, 7000, 25_000, 4000, 4000]);
    const id = (i: number): string => sent[i]!.meta.id;

    // Three objects are full; the last one is still open (its age limit is an hour away).
    const rows = await rig.waitIndexed(6);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await rig.indexed()).toHaveLength(6);
    expect(idsByObject(rows)).toEqual([[id(0), id(1), id(2)], [id(3), id(4)], [id(5)]]);

    expect(await rig.drain()).toBe(true);
    const all = await expectArchivedOnce(rig, sent);
    expect(idsByObject(all)).toEqual([[id(0), id(1), id(2)], [id(3), id(4)], [id(5)], [id(6), id(7)]]);
    const objects = await rig.index.listObjects({});
    expect(objects.map((o) => o.rawBytes).sort((a, b) => a - b)).toEqual([8000, 9000, 10_000, 25_000]);
    expect(await rig.objectsArchived()).toBe(4);

    // Everything released: each segment file went away once sealed, read and released; close seals the last.
    expect(rig.spool.stats().unreleasedRecords).toBe(0);
    expect(rig.segmentFiles().length).toBeLessThanOrEqual(1);
    await rig.expectSpoolEmptyAfterClose();
  });

  test('objects are sealed at maxObjectAge without a drain, one per (tenant, signal), each holding only its own', async () => {
    const rig = await newRig(16 * 1024);
    const kinds: [string, Signal][] = [['acme', 'traces'], ['acme', 'logs'], ['globex', 'traces'], ['globex', 'metrics']];
    const sent: Sent[] = [];
    // Spooled before the archiver starts, so that it reads them all well within the age limit even on a busy machine.
    for (let round = 0; round < 5; round++) {
      for (const [tenant, signal] of kinds) sent.push(...(await rig.append([500 + round * 100], { tenant, signal })));
    }
    const started = Date.now();
    rig.startArchiver({ maxObjectAgeMs: 1000 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await rig.indexed()).toEqual([]); // neither size nor age reached yet
    await rig.waitIndexed(sent.length);
    const objects = await rig.index.listObjects({});
    expect(objects).toHaveLength(4);
    for (const object of objects) {
      expect(object.requestCount).toBe(5);
      expect(object.key.startsWith(`${object.tenant}/${object.signal}/`)).toBe(true);
      expect(object.sealedAtMs - object.createdAtMs).toBeGreaterThanOrEqual(1000);
    }
    expect(objects.map((o) => `${o.tenant}/${o.signal}`).sort()).toEqual(kinds.map(([t, s]) => `${t}/${s}`).sort());
    const rows = await rig.indexed();
    for (const row of rows) {
      const object = objects.find((o) => o.key === row.objectKey)!;
      expect([row.tenant, row.signal]).toEqual([object.tenant, object.signal]);
    }
    expect(Date.now() - started).toBeLessThan(20_000);

    // A second wave after the first objects are sealed goes into new objects (sealed by age again, or by drain).
    const later = await rig.append([700, 800], { tenant: 'acme', signal: 'traces' });
    const rowsAfter = await rig.waitIndexed(sent.length + later.length);
    const firstKeys = new Set(objects.map((o) => o.key));
    for (const { meta } of later) expect(firstKeys.has(rowsAfter.find((r) => r.id === meta.id)!.objectKey)).toBe(false);
    expect(await rig.drain()).toBe(true);
    await expectArchivedOnce(rig, [...sent, ...later]);
    expect(rig.spool.stats().unreleasedRecords).toBe(0);
  });

  test('many requests over many segments: each archived once, byte-identical, every segment file deleted', async () => {
    const rig = await newRig(32 * 1024);
    rig.startArchiver({ maxObjectBytes: 50_000, maxObjectAgeMs: 200, uploadConcurrency: 3 });
    const sizes = Array.from({ length: 200 }, (_, i) => 200 + ((i * 7919) % 6000));
    const sent = [
      ...(await rig.append(sizes.slice(0, 100), { tenant: 'acme', signal: 'traces' })),
      ...(await rig.append(sizes.slice(100), { tenant: 'globex', signal: 'logs' })),
    ];
    await rig.waitIndexed(sent.length);
    expect(await rig.drain()).toBe(true);
    await expectArchivedOnce(rig, sent);
    for (const object of await rig.index.listObjects({})) {
      expect(object.rawBytes <= 50_000 || object.requestCount === 1).toBe(true);
    }
    await rig.expectSpoolEmptyAfterClose();
  });
});

describe('real faults', () => {
  test('blob store gone (its root replaced by a file): nothing indexed, the spool keeps everything; on repair the backlog is archived once', async () => {
    const rig = await newRig(16 * 1024);
    rig.startArchiver({ maxObjectAgeMs: 100 });
    const warmUp = await rig.append([1000]);
    await rig.waitIndexed(1);

    const away = `${rig.blobRoot}.away`;
    fs.renameSync(rig.blobRoot, away);
    fs.writeFileSync(rig.blobRoot, 'not a directory');
    const sent = [
      ...(await rig.append([2000, 3000, 4000, 5000, 6000, 7000], { tenant: 'acme', signal: 'traces' })),
      ...(await rig.append([1500, 2500, 3500], { tenant: 'globex', signal: 'metrics' })),
    ];
    await waitFor('upload retries', async () => ((await rig.failures('upload')) >= 4 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await rig.index.knownRequestIds(sent.map((s) => s.meta.id))).toEqual(new Set());
    expect(await rig.indexed()).toHaveLength(1);
    expect(rig.spool.stats().unreleasedRecords).toBe(sent.length);
    expect(await rig.objectsArchived()).toBe(1);
    const failuresDuringOutage = await rig.failures('upload');

    fs.rmSync(rig.blobRoot);
    fs.renameSync(away, rig.blobRoot);
    await rig.waitIndexed(1 + sent.length);
    await new Promise((resolve) => setTimeout(resolve, 300)); // any duplicate would show up by now
    await expectArchivedOnce(rig, [...warmUp, ...sent]);
    expect(await rig.index.listObjects({})).toHaveLength(3); // warm-up, acme/traces, globex/metrics
    expect(rig.spool.stats().unreleasedRecords).toBe(0);
    expect(failuresDuringOutage).toBeGreaterThanOrEqual(4);
    expect(fs.readdirSync(path.join(rig.blobRoot, '.tmp'))).toEqual([]); // failed attempts left no temp files
    expect(await rig.drain()).toBe(true);
  });

  test('index locked by another connection past busy_timeout: objects wait unindexed, rows catch up after, none duplicated', async () => {
    const rig = await newRig(16 * 1024);
    rig.startArchiver({ maxObjectAgeMs: 100 });
    const blocker = new Database(rig.indexPath);
    blocker.pragma('busy_timeout = 0');
    blocker.exec('BEGIN EXCLUSIVE');
    let locked = true;
    try {
      const sent = [
        ...(await rig.append([2000, 3000, 4000], { tenant: 'acme', signal: 'logs' })),
        ...(await rig.append([1000, 1200], { tenant: 'acme', signal: 'traces' })),
      ];
      // Both objects complete in the store, waiting for their index rows (the commit is retried, not the upload).
      const pending = await waitFor('both objects uploaded and their commits retried', async () => {
        const files = visibleFiles(rig.blobRoot);
        return files.length === 2 && (await rig.failures('index')) >= 3 ? files : undefined;
      });
      expect(blocker.prepare('SELECT count(*) FROM requests').pluck().get()).toBe(0);
      expect(rig.spool.stats().unreleasedRecords).toBe(sent.length);
      expect(await rig.failures('upload')).toBe(0);

      blocker.exec('COMMIT');
      locked = false;
      await rig.waitIndexed(sent.length);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await expectArchivedOnce(rig, sent);
      expect(visibleFiles(rig.blobRoot).sort()).toEqual(pending.sort());
      expect(rig.spool.stats().unreleasedRecords).toBe(0);
      expect(await rig.drain()).toBe(true);
    } finally {
      if (locked) blocker.exec('ROLLBACK');
      blocker.close();
    }
  });
});

describe('restart', () => {
  test('recovered records that are already indexed are released, not archived twice; the rest are archived once', async () => {
    // The state a crash leaves after the index commit of A and before A's release reached disk (release logs are
    // not fsynced), with B accepted but not archived yet: spool X holds A and B, the index holds A.
    const first = await newRig(1024 * 1024, 'spool-x');
    const a = await first.append([1000, 2000, 3000, 4000, 5000], { tenant: 'acme', signal: 'traces' });
    const b = await first.append([1100, 2100, 3100, 4100], { tenant: 'acme', signal: 'traces' });
    await first.spool.close();

    // Spool Z gets A alone and archives it into the same store and index.
    const other = await newRig(1024 * 1024, 'spool-z');
    for (const { meta, bytes } of a) await other.spool.append(meta, bytes);
    other.startArchiver();
    expect(await other.drain()).toBe(true);
    await other.close();
    expect((await first.indexed()).map((r) => r.id).sort()).toEqual(a.map((s) => s.meta.id).sort());
    const objectOfA = (await first.index.listObjects({})).map((o) => o.key);
    expect(objectOfA).toHaveLength(1);

    await first.openSpool(1024 * 1024);
    expect(first.spool.stats().unreleasedRecords).toBe(a.length + b.length);
    first.startArchiver();
    expect(await first.drain()).toBe(true);

    const rows = await expectArchivedOnce(first, [...a, ...b]);
    const objects = await first.index.listObjects({});
    expect(objects).toHaveLength(2);
    const newObject = objects.find((o) => o.key !== objectOfA[0])!;
    expect(newObject.requestCount).toBe(b.length);
    for (const row of rows) {
      const inA = a.some((s) => s.meta.id === row.id);
      expect(row.objectKey).toBe(inA ? objectOfA[0] : newObject.key);
    }
    expect(await first.objectsArchived()).toBe(1);
    expect(first.spool.stats().unreleasedRecords).toBe(0);
    await first.expectSpoolEmptyAfterClose();
  });

  test('a restart after a full archive finds nothing to do', async () => {
    const rig = await newRig();
    rig.startArchiver();
    const sent = await rig.append([1000, 2000]);
    expect(await rig.drain()).toBe(true);
    await rig.spool.close();
    await rig.openSpool();
    expect(rig.spool.stats().unreleasedRecords).toBe(0);
    rig.startArchiver();
    expect(await rig.drain()).toBe(true);
    await expectArchivedOnce(rig, sent);
    expect(await rig.objectsArchived()).toBe(1);
  });
});

describe('drain', () => {
  test('seals open objects (their age limit far away) and returns true once all is indexed and released', async () => {
    const rig = await newRig();
    rig.startArchiver();
    const sent = [
      ...(await rig.append([1000, 2000], { tenant: 'acme', signal: 'traces' })),
      ...(await rig.append([3000], { tenant: 'acme', signal: 'metrics' })),
    ];
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await rig.indexed()).toEqual([]);
    const started = Date.now();
    expect(await rig.drain(30_000)).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000); // returns when done, not at the deadline
    await expectArchivedOnce(rig, sent);
    expect(await rig.index.listObjects({})).toHaveLength(2);
    expect(rig.spool.stats().unreleasedRecords).toBe(0);
  });

  test('with an expired deadline it returns false, starts nothing, and leaves every record for the next start', async () => {
    const rig = await newRig();
    rig.startArchiver();
    const sent = await rig.append([1000, 2000, 3000]);
    rig.spool.endTail();
    expect(await rig.archiver.drain(Date.now() - 1)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await rig.indexed()).toEqual([]);
    expect(visibleFiles(rig.blobRoot)).toEqual([]);
    expect(rig.spool.stats().unreleasedRecords).toBe(sent.length);
    await rig.spool.close();

    await rig.openSpool();
    expect(rig.spool.stats().unreleasedRecords).toBe(sent.length);
    rig.startArchiver();
    expect(await rig.drain()).toBe(true);
    await expectArchivedOnce(rig, sent);
  });

  test('with a broken blob store it gives up at the deadline instead of hanging, and keeps the records', async () => {
    const rig = await newRig();
    rig.startArchiver();
    fs.rmSync(rig.blobRoot, { recursive: true });
    fs.writeFileSync(rig.blobRoot, 'not a directory');
    const sent = await rig.append([1000, 2000]);
    const started = Date.now();
    rig.spool.endTail();
    expect(await rig.archiver.drain(Date.now() + 500)).toBe(false);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(450);
    expect(took).toBeLessThan(3000);
    expect(await rig.indexed()).toEqual([]);
    expect(rig.spool.stats().unreleasedRecords).toBe(sent.length);
    expect(await rig.failures('upload')).toBeGreaterThan(0);
  });

  test('with nothing spooled, even an expired deadline reports drained', async () => {
    const rig = await newRig();
    rig.startArchiver();
    rig.spool.endTail();
    expect(await rig.archiver.drain(Date.now() - 1)).toBe(true);
  });
});
