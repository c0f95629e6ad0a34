// What requests cost by their item counts rather than their bytes (docs/BENCHMARKS.md, "Item counts"):
//   node bench/item-costs/bench.mjs <scenario>      (after npm run build)
// scenarios: get-trace, get-trace-hot, get-logs, find-trace (env N=8, HOT=1), list-services (env N=200).
// Starts `serve` on loopback, loads valid requests that are extreme in count (gen.mjs), and measures one read: its
// time, the server's RSS and peak RSS (/proc), and the longest /healthz answer during it (event-loop blocking).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { traceRequest, traceIdOf, logsRequest } from './gen.mjs';
import { rss, resetHwm, healthProbe } from './probe.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const scenario = process.argv[2];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-'));
const proc = spawn(process.execPath, [path.join(ROOT, 'bin/otlp-capture.js'), 'serve', '--data-dir', dir, '--grpc-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--api-listen', '127.0.0.1:0'], {
  env: { ...process.env, OTLP_CAPTURE_LOG_LEVEL: 'info', OTLP_CAPTURE_SPOOL_DURABILITY: 'none', ...(process.env.EXTRA ? JSON.parse(process.env.EXTRA) : {}) }, stdio: ['ignore', 'pipe', 'pipe'] });
let out = '';
const ports = await new Promise((resolve, reject) => {
  const on = (c) => { out += c; const m = /"grpc":"[^"]*:(\d+)","admin":"[^"]*:(\d+)","http":"[^"]*:(\d+)","api":"[^"]*:(\d+)"/.exec(out); if (m) resolve({ grpc: +m[1], admin: +m[2], api: +m[4] }); };
  proc.stdout.on('data', on); proc.stderr.on('data', on); proc.on('exit', (c) => reject(new Error('exit ' + c + out)));
});
const pid = proc.pid;
const id = (x) => x;
const exp = (bytes, signal = 'traces') => new Promise((res) => { const c = new grpc.Client(`127.0.0.1:${ports.grpc}`, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': -1 }); const svc = { traces: 'trace', logs: 'logs', metrics: 'metrics' }[signal]; const S = signal[0].toUpperCase() + signal.slice(1, signal === 'traces' ? 5 : signal.length); c.makeUnaryRequest(`/opentelemetry.proto.collector.${svc}.v1.${signal === 'traces' ? 'Trace' : signal === 'logs' ? 'Logs' : 'Metrics'}Service/Export`, id, id, bytes, new grpc.Metadata(), { deadline: Date.now() + 60000 }, (e) => { c.close(); res(e ? `${e.code} ${e.details}` : 'ok'); }); });
const def = protoLoader.loadSync('otlpcapture/v1/capture.proto', { includeDirs: [path.join(ROOT, 'proto')], longs: String, enums: String, defaults: true, keepCase: true });
const Client = grpc.makeGenericClientConstructor(def['otlpcapture.v1.CaptureService'], 'CaptureService');
const api = new Client(`127.0.0.1:${ports.api}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
const call = (m, req) => new Promise((res) => api[m](req, (e, r) => res({ e, r })));
const log = (...a) => console.log(new Date().toISOString().slice(11, 19), ...a);
async function measure(label, fn) {
  await new Promise((r) => setTimeout(r, 300));
  resetHwm(pid);
  const before = rss(pid);
  const stop = healthProbe(ports.admin);
  const t = performance.now();
  const r = await fn();
  const ms = Math.round(performance.now() - t);
  const h = await stop();
  const after = rss(pid);
  log(label, { ms, before: before.rssMB, after: after.rssMB, peakMB: after.hwmMB, healthMaxMs: h.maxMs, result: r });
}
async function waitArchived(n) { for (;;) { const { r } = await call('ListRequests', { page_size: 1000 }); const arch = r.requests.filter((x) => x.tier === 'TIER_ARCHIVE').length; if (arch >= n) return r.requests; await new Promise((r) => setTimeout(r, 500)); } }
try {
  log('server', pid, rss(pid));
  if (scenario === 'get-trace' || scenario === 'get-trace-hot') {
    const { bytes, spans } = traceRequest(63 * 2 ** 20, 100_000);
    log('export', bytes.length, spans, await exp(bytes));
    const rows = scenario === 'get-trace' ? await waitArchived(1) : (await call('ListRequests', {})).r.requests;
    const reqId = rows[0].id; log('row', rows[0].tier, rows[0].items);
    await measure('GetRequest proto', async () => { const { e, r } = await call('GetRequest', { id: reqId, format: 'FORMAT_PROTO' }); return e ? e.code + ' ' + e.details : r.payload.length; });
    await measure('GetRequest json', async () => { const { e, r } = await call('GetRequest', { id: reqId, format: 'FORMAT_JSON' }); return e ? e.code + ' ' + e.details.slice(0, 300) : r.json.length; });
  } else if (scenario === 'get-logs') {
    const { bytes, records } = logsRequest(63 * 2 ** 20, process.env.EMPTY === '1');
    log('export', bytes.length, records, await exp(bytes, 'logs'));
    const rows = await waitArchived(1);
    await measure('GetRequest json logs', async () => { const { e, r } = await call('GetRequest', { id: rows[0].id, format: 'FORMAT_JSON' }); return e ? e.code + ' ' + e.details.slice(0, 300) : r.json.length; });
  } else if (scenario === 'find-trace') {
    const N = Number(process.env.N ?? 8);
    for (let i = 0; i < N; i++) log('export', i, await exp(traceRequest(63 * 2 ** 20, 100_000).bytes));
    const hotOnly = process.env.HOT === '1';
    if (!hotOnly) await waitArchived(N);
    await measure('FindTrace proto', async () => { const { e, r } = await call('FindTrace', { trace_id: traceIdOf(7), hot_only: hotOnly }); return e ? e.code + ' ' + e.details.slice(0, 200) : [r.payload.length, r.spans, r.requests.length]; });
    await measure('FindTrace json', async () => { const { e, r } = await call('FindTrace', { trace_id: traceIdOf(8), format: 'FORMAT_JSON', hot_only: hotOnly }); return e ? e.code + ' ' + e.details.slice(0, 200) : [r.json.length, r.spans]; });
    await measure('FindTrace absent', async () => { const { e, r } = await call('FindTrace', { trace_id: traceIdOf(7, 0xbb), hot_only: hotOnly }); return e ? e.code + ' ' + e.details.slice(0, 200) : [r.payload.length, r.spans]; });
  } else if (scenario === 'list-services') {
    const { manyServicesRequest } = await import('./gen.mjs');
    const N = Number(process.env.N ?? 200);
    for (let i = 0; i < N; i++) { const r = await exp(manyServicesRequest(10_000, 40, i)); if (i % 50 === 0) log('export', i, r); }
    for (const size of [100, 200, 1000]) {
      await measure(`ListRequests page ${size}`, async () => { const { e, r } = await call('ListRequests', { page_size: size }); return e ? e.code + ' ' + e.details.slice(0, 200) : [r.requests.length, r.requests[0]?.services.length]; });
    }
    await measure('4 × ListRequests page 1000 at once', async () => (await Promise.all([0, 1, 2, 3].map(() => call('ListRequests', { page_size: 1000 })))).map(({ e, r }) => (e ? e.code : r.requests.length)));
  }
  if (process.env.HOLD) await new Promise((r) => setTimeout(r, +process.env.HOLD));
} finally {
  log('final', rss(pid));
  proc.kill('SIGTERM');
  await new Promise((r) => proc.on('exit', r));
  fs.rmSync(dir, { recursive: true, force: true });
}
