// An I/O error (EIO) while an archive object is written: the object is dropped, rebuilt from the spool and written
// again, nothing is lost or stored twice, and the archive verifies clean afterwards. The fault is injected into the
// real filesystem blob store's writer (its bytes still go to disk: only one write call fails).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Archiver } from '../../src/archiver/archiver.js';
import { readRequestBytes } from '../../src/archiver/object-reader.js';
import { SqliteIndexStore } from '../../src/index/sqlite-index-store.js';
import { verify } from '../../src/index/verify.js';
import { Spool } from '../../src/spool/spool.js';
import type { BlobWriter } from '../../src/storage/blob-store.js';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { payload, requestMeta } from '../archiver/fixtures.js';
import { waitFor } from '../helpers/wait.js';

/** The real store; the first `failures` writers it hands out fail their second write with EIO. */
class EioOnWrite extends FsBlobStore {
  failures = 3;
  injected = 0;

  override createWriter(key: string): BlobWriter {
    const inner = super.createWriter(key);
    if (this.failures <= 0) return inner;
    this.failures -= 1;
    let writes = 0;
    const store = this;
    return {
      async write(chunk: Buffer): Promise<void> {
        writes += 1;
        if (writes === 2) {
          store.injected += 1;
          throw Object.assign(new Error(`EIO: i/o error, write`), { code: 'EIO', errno: -5, syscall: 'write' });
        }
        await inner.write(chunk);
      },
      complete: () => inner.complete(),
      abort: () => inner.abort(),
    };
  }
}

test('EIO writing an object: retried from the spool, nothing lost, nothing twice, the archive verifies clean', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'archive-eio-'));
  const store = new EioOnWrite(path.join(dir, 'objects'));
  const index = new SqliteIndexStore(path.join(dir, 'index.sqlite'));
  const metrics = new Metrics({ processMetrics: false });
  await store.start();
  await index.start();
  const spool = await Spool.open({ dir: path.join(dir, 'spool'), maxBytes: 2 ** 30, fsync: 'never', logger: silentLogger() });
  const archiver = new Archiver(
    { maxObjectBytes: 2 ** 20, maxObjectAgeMs: 100, codec: 'gzip', uploadConcurrency: 2, maxOpenObjects: 8, retryInitialBackoffMs: 20, retryMaxBackoffMs: 200 },
    { spool, blobStore: store, index, metrics, logger: silentLogger() },
  );
  try {
    archiver.start();
    const sent = [];
    for (let i = 0; i < 12; i += 1) {
      const bytes = payload(1000 + i * 300);
      const meta = requestMeta(bytes, { tenant: i % 2 === 0 ? 'acme' : 'globex' });
      await spool.append(meta, bytes);
      sent.push({ meta, bytes });
    }
    const rows = await waitFor('all indexed', async () => {
      const found = await index.listRequests({ limit: 100 });
      return found.length >= sent.length && spool.stats().unreleasedRecords === 0 ? found : undefined;
    }, 20_000);
    expect(store.injected).toBe(3);
    expect(rows.map((r) => r.id).sort()).toEqual(sent.map((s) => s.meta.id).sort());
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const s of sent) expect((await readRequestBytes(store, byId.get(s.meta.id)!)).equals(s.bytes)).toBe(true);
    const failures = (await metrics.archiveFailures.get()).values.reduce((sum, v) => sum + v.value, 0);
    expect(failures).toBeGreaterThanOrEqual(3);
    expect(fs.readdirSync(path.join(dir, 'objects', '.tmp'))).toEqual([]); // failed attempts left nothing behind
    expect(await verify(store, index)).toMatchObject({ ok: true, blocks: sent.length });
    expect(archiver.health().stalled).toBe(false);
  } finally {
    spool.endTail();
    await archiver.drain(Date.now() + 5000);
    await spool.close();
    await index.close();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
