import http from 'node:http';
import fs from 'node:fs';
export function rss(pid) { const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8'); const g = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)[1]) / 1024; return { rssMB: Math.round(g('VmRSS')), hwmMB: Math.round(g('VmHWM')) }; }
export function resetHwm(pid) { try { fs.writeFileSync(`/proc/${pid}/clear_refs`, '5'); } catch {} }
/** Polls /healthz every 20 ms; returns stop() → max latency ms. */
export function healthProbe(port) {
  let max = 0, stopped = false, n = 0;
  const loop = async () => { while (!stopped) { const t = performance.now(); await new Promise((res) => http.get({ host: '127.0.0.1', port, path: '/healthz' }, (r) => { r.resume(); r.on('end', res); }).on('error', res)); const d = performance.now() - t; n++; if (d > max) max = d; await new Promise((r) => setTimeout(r, 20)); } };
  const p = loop();
  return async () => { stopped = true; await p; return { maxMs: Math.round(max), probes: n }; };
}
