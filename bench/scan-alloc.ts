// The ingest scan alone, single thread: MiB scanned per CPU-second and the JS heap it allocates per request (the
// inspector's sampling heap profiler, objects collected by minor and major GCs included), on the bench's four
// instrumentation-shaped ~950 KiB trace requests. To compare two builds, run each in its own process, alternating:
// inline caches shared between two scanner builds in one process would slow both.
// Usage: node bench/dist/bench/scan-alloc.js [rounds=40]
import inspector from 'node:inspector/promises';
import { scanRequest } from '../src/otlp/scanner.js';
import { instrumentedTraceRequestOfSize } from '../tests/helpers/instrumented-traces.js';

const rounds = Number(process.argv[2] ?? 40);
const payloads = [1, 2, 3, 4].map((seed) => Buffer.from(instrumentedTraceRequestOfSize(950 * 1024, seed).proto));
const mib = payloads.reduce((sum, p) => sum + p.length, 0) / 2 ** 20;

function mibPerCpuSecond(times: number): number {
  const before = process.cpuUsage();
  for (let r = 0; r < times; r++) for (const p of payloads) scanRequest('traces', p);
  const used = process.cpuUsage(before);
  return (mib * times) / ((used.user + used.system) / 1e6);
}

mibPerCpuSecond(Math.ceil(rounds / 2));
const rates = [mibPerCpuSecond(rounds), mibPerCpuSecond(rounds), mibPerCpuSecond(rounds)];

const session = new inspector.Session();
session.connect();
await session.post('HeapProfiler.enable');
await session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
const sampledRounds = 20;
for (let r = 0; r < sampledRounds; r++) for (const p of payloads) scanRequest('traces', p);
const { profile } = await session.post('HeapProfiler.stopSampling');
let allocated = 0;
const walk = (node: inspector.HeapProfiler.SamplingHeapProfileNode): void => {
  allocated += node.selfSize;
  node.children.forEach(walk);
};
walk(profile.head);
session.disconnect();

console.log(`scan: best ${Math.max(...rates).toFixed(0)} MiB/CPU-s (of ${rates.map((r) => r.toFixed(0)).join(', ')}), ` +
  `sampled JS allocation ${(allocated / (sampledRounds * payloads.length) / 1024).toFixed(0)} KiB per request`);
