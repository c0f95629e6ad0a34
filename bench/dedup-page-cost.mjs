// Distinct requests: what deduplication costs a listing page and a count on SQLite at a few million rows (ad hoc, not a
// case of `npm run bench`). Run after `npm run build`: node bench/dedup-page-cost.mjs [ROWS]. 1 % of requests are
// retries of the request before them.
import { SqliteIndexStore } from '../dist/index/sqlite-index-store.js';
import { QueryService } from '../dist/query/query-service.js';
import { createUlidGenerator } from '../dist/util/ulid.js';
import fs from 'node:fs';
const file = '/tmp/otlp-capture-dedup-cost/index.sqlite';
fs.rmSync('/tmp/otlp-capture-dedup-cost', { recursive: true, force: true });
const store = new SqliteIndexStore(file);
await store.start();
const N = Number(process.argv[2] ?? 2_000_000);
const PER_OBJECT = 10_000;
const next = createUlidGenerator();
let t = 1_750_000_000_000;
const started = Date.now();
for (let o = 0; o < N / PER_OBJECT; o++) {
  const key = `t${o % 4}/traces/obj-${o}.otlpc`;
  const requests = [];
  for (let i = 0; i < PER_OBJECT; i++) {
    t += 3;
    const fp = (i % 100 === 0 && requests.length > 0) ? requests[requests.length - 1].fingerprint : (o * PER_OBJECT + i).toString(16).padStart(16, '0');
    requests.push({ id: next(t), tenant: `t${o % 4}`, signal: 'traces', receivedAtMs: t, items: 1, services: ['svc'], startNs: BigInt(t) * 1000000n, endNs: BigInt(t) * 1000000n, rawBytes: 100, objectKey: key, offset: i * 100, length: 100, codec: 'zstd', crc32: 0, fingerprint: fp });
  }
  await store.commitObject({ key, tenant: `t${o % 4}`, signal: 'traces', createdAtMs: t, sealedAtMs: t, requestCount: PER_OBJECT, rawBytes: 100 * PER_OBJECT, storedBytes: 100 * PER_OBJECT, codec: 'zstd', startNs: 0n, endNs: 0n }, requests);
}
console.log(`filled ${N} rows in ${(Date.now() - started) / 1000}s`);
for (const windowMs of [0, 15 * 60_000]) {
  const q = new QueryService(store, null, undefined, windowMs);
  const times = [];
  let cursor;
  for (let i = 0; i < 30; i++) {
    const s = process.hrtime.bigint();
    const page = await q.listPage({ tenant: 't1', signal: 'traces' }, { limit: 100, newestFirst: true, ...(cursor ? { cursor } : {}) });
    times.push(Number(process.hrtime.bigint() - s) / 1e6);
    cursor = page.nextCursor;
  }
  times.sort((a, b) => a - b);
  const c = process.hrtime.bigint();
  const count = await q.countRequests({ tenant: 't1', signal: 'traces' });
  console.log(`window ${windowMs}: page of 100 newest-first median ${times[15].toFixed(2)} ms p90 ${times[27].toFixed(2)} ms; distinct count ${count} in ${(Number(process.hrtime.bigint() - c) / 1e6).toFixed(0)} ms`);
}
await store.close();
