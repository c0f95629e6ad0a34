// The archiver never stops and never stops silently: a record it cannot archive is quarantined after a few attempts
// and everything else is archived; an outage makes health() say "stalled" once the backlog is older than maxLag, and
// clears when it is over. Real Spool, FsBlobStore and SqliteIndexStore; faults are injected into the data (a record
// whose meta the object format refuses) or the environment (a blob root that is no longer a directory).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Archiver, type ArchiverOptions } from '../../src/archiver/archiver.js';
import { readObjectManifest, readRequestBytes } from '../../src/archiver/object-reader.js';
import { reindex } from '../../src/index/reindex.js';
import { SqliteIndexStore } from '../../src/index/sqlite-index-store.js';
import type { ArchivedRequest, ObjectMeta, RequestMeta } from '../../src/model.js';
import { Spool } from '../../src/spool/spool.js';
import type { QuarantinedRange } from '../../src/spool/spool.js';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { requestFingerprint } from '../../src/util/fingerprint.js';
import { waitFor } from '../helpers/wait.js';
import { payload, requestMeta } from './fixtures.js';

const OPTIONS: ArchiverOptions = {
  maxObjectBytes: 64 * 2 ** 20,
  maxObjectAgeMs: 100,
  codec: 'gzip',
  uploadConcurrency: 2,
  maxOpenObjects: 32,
  retryInitialBackoffMs: 20,
  retryMaxBackoffMs: 200,
};

/** The real SQLite index, remembering what the archiver committed. */
class RecordingIndex extends SqliteIndexStore {
  readonly commits: ArchivedRequest[][] = [];
  override async commitObject(object: ObjectMeta, requests: ArchivedRequest[]): Promise<void> {
    this.commits.push(requests);
    await super.commitObject(object, requests);
  }
}

interface Sent {
  meta: RequestMeta;
  bytes: Buffer;
}

let dir: string;
let spool: Spool;
let store: FsBlobStore;
let index: RecordingIndex;
let archiver: Archiver | undefined;
let metrics: Metrics;
let quarantined: QuarantinedRange[];

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'archiver-health-'));
  store = new FsBlobStore(path.join(dir, 'objects'));
  index = new RecordingIndex(path.join(dir, 'index.sqlite'));
  metrics = new Metrics({ processMetrics: false });
  quarantined = [];
  await store.start();
  await index.start();
  spool = await Spool.open({
    dir: path.join(dir, 'spool'),
    maxBytes: 2 ** 30,
    fsync: 'never',
    logger: silentLogger(),
    onQuarantine: (range) => quarantined.push(range),
  });
});

