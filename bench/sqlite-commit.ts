// The embedded index's share of archiving a trace object: CPU of SqliteIndexStore.commitObject for objects shaped
// like the sustained bench's (63 requests of ~1 MiB, ~400 distinct trace ids each, i.e. one 64 MiB object), on an
// index that grows as it would under ingest. Prints the median and best CPU-ms per commit (this process only).
// Usage: node bench/dist/bench/sqlite-commit.js [objects=60]
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteIndexStore } from '../src/index/sqlite-index-store.js';
import type { ArchivedRequest, ObjectMeta } from '../src/model.js';
import { createUlidGenerator } from '../src/util/ulid.js';

const OBJECTS = Number(process.argv[2] ?? 60);
const REQUESTS = 63;
const TRACES = 400;

function objectOf(n: number, nextId: () => string): { object: ObjectMeta; requests: ArchivedRequest[] } {
  const key = `traces/acme/2026/12/06/${String(n).padStart(6, '0')}.otlpc`;
  const now = Date.now();
  const requests: ArchivedRequest[] = Array.from({ length: REQUESTS }, (_, i) => ({
    id: nextId(),
    tenant: 'acme',
    signal: 'traces',
    receivedAtMs: now,
    items: 3000,
    services: ['checkout', 'frontend'],
    startNs: BigInt(now) * 1_000_000n,
    endNs: BigInt(now) * 1_000_000n + 5_000_000_000n,
    rawBytes: 1 << 20,
    objectKey: key,
    offset: i * 130_000,
    length: 130_000,
    codec: 'zstd',
    crc32: i,
    fingerprint: randomBytes(8).toString('hex'),
    traceIds: Array.from({ length: TRACES }, () => randomBytes(16).toString('hex')),
  }));
  const object: ObjectMeta = {
    key, tenant: 'acme', signal: 'traces', createdAtMs: now, sealedAtMs: now, requestCount: REQUESTS,
    rawBytes: REQUESTS << 20, storedBytes: REQUESTS * 130_000, codec: 'zstd',
    startNs: requests[0]!.startNs, endNs: requests[0]!.endNs,
  };
  return { object, requests };
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'sqlite-commit-'));
const index = new SqliteIndexStore(path.join(dir, 'index.sqlite'));
await index.start();
try {
  const nextId = createUlidGenerator();
  const costs: number[] = [];
  let systemMs = 0;
  for (let n = 0; n < OBJECTS; n++) {
    const { object, requests } = objectOf(n, () => nextId(Date.now()));
    const before = process.cpuUsage();
    await index.commitObject(object, requests);
    const used = process.cpuUsage(before);
    costs.push((used.user + used.system) / 1000);
    systemMs += used.system / 1000;
  }
  const sorted = [...costs].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  process.stdout.write(`${OBJECTS} commits of ${REQUESTS} requests x ${TRACES} trace ids: median ${median.toFixed(1)} CPU-ms, best ${sorted[0]!.toFixed(1)} CPU-ms ` +
    `(${((median / 1000) * 16).toFixed(2)} CPU-s per GiB of 1 MiB requests at the median; ` +
    `${((systemMs / costs.reduce((a, b) => a + b, 0)) * 100).toFixed(0)} % of it in the kernel)\n`);
} finally {
  await index.close();
  rmSync(dir, { recursive: true, force: true });
}
