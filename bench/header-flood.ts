// What callers without a valid token cost honest Collectors: Export latency and throughput of honest clients against
// `otlp-capture serve` (embedded default, fsync, one ingest token), alone and while an attacker keeps 300 header-only
// Export streams open without a valid token (renewing them continuously), in the same run.
//
//   npm run build && npx tsc -p tsconfig.bench.json && node bench/dist/bench/header-flood.js [--seconds N] [--clients N]
//
// Prints a table and writes bench/results/header-flood-<time>.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { OTLP_SERVICE_NAMES } from '../src/grpc/otlp-services.js';
import { summarizeLatencies, type LatencySummary } from './latency.js';
import { describeMachine } from './machine.js';
import { traceRequestOfSize } from '../tests/helpers/otlp-payloads.js';
import { REPO_ROOT, startCaptureServer, type RunningServer } from './servers.js';

const TOKEN = 'bench-ingest-token-5f1c0a9e';
const HELD_STREAMS = 300;
const SESSIONS = 3;
const RENEW_EVERY_MS = 20;
const RENEW_PER_SESSION = 10;
const PAYLOAD_BYTES = 64 * 1024;

interface Phase {
  name: string;
  calls: number;
  failed: number;
  requestsPerSecond: number;
  latency: LatencySummary;
  attackStreamsOpened: number;
  receivingRequestsMax: number;
}

function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

const identity = (value: Buffer): Buffer => value;
const EXPORT_PATH = `/${OTLP_SERVICE_NAMES.traces}/Export`;

async function honestLoad(address: string, clients: number, seconds: number, payload: Buffer): Promise<{ latencies: number[]; failed: number }> {
  const latencies: number[] = [];
  let failed = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const client = new grpc.Client(address, grpc.credentials.createInsecure());
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${TOKEN}`);
      while (performance.now() < until) {
        const started = performance.now();
        const ok = await new Promise<boolean>((resolve) =>
          client.makeUnaryRequest(EXPORT_PATH, identity, identity, payload, metadata.clone(), { deadline: Date.now() + 30_000 }, (error) => resolve(!error)),
        );
        if (ok) latencies.push(performance.now() - started);
        else failed += 1;
      }
      client.close();
    }),
  );
  return { latencies, failed };
}

/** 300 header-only streams without a valid token, held open and renewed; returns a stop function and a counter. */
function startAttack(port: number): { stop: () => void; opened: () => number } {
  let opened = 0;
  const sessions = Array.from({ length: SESSIONS }, () => http2.connect(`http://127.0.0.1:${port}`).on('error', () => undefined));
  const open = (session: http2.ClientHttp2Session): http2.ClientHttp2Stream => {
    opened += 1;
    const stream = session.request({ ':method': 'POST', ':path': EXPORT_PATH, 'content-type': 'application/grpc', te: 'trailers' }, { endStream: false });
    stream.on('error', () => undefined);
    stream.resume();
    return stream;
  };
  const held = sessions.map((session) => Array.from({ length: HELD_STREAMS / SESSIONS }, () => open(session)));
  const timer = setInterval(() => {
    held.forEach((streams, s) => {
      for (const stream of streams.splice(0, RENEW_PER_SESSION)) stream.close(http2.constants.NGHTTP2_CANCEL);
      for (let i = 0; i < RENEW_PER_SESSION; i++) streams.push(open(sessions[s]!));
    });
  }, RENEW_EVERY_MS);
  return {
    stop: () => {
      clearInterval(timer);
      for (const session of sessions) session.destroy();
    },
    opened: () => opened,
  };
}

async function receivingMax(adminPort: number, running: () => boolean): Promise<number> {
  let max = 0;
  while (running()) {
    const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    max = Math.max(max, Number(/^otlpcapture_receiving_requests (\S+)$/m.exec(text)?.[1] ?? 0));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return max;
}

async function phase(name: string, server: RunningServer, clients: number, seconds: number, payload: Buffer, attack: boolean): Promise<Phase> {
  const port = Number(server.grpcAddress.split(':')[1]);
  const attacker = attack ? startAttack(port) : null;
  if (attacker) await new Promise((resolve) => setTimeout(resolve, 500));
  let running = true;
  const sampler = receivingMax(server.adminPort!, () => running);
  const { latencies, failed } = await honestLoad(server.grpcAddress, clients, seconds, payload);
  running = false;
  attacker?.stop();
  return {
    name,
    calls: latencies.length,
    failed,
    requestsPerSecond: latencies.length / seconds,
    latency: summarizeLatencies(latencies),
    attackStreamsOpened: attacker?.opened() ?? 0,
    receivingRequestsMax: await sampler,
  };
}

async function main(): Promise<void> {
  const seconds = argument('seconds', 15);
  const clients = argument('clients', 4);
  const machine = describeMachine(os.tmpdir(), REPO_ROOT);
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  log(`machine: ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}; commit ${machine.commit}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-header-flood-'));
  const server = await startCaptureServer({
    dataDir: path.join(dir, 'data'),
    config: { auth: { bearerTokens: [{ token: TOKEN }] }, server: { http: { listen: '127.0.0.1:0' } }, log: { level: 'warn' } },
  });
  const payload = Buffer.from(traceRequestOfSize(PAYLOAD_BYTES, 1).proto);
  const phases: Phase[] = [];
  try {
    // Alone, under attack, alone again: a drift of the machine shows as a difference between the two baselines.
    for (const [name, attack] of [['alone', false], ['300 unauthenticated header-only streams', true], ['alone again', false]] as const) {
      log(`running: ${name} (${clients} honest clients, ${seconds} s)...`);
      phases.push(await phase(name, server, clients, seconds, payload, attack));
    }
  } finally {
    await server.stop(30_000);
    rmSync(dir, { recursive: true, force: true });
  }
  log('\n| phase | honest Exports/s | p50 ms | p99 ms | max ms | failed | attack streams opened | max receiving_requests |');
  log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const p of phases) {
    log(`| ${p.name} | ${p.requestsPerSecond.toFixed(0)} | ${p.latency.p50Ms.toFixed(1)} | ${p.latency.p99Ms.toFixed(1)} | ${p.latency.maxMs.toFixed(1)} | ${p.failed} | ${p.attackStreamsOpened} | ${p.receivingRequestsMax} |`);
  }
  const results = path.join(REPO_ROOT, 'bench', 'results');
  mkdirSync(results, { recursive: true });
  const file = path.join(results, `header-flood-${new Date().toISOString().replace(/:/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ machine, seconds, clients, payloadBytes: payload.length, phases }, null, 2));
  log(`\nwritten: ${path.relative(REPO_ROOT, file)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
