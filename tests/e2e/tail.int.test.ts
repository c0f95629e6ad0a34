// `otlp-capture tail`, as a user runs it beside a running serve: on the local data directory (following the spool),
// with --since (back in time, then live, each request once), and against the server (--server: CaptureService.Tail),
// with filters; a tail whose reader stalls is told how many requests it missed, on stderr, and the server counts them.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RequestView } from '../../src/query/request-view.js';
import { logsPayload, traceRequestOfSize, tracePayload } from '../helpers/otlp-payloads.js';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { CLI, runCli, startServer, type ServerProcess } from '../helpers/server-process.js';
import { waitFor } from '../helpers/wait.js';

interface TailProcess {
  proc: ChildProcessWithoutNullStreams;
  lines(): string[];
  stderr(): string;
  stop(): Promise<void>;
}

function startTail(args: string[]): TailProcess {
  const proc = spawn(process.execPath, [CLI, 'tail', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  proc.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  return {
    proc,
    lines: () => out.split('\n').filter((line) => line !== ''),
    stderr: () => err,
    stop: async () => {
      proc.kill('SIGINT');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

const idOf = (summaryLine: string): string => summaryLine.split('\t').at(-1)!;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('tail', () => {
  let dir: string;
  let dataDir: string;
  let server: ServerProcess;
  let client: RawOtlpClient;
  const tails: TailProcess[] = [];

  const sendLogs = async (seed: number): Promise<void> => {
    expect(await client.export('logs', logsPayload(seed, 5).proto)).toEqual({ ok: true });
  };
  const listIds = async (...args: string[]): Promise<string[]> => {
    const result = await runCli(['list', '--data-dir', dataDir, '--json', '--limit', '100000', ...args]);
    expect(result.code).toBe(0);
    return result.stdout.toString().trim().split('\n').filter((l) => l !== '').map((line) => (JSON.parse(line) as RequestView).id);
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-tail-'));
    dataDir = path.join(dir, 'data');
    const config = path.join(dir, 'config.yaml');
    // Objects seal quickly: following must carry on across the hand-over to the archive.
    writeFileSync(config, 'archiver:\n  maxObjectAge: 1s\nserver:\n  api:\n    tailBuffer: 4\n');
    server = await startServer(['--config', config, '--data-dir', dataDir]);
    client = new RawOtlpClient(server.grpcAddress);
  }, 60_000);

  afterAll(async () => {
    for (const tail of tails) await tail.stop();
    client?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('local: prints the requests sent after it started, in order, with the signal filter; --since adds the earlier ones once', async () => {
    await sendLogs(1); // before any tail: not followed, but in --since's range
    const before = await listIds('--signal', 'logs');
    expect(before).toHaveLength(1);
    const tail = startTail(['--data-dir', dataDir, '--signal', 'logs']);
    tails.push(tail);
    await sleep(2500); // the CLI has started and noted where the spool ends
    for (let i = 0; i < 6; i++) {
      await sendLogs(10 + i);
      expect(await client.export('traces', tracePayload(20 + i, 3).proto)).toEqual({ ok: true }); // filtered out
    }
    const logIds = await listIds('--signal', 'logs');
    const sentAfter = logIds.slice(1);
    const lines = await waitFor('the tail to print six requests', async () => (tail.lines().length >= 6 ? tail.lines() : undefined), 15_000);
    await sleep(500);
    expect(tail.lines().map(idOf)).toEqual(sentAfter);
    for (const line of lines) expect(line.split('\t')[2]).toBe('logs');

    // Back in time: everything since a minute ago (the first request included), then live, each once. Objects seal
    // every second meanwhile, so the backfill reads from the archive and the hot tier both.
    const since = startTail(['--data-dir', dataDir, '--signal', 'logs', '--since', '1m']);
    tails.push(since);
    await waitFor('the backfill', async () => (since.lines().length >= logIds.length ? true : undefined), 15_000);
    await sendLogs(40);
    const all = await listIds('--signal', 'logs');
    await waitFor('the live part after the backfill', async () => (since.lines().length >= all.length ? true : undefined), 15_000);
    await sleep(500);
    expect(since.lines().map(idOf)).toEqual(all);
  }, 60_000);

  test('--server: a stalled tail is told how many requests it missed; the server counts them; ingest goes on', async () => {
    // JSON lines of ~200 KiB requests: the tail's stdout pipe and the call's HTTP/2 window fill after a few.
    const tail = startTail(['--server', server.apiAddress, '--signal', 'traces', '--format', 'json']);
    tails.push(tail);
    tail.proc.stdout.pause();
    await sleep(2500);
    const sentCount = 40;
    const started = Date.now();
    for (let i = 0; i < sentCount; i++) expect(await client.export('traces', traceRequestOfSize(200_000, 100 + i).proto)).toEqual({ ok: true });
    // Ingest never waited for the stalled subscriber.
    expect(Date.now() - started).toBeLessThan(20_000);
    await sleep(1500);
    tail.proc.stdout.resume();
    const missedText = await waitFor('the missed notice on stderr', async () => /(\d+) requests missed/.exec(tail.stderr())?.[1], 20_000);
    const missed = Number(missedText);
    expect(missed).toBeGreaterThan(0);
    // Every request was either printed or counted as missed.
    await waitFor('the tail to catch up', async () => (tail.lines().length + missed >= sentCount ? true : undefined), 20_000);
    await sleep(500);
    expect(tail.lines().length + missed).toBe(sentCount);
    for (const line of tail.lines()) expect(Array.isArray((JSON.parse(line) as { resourceSpans: unknown[] }).resourceSpans)).toBe(true);
    const metrics = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
    expect(Number(/^otlpcapture_tail_missed_requests_total (\d+)/m.exec(metrics)?.[1])).toBe(missed);
    expect(Number(/^otlpcapture_tail_subscribers (\d+)/m.exec(metrics)?.[1])).toBe(1);
    expect(metrics).toMatch(/^otlpcapture_hot_requests \d+/m);
    expect(metrics).toMatch(/^otlpcapture_hot_bytes \d+/m);
  }, 90_000);
});
