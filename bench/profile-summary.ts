// Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. `npm run bench -- --cpu-prof=DIR`): self time per
// function, and per source file, of the main thread. zlib and fs work on the libuv threadpool does not show here.
// Usage: node bench/dist/bench/profile-summary.js FILE.cpuprofile [TOP]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  ms: number;
  percent: number;
}

export function summarizeProfile(profile: CpuProfile): { totalMs: number; functions: SelfTime[]; files: SelfTime[] } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const perFunction = new Map<string, number>();
  const perFile = new Map<string, number>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    // timeDeltas[i] is the time since the previous sample; attribute it to this one, as DevTools does.
    const us = Math.max(0, profile.timeDeltas[i] ?? 0);
    totalUs += us;
    const frame = byId.get(id)?.callFrame;
    if (!frame) return;
    const file = shortUrl(frame.url);
    const fn = `${frame.functionName || '(anonymous)'} ${file ? `${file}:${frame.lineNumber + 1}` : ''}`.trim();
    perFunction.set(fn, (perFunction.get(fn) ?? 0) + us);
    const fileKey = file || frame.functionName;
    perFile.set(fileKey, (perFile.get(fileKey) ?? 0) + us);
  });
  const rank = (map: Map<string, number>): SelfTime[] =>
    [...map].map(([name, us]) => ({ name, ms: us / 1000, percent: (100 * us) / totalUs })).sort((a, b) => b.ms - a.ms);
  return { totalMs: totalUs / 1000, functions: rank(perFunction), files: rank(perFile) };
}

/** node_modules/<pkg>/…/file.js or dist/…/file.js or node:internal/…: short but unambiguous. */
function shortUrl(url: string): string {
  if (url === '') return '';
  const file = url.startsWith('file://') ? fileURLToPath(url) : url;
  const modules = file.lastIndexOf('node_modules/');
  if (modules >= 0) return file.slice(modules + 'node_modules/'.length);
  const dist = file.lastIndexOf('/dist/');
  if (dist >= 0) return file.slice(dist + 1);
  return file.startsWith('/') ? path.basename(file) : file;
}

function main(): void {
  const [file, topArg] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: profile-summary FILE.cpuprofile [TOP]\n');
    process.exit(2);
  }
  const top = Number(topArg ?? 25);
  const summary = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  const row = (s: SelfTime): string => `${s.percent.toFixed(1).padStart(5)}%  ${s.ms.toFixed(0).padStart(7)} ms  ${s.name}`;
  process.stdout.write(`${file}: ${(summary.totalMs / 1000).toFixed(1)} s of main-thread samples\n`);
  process.stdout.write(`\ntop functions by self time:\n${summary.functions.slice(0, top).map(row).join('\n')}\n`);
  process.stdout.write(`\nby file:\n${summary.files.slice(0, top).map(row).join('\n')}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main();