afterEach(async () => {
  spool.endTail();
  await archiver?.drain(Date.now() + 5000).catch(() => undefined);
  archiver = undefined;
  await spool.close();
  await index.close();
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function start(options: Partial<ArchiverOptions> = {}): Archiver {
  archiver = new Archiver({ ...OPTIONS, ...options }, { spool, blobStore: store, index, metrics, logger: silentLogger() });
  archiver.start();
  return archiver;
}

async function append(sizes: number[], overrides: Partial<RequestMeta> = {}): Promise<Sent[]> {
  const sent: Sent[] = [];
  for (const size of sizes) {
    const bytes = payload(size);
    const meta = requestMeta(bytes, { fingerprint: requestFingerprint(bytes), ...overrides });
    await spool.append(meta, bytes);
    sent.push({ meta, bytes });
  }
  return sent;
}

async function counter(c: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> {
  return (await c.get()).values.reduce((sum, v) => sum + v.value, 0);
}

async function expectArchived(sent: Sent[]): Promise<void> {
  const rows = await waitFor(`${sent.length} requests indexed`, async () => {
    const found = await index.listRequests({ limit: 10_000 });
    return found.length >= sent.length ? found : undefined;
  });
  expect(rows.map((r) => r.id).sort()).toEqual(sent.map((s) => s.meta.id).sort());
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const s of sent) expect((await readRequestBytes(store, byId.get(s.meta.id)!)).equals(s.bytes)).toBe(true);
}

test('a poison record is quarantined after its attempts; every other record of its object is archived', async () => {
  const a = start();
  const before = await append([1000, 2000]);
  // Valid spool framing, but the object format refuses it: its meta claims another length than its bytes have.
  const poisonBytes = payload(1500);
  const poison = requestMeta(poisonBytes, { rawBytes: 1499 });
  await spool.append(poison, poisonBytes);
  const after = await append([3000, 500]);

  await expectArchived([...before, ...after]);
  await waitFor('the poison record quarantined', async () => (spool.stats().unreleasedRecords === 0 ? true : undefined));
  expect(await index.knownRequestIds([poison.id])).toEqual(new Set());
  expect(await counter(metrics.archiverQuarantined)).toBe(1);
  expect(await counter(metrics.archiveFailures)).toBeGreaterThanOrEqual(3);
  expect(quarantined).toEqual([expect.objectContaining({ source: 'archiver', requestId: poison.id, bytesSaved: true })]);
  const sidecar = JSON.parse(fs.readFileSync(quarantined[0]!.sidecar, 'utf8'));
  expect(sidecar.reason).toMatch(/cannot be archived: .*rawBytes=1499 but has 1500 bytes/);
  // Its bytes are kept: the payload is the tail of the saved frame.
  expect(fs.readFileSync(path.join(path.dirname(quarantined[0]!.sidecar), sidecar.bytesFile)).subarray(-1500).equals(poisonBytes)).toBe(true);
  expect(a.health()).toEqual({ stalled: false, reason: null });
});

test('a record that can never make an object key is quarantined at once; the rest is archived', async () => {
  start();
  const good = await append([700, 800]);
  const bad = requestMeta(payload(10), { tenant: 'a/b' });
  await spool.append(bad, payload(10));
  const more = await append([900]);
  await expectArchived([...good, ...more]);
  await waitFor('quarantined', async () => (quarantined.length === 1 ? true : undefined));
  expect(quarantined[0]).toMatchObject({ requestId: bad.id, source: 'archiver' });
});

test('an outage stalls archiving: health() says why once the backlog is older than maxLag, and recovers after', async () => {
  const a = start({ maxLagMs: 400 });
  const warmUp = await append([100]);
  await expectArchived(warmUp);
  expect(a.health().stalled).toBe(false);

  const root = path.join(dir, 'objects');
  fs.renameSync(root, `${root}.away`);
  fs.writeFileSync(root, 'not a directory');
  const sent = await append([1000, 2000, 3000]);
  // The fixtures' requests are stamped long ago, so the backlog counts as old as soon as the archiver has run for
  // maxLag: wait for the failing upload's error to be part of the reason too (a loaded machine may report the
  // backlog before the first upload of the new object has failed).
  const stalled = await waitFor('stalled, with the upload error', async () => {
    const health = a.health();
    return health.stalled && health.reason?.includes('last error') ? health : undefined;
  }, 10_000, 50);
  expect(stalled.reason).toMatch(/^archiver (stalled|behind): .*\(archiver\.maxLag 400ms\); last error .* ago: .*is no longer a directory/);
  const noProgress = await waitFor('no progress for longer than maxLag', async () => {
    const reason = a.health().reason;
    return reason?.startsWith('archiver stalled: no progress') ? reason : undefined;
  });
  expect(noProgress).toMatch(/while 3 requests wait/);

  fs.rmSync(root);
  fs.renameSync(`${root}.away`, root);
  await expectArchived([...warmUp, ...sent]);
  expect(a.health()).toEqual({ stalled: false, reason: null });
});

test('fingerprints reach the manifest and the rows given to commitObject', async () => {
  start();
  const sent = await append([300, 400, 500]);
  await expectArchived(sent);
  const committed = index.commits.flat();
  expect(committed.map((r) => r.fingerprint)).toEqual(sent.map((s) => requestFingerprint(s.bytes)));
  const manifest = await readObjectManifest(store, committed[0]!.objectKey);
  expect(manifest.requests.map((r) => r.fingerprint)).toEqual(sent.map((s) => s.meta.fingerprint));
  // reindex passes them on from the manifests.
  const rebuilt = new RecordingIndex(path.join(dir, 'rebuilt.sqlite'));
  await rebuilt.start();
  try {
    await reindex(store, rebuilt);
    expect(rebuilt.commits.flat().map((r) => r.fingerprint)).toEqual(sent.map((s) => s.meta.fingerprint));
  } finally {
    await rebuilt.close();
  }
});
