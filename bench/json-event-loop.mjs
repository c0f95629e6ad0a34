// OTLP/JSON conversion: what one body costs the event loop converted inline (parseOtlpJson) and handed to the worker
// (parseOtlpJsonOffThread's pool), by body size; and the longest event-loop stall while an 8 MiB body converts
// (ad hoc, not a case of `npm run bench`). Run after `npm run build`: node bench/json-event-loop.mjs [ROUNDS].
import { performance } from 'node:perf_hooks';
import { parseOtlpJson } from '../dist/otlp/json.js';
import { JsonWorkerPool } from '../dist/otlp/json-workers.js';

const ROUNDS = Number(process.argv[2] ?? 20);

/** Instrumented-service-like spans (~25 attributes each) as OTLP/JSON text of about `bytes`. */
function traceJson(bytes) {
  const hex = (n, width) => n.toString(16).padStart(width, '0').slice(-width);
  const span = (i) => ({
    traceId: hex(i * 7919 + 1, 16) + hex(i, 16),
    spanId: hex(i * 31 + 5, 16),
    parentSpanId: hex(i * 31 + 4, 16),
    name: `GET /api/v1/orders/${i % 50}`,
    kind: 2,
    startTimeUnixNano: String(1_700_000_000_000_000_000n + BigInt(i) * 1000n),
    endTimeUnixNano: String(1_700_000_000_000_000_000n + BigInt(i) * 1000n + 250_000n),
    attributes: [
      { key: 'http.request.method', value: { stringValue: 'GET' } },
      { key: 'http.response.status_code', value: { intValue: String(200 + (i % 3)) } },
      { key: 'url.path', value: { stringValue: `/api/v1/orders/${i}` } },
      { key: 'server.address', value: { stringValue: 'orders.internal' } },
      { key: 'server.port', value: { intValue: '8080' } },
      { key: 'net.peer.ip', value: { stringValue: `10.0.${i % 256}.${(i * 7) % 256}` } },
      { key: 'user_agent.original', value: { stringValue: 'Mozilla/5.0 (X11; Linux x86_64) otel-bench' } },
      { key: 'sampled', value: { boolValue: i % 2 === 0 } },
      { key: 'ratio', value: { doubleValue: (i % 100) / 7 } },
      ...Array.from({ length: 16 }, (_, k) => ({ key: `app.attribute_${k}`, value: { stringValue: `value-${k}-${i % 97}` } })),
    ],
    status: { code: 1 },
  });
  const perSpan = JSON.stringify(span(123456)).length + 1;
  const count = Math.max(1, Math.round(bytes / perSpan));
  const request = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'orders' } }] },
        scopeSpans: [{ scope: { name: 'bench', version: '1.0.0' }, spans: Array.from({ length: count }, (_, i) => span(i)) }],
      },
    ],
  };
  return Buffer.from(JSON.stringify(request));
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const pool = new JsonWorkerPool();

/** Event-loop time (ms) per body, inline and handed over; wall time (ms) of a hand-over round trip. */
async function perBody(body) {
  const inline = [];
  for (let i = 0; i < ROUNDS; i++) {
    const start = performance.now();
    parseOtlpJson('traces', body);
    inline.push(performance.now() - start);
  }
  const busy = [];
  const wall = [];
  for (let i = 0; i < ROUNDS; i++) {
    const before = performance.eventLoopUtilization();
    const start = performance.now();
    await pool.run('traces', body);
    wall.push(performance.now() - start);
    busy.push(performance.eventLoopUtilization(before).active);
  }
  return { inline: median(inline), handOver: median(busy), roundTrip: median(wall) };
}

/** Event-loop active time (ms) while `convert` runs, and the longest gap (ms) a 1 ms timer saw (a second run). */
async function eventLoopCost(convert) {
  const before = performance.eventLoopUtilization();
  await convert();
  const active = performance.eventLoopUtilization(before).active;
  let last = performance.now();
  let longestGap = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longestGap = Math.max(longestGap, now - last);
    last = now;
  }, 1);
  await new Promise((resolve) => setTimeout(resolve, 20));
  longestGap = 0;
  await convert();
  await new Promise((resolve) => setTimeout(resolve, 20));
  clearInterval(ticker);
  return { active, longestGap };
}

// Warm-up: the worker's start-up and first load of the .proto files, and both paths' code compiled.
for (let i = 0; i < 50; i++) {
  parseOtlpJson('traces', traceJson(16 * 1024));
  await pool.run('traces', traceJson(16 * 1024));
}
console.log('body KiB | inline ms | hand-over ms (event loop) | round trip ms (wall)');
for (const kib of [1, 2, 4, 8, 16, 32, 64, 256, 1024]) {
  const { inline, handOver, roundTrip } = await perBody(traceJson(kib * 1024));
  console.log(`${String(kib).padStart(8)} | ${inline.toFixed(3).padStart(9)} | ${handOver.toFixed(3).padStart(25)} | ${roundTrip.toFixed(3).padStart(20)}`);
}
const big = traceJson(8 * 2 ** 20);
const rounds = Math.min(ROUNDS, 5);
console.log(`\n8 MiB body (${big.length} bytes), ${rounds} rounds: event-loop active ms / longest gap of a 1 ms timer ms`);
for (let i = 0; i < rounds; i++) {
  const inline = await eventLoopCost(async () => parseOtlpJson('traces', big));
  const worker = await eventLoopCost(() => pool.run('traces', big));
  console.log(`inline ${inline.active.toFixed(0)} / ${inline.longestGap.toFixed(0)}    worker ${worker.active.toFixed(1)} / ${worker.longestGap.toFixed(1)}`);
}
await pool.close();
