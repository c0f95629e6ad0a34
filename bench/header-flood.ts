// What callers without a valid token cost honest Collectors: Export latency and throughput of honest clients against
// `otlp-capture serve` (embedded default, fsync, one ingest token), alone and while an attacker — a process of its
// own — keeps 300 header-only Export streams open without a valid token, renewing some every 20 ms (slowly, and
// then as fast as it can), in the same run, with the server's CPU time per phase.
//
//   npm run build && npx tsc -p tsconfig.bench.json && node bench/dist/bench/header-flood.js [--seconds N] [--clients N]
//
// Prints a table and writes bench/results/header-flood-<time>.json.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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
const PAYLOAD_BYTES = 64 * 1024;

interface Phase {
  name: string;
  calls: number;
  failed: number;
  requestsPerSecond: number;
  latency: LatencySummary;
  attackStreamsPerSecond: number;
  /** Attacking connections the server closed (and the attacker re-opened). */
  attackReconnects: number;
  receivingRequestsMax: number;
  /** Server CPU (user + system) over the phase, % of one core. */
  serverCpuPercent: number;
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

/**
 * The attacker (run as `--attack PORT RENEW`): 300 header-only streams without a valid token, held open; every 20 ms
 * each session drops RENEW of them and opens as many new ones. Reports how many it opened when told to stop.
 */
function attack(port: number, renewPerSession: number): void {
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
  const started = performance.now();
  let reconnects = 0;
  const timer = setInterval(() => {
    held.forEach((streams, s) => {
      try {
        for (const stream of streams.splice(0, renewPerSession)) stream.close(http2.constants.NGHTTP2_CANCEL);
        for (let i = 0; i < renewPerSession; i++) streams.push(open(sessions[s]!));
      } catch {
        // The server closed this connection (Node ends sessions that keep opening streams beyond the limit): reconnect.
        sessions[s]!.destroy();
        sessions[s] = http2.connect(`http://127.0.0.1:${port}`).on('error', () => undefined);
        streams.splice(0);
        reconnects += 1;
      }
    });
  }, RENEW_EVERY_MS);
  process.on('message', () => {
    clearInterval(timer);
    for (const session of sessions) session.destroy();
    process.send!({ perSecond: opened / ((performance.now() - started) / 1000), reconnects }, () => process.exit(0));
  });
  process.send!('ready');
}

function startAttacker(port: number, renewPerSession: number): Promise<{ stop: () => Promise<{ perSecond: number; reconnects: number }> }> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--attack', String(port), String(renewPerSession)]);
  return new Promise((resolve) =>
    child.once('message', () =>
      resolve({
        stop: () =>
          new Promise((done) => {
            child.once('message', (message) => done(message as { perSecond: number; reconnects: number }));
            child.send('stop');
          }),
      }),
    ),
  );
}

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
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

async function phase(name: string, server: RunningServer, clients: number, seconds: number, payload: Buffer, renewPerSession: number | null): Promise<Phase> {
  const port = Number(server.grpcAddress.split(':')[1]);
  const attacker = renewPerSession === null ? null : await startAttacker(port, renewPerSession);
  if (attacker) await new Promise((resolve) => setTimeout(resolve, 500));
  let running = true;
  const sampler = receivingMax(server.adminPort!, () => running);
  const cpuBefore = cpuSeconds(server.pid);
  const { latencies, failed } = await honestLoad(server.grpcAddress, clients, seconds, payload);
  const cpu = cpuSeconds(server.pid) - cpuBefore;
  running = false;
  const attacked = attacker ? await attacker.stop() : { perSecond: 0, reconnects: 0 };
  return {
    name,
    calls: latencies.length,
    failed,
    requestsPerSecond: latencies.length / seconds,
    latency: summarizeLatencies(latencies),
    attackStreamsPerSecond: attacked.perSecond,
    attackReconnects: attacked.reconnects,
    receivingRequestsMax: await sampler,
    serverCpuPercent: (100 * cpu) / seconds,
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
    // Alone, under attack (slow and fast renewal), alone again: a drift of the machine shows between the baselines.
    const plan: [string, number | null][] = [
      ['alone', null],
      ['300 held, 1 renewed per 20 ms per connection', 1],
      ['300 held, 10 renewed per 20 ms per connection', 10],
      ['alone again', null],
    ];
    for (const [name, renew] of plan) {
      log(`running: ${name} (${clients} honest clients, ${seconds} s)...`);
      phases.push(await phase(name, server, clients, seconds, payload, renew));
    }
  } finally {
    await server.stop(30_000);
    rmSync(dir, { recursive: true, force: true });
  }
  log('\n| phase | honest Exports/s | p50 ms | p99 ms | max ms | failed | refused streams/s | attacker reconnects | server CPU % | max receiving_requests |');
  log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const p of phases) {
    log(
      `| ${p.name} | ${p.requestsPerSecond.toFixed(0)} | ${p.latency.p50Ms.toFixed(1)} | ${p.latency.p99Ms.toFixed(1)} | ${p.latency.maxMs.toFixed(1)} | ` +
        `${p.failed} | ${p.attackStreamsPerSecond.toFixed(0)} | ${p.attackReconnects} | ${p.serverCpuPercent.toFixed(0)} | ${p.receivingRequestsMax} |`,
    );
  }
  const results = path.join(REPO_ROOT, 'bench', 'results');
  mkdirSync(results, { recursive: true });
  const file = path.join(results, `header-flood-${new Date().toISOString().replace(/:/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ machine, seconds, clients, payloadBytes: payload.length, phases }, null, 2));
  log(`\nwritten: ${path.relative(REPO_ROOT, file)}`);
}

if (process.argv[2] === '--attack') {
  attack(Number(process.argv[3]), Number(process.argv[4]));
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
