// Why the SQLite trace index is split into generations: commit cost as the table grows, for the layout the index
// uses (key (generation, trace id), generations of 64 Ki rows, written through SqliteIndexStore itself) against one
// B-tree keyed by trace id alone (the obvious layout, emulated with a plain table). Synthetic commits of `rows`
// random trace ids each, like the objects of the main archive.
import { existsSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { SqliteIndexStore } from '../src/index/sqlite-index-store.js';
import type { ArchivedRequest } from '../src/model.js';
import { createUlidGenerator } from '../src/util/ulid.js';
import { stats, type Stats } from './readback-archive.js';

export interface GrowthPoint {
  rowsMillions: number;
  generations: { commitMs: Stats; walMiB: number };
  singleKey: { commitMs: Stats; walMiB: number };
}

const randomHex = (): string => {
  let out = '';
  for (let i = 0; i < 4; i++) out += Math.floor(Math.random() * 2 ** 32).toString(16).padStart(8, '0');
  return out;
};

export async function measureIndexGrowth(dir: string, commits: number, rowsPerCommit: number, every: number): Promise<GrowthPoint[]> {
  const generationsFile = path.join(dir, 'growth-generations.sqlite');
  const singleFile = path.join(dir, 'growth-single-key.sqlite');
  for (const file of [generationsFile, singleFile]) for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
  const index = new SqliteIndexStore(generationsFile);
  await index.start();
  const single = new Database(singleFile);
  single.pragma('journal_mode = WAL');
  single.pragma('synchronous = FULL');
  single.exec('CREATE TABLE trace_requests (trace_id BLOB NOT NULL, request_id TEXT NOT NULL, PRIMARY KEY (trace_id, request_id)) WITHOUT ROWID');
  const insert = single.prepare('INSERT OR IGNORE INTO trace_requests (trace_id, request_id) VALUES (?, ?)');
  const nextId = createUlidGenerator();
  const wal = (file: string): number => (existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size / 2 ** 20 : 0);
  const points: GrowthPoint[] = [];
  let generationTimes: number[] = [];
  let singleTimes: number[] = [];
  for (let c = 1; c <= commits; c++) {
    const now = Date.now();
    const key = `default/traces/growth/${nextId(now)}.otlpc`;
    const perRequest = Math.ceil(rowsPerCommit / 64);
    const requests: ArchivedRequest[] = Array.from({ length: 64 }, (_, i) => ({
      id: nextId(now), tenant: 'default', signal: 'traces', receivedAtMs: now, items: perRequest, services: [], startNs: 1n, endNs: 2n,
      rawBytes: 1, objectKey: key, offset: 28 + i, length: 1, codec: 'gzip', crc32: 0,
      traceIds: Array.from({ length: perRequest }, randomHex),
    }));
    const object = {
      key, tenant: 'default', signal: 'traces' as const, createdAtMs: now, sealedAtMs: now, requestCount: 64, rawBytes: 64,
      storedBytes: 100, codec: 'gzip' as const, startNs: 1n, endNs: 2n,
    };
    let t0 = performance.now();
    await index.commitObject(object, requests);
    generationTimes.push(performance.now() - t0);
    t0 = performance.now();
    single.transaction(() => {
      for (const r of requests) for (const id of r.traceIds!) insert.run(Buffer.from(id, 'hex'), r.id);
    }).immediate();
    singleTimes.push(performance.now() - t0);
    if (c % every === 0) {
      points.push({
        rowsMillions: (c * 64 * perRequest) / 1e6,
        generations: { commitMs: stats(generationTimes), walMiB: wal(generationsFile) },
        singleKey: { commitMs: stats(singleTimes), walMiB: wal(singleFile) },
      });
      generationTimes = [];
      singleTimes = [];
    }
  }
  await index.close();
  single.close();
  return points;
}
