// The archiver alone, in one process: how fast it archives ~1 MiB trace requests, and what each GiB costs in CPU
// (all threads: event loop, zstd workers, fs). Two modes on the embedded default (filesystem + SQLite):
//   follow — the archiver runs while requests are appended to the spool as fast as the spool takes them (fsync
//            'never'), as serve does under load minus the network: the unread backlog at the end says whether it
//            keeps up, and the rate is the whole pipeline's;
//   drain  — the spool is filled first, then the archiver archives it from disk (the path after a restart or when it
//            has fallen behind: every record read back).
// Usage: node bench/dist/bench/archiver-drain.js [MiB=512] [mode=both|follow|drain]
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Archiver } from '../src/archiver/archiver.js';
import { SqliteIndexStore } from '../src/index/sqlite-index-store.js';
import type { RequestMeta } from '../src/model.js';
import { scanRequest } from '../src/otlp/scanner.js';
import { Spool } from '../src/spool/spool.js';
import { FsBlobStore } from '../src/storage/fs-blob-store.js';
import { silentLogger } from '../src/telemetry/logger.js';
import { Metrics } from '../src/telemetry/metrics.js';
import { requestFingerprint } from '../src/util/fingerprint.js';
import { createUlidGenerator } from '../src/util/ulid.js';
import { traceRequestOfSize } from '../tests/helpers/otlp-payloads.js';

const MIB = 2 ** 20;

interface Prepared {
  payload: Buffer;
  scan: ReturnType<typeof scanRequest>;
}

function prepare(count: number): Prepared[] {
  return Array.from({ length: count }, (_, i) => {
    const payload = Buffer.from(traceRequestOfSize(MIB, i + 1).proto);
    return { payload, scan: scanRequest('traces', payload) };
  });
}

const nextId = createUlidGenerator();

function metaOf(p: Prepared): RequestMeta {
  const receivedAtMs = Date.now();
  return {
    id: nextId(receivedAtMs),
    tenant: 'bench',
    signal: 'traces',
    receivedAtMs,
    items: p.scan.items,
    services: p.scan.services,
    startNs: p.scan.startNs ?? 0n,
    endNs: p.scan.endNs ?? 0n,
    rawBytes: p.payload.length,
    fingerprint: requestFingerprint(p.payload),
  };
}

interface Run {
  mode: string;
  mib: number;
  seconds: number;
  mibPerSecond: number;
  cpuSeconds: number;
  cpuSecondsPerGiB: number;
  /** follow: bytes appended but not yet read by the archiver when the last append was durable. */
  unreadAtLastAppendMiB: number;
  peakRssMiB: number;
}

async function run(mode: 'follow' | 'drain', payloads: Prepared[], totalBytes: number): Promise<Run> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-archiver-bench-'));
  try {
    const store = new FsBlobStore(path.join(dir, 'objects'));
    const index = new SqliteIndexStore(path.join(dir, 'index.sqlite'));
    await store.start();
    await index.start();
    const spoolOptions = { dir: path.join(dir, 'spool'), maxBytes: 2 ** 40, fsync: 'never' as const, logger: silentLogger() };
    let spool = await Spool.open(spoolOptions);
    const appendAll = async (): Promise<number> => {
      let appended = 0;
      let i = 0;
      const inFlight = new Set<Promise<unknown>>();
      while (appended < totalBytes) {
        const p = payloads[i++ % payloads.length]!;
        const append = spool.append(metaOf(p), p.payload);
        inFlight.add(append);
        void append.finally(() => inFlight.delete(append));
        appended += p.payload.length;
        if (inFlight.size >= 8) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      return appended;
    };
    if (mode === 'drain') {
      await appendAll();
      await spool.close();
      spool = await Spool.open(spoolOptions);
    }
    const archiver = new Archiver(
      {
        maxObjectBytes: 64 * MIB,
        maxObjectAgeMs: 60_000,
        codec: 'zstd',
        uploadConcurrency: 4,
        maxOpenObjects: 32,
        retryInitialBackoffMs: 100,
        retryMaxBackoffMs: 1000,
      },
      { spool, blobStore: store, index, metrics: new Metrics({ processMetrics: false }), logger: silentLogger() },
    );
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    archiver.start();
    let unreadAtLastAppend = 0;
    if (mode === 'follow') {
      await appendAll();
      unreadAtLastAppend = spool.stats().unreadBytes;
    }
    spool.endTail();
    if (!(await archiver.drain(Date.now() + 600_000))) throw new Error('the archiver did not drain in 10 minutes');
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    if (spool.stats().unreleasedRecords !== 0) throw new Error('records left unarchived');
    await spool.close();
    await index.close();
    await store.close();
    const mib = totalBytes / MIB;
    return {
      mode,
      mib,
      seconds,
      mibPerSecond: mib / seconds,
      cpuSeconds,
      cpuSecondsPerGiB: cpuSeconds / (mib / 1024),
      unreadAtLastAppendMiB: unreadAtLastAppend / MIB,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const mib = Number(process.argv[2] ?? 512);
  const modes = (process.argv[3] ?? 'both') === 'both' ? (['follow', 'drain'] as const) : [process.argv[3] as 'follow' | 'drain'];
  const payloads = prepare(4);
  for (const mode of modes) {
    const r = await run(mode, payloads, mib * MIB);
    process.stdout.write(
      `${r.mode.padEnd(6)} ${r.mib.toFixed(0)} MiB in ${r.seconds.toFixed(1)} s = ${r.mibPerSecond.toFixed(1)} MiB/s; ` +
        `CPU ${r.cpuSeconds.toFixed(1)} s = ${r.cpuSecondsPerGiB.toFixed(2)} CPU-s/GiB; ` +
        `${mode === 'follow' ? `unread when the last append was durable ${r.unreadAtLastAppendMiB.toFixed(0)} MiB; ` : ''}peak RSS ${r.peakRssMiB.toFixed(0)} MiB\n`,
    );
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`archiver bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
