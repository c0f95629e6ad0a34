// The read commands as Unix tools in a pipeline (the built CLI, a real data directory): a reader that closes early
// (`list | head -1`, `get ID --format json | head -c 10`, `find-trace … | head`) ends the command at once and
// quietly — no EPIPE stack trace, exit 0 — and Ctrl-C during a long `list --all` leaves whole rows on stdout.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteIndexStore } from '../../src/index/sqlite-index-store.js';
import type { ArchivedRequest } from '../../src/model.js';
import { spanTraceIds } from '../../src/otlp/trace-filter.js';
import { createUlidGenerator } from '../../src/util/ulid.js';
import { buildArchive } from '../helpers/archive-builder.js';
import { tracePayload } from '../helpers/otlp-payloads.js';
import { CLI } from '../helpers/server-process.js';

const BACKENDS_OFF = { S3_ENDPOINT: undefined, S3_BUCKET: undefined, CLICKHOUSE_URL: undefined, CLICKHOUSE_DATABASE: undefined };
/** Rows in the listing archive: --json rows are ~330 bytes, so one 1,000-row batch is several pipe buffers. */
const ROWS = 3000;

let listDir: string;
let traceDir: string;
let requestId: string;
let traceId: string;

beforeAll(async () => {
  listDir = mkdtempSync(path.join(os.tmpdir(), 'audit-pipes-list-'));
  const index = new SqliteIndexStore(path.join(listDir, 'index.sqlite'));
  await index.start();
  const nextId = createUlidGenerator();
  const base = Date.now() - ROWS * 1000;
  for (let o = 0; o < ROWS / 500; o++) {
    const key = `default/logs/x/obj-${o}.otlpc`;
    const requests = Array.from({ length: 500 }, (_, i): ArchivedRequest => {
      const at = base + (o * 500 + i) * 1000;
      return {
        id: nextId(at), tenant: 'default', signal: 'logs', receivedAtMs: at, items: 1, services: ['svc'],
        startNs: BigInt(at) * 1_000_000n, endNs: BigInt(at) * 1_000_000n, rawBytes: 10, objectKey: key,
        offset: 28 + i * 10, length: 10, codec: 'gzip', crc32: 0,
      };
    });
    await index.commitObject({
      key, tenant: 'default', signal: 'logs', createdAtMs: base, sealedAtMs: base, requestCount: 500, rawBytes: 5000,
      storedBytes: 100, codec: 'gzip', startNs: requests[0]!.startNs, endNs: requests[499]!.endNs,
    }, requests);
  }
  await index.close();

  // One request of ~1 MB is many pipe buffers long, and a trace held by 200 requests (retries kept
  // apart: no fingerprints), whose assembled spans are as long.
  traceDir = mkdtempSync(path.join(os.tmpdir(), 'audit-pipes-trace-'));
  const large = tracePayload(11, 2000);
  const small = tracePayload(12, 40);
  traceId = spanTraceIds(small.proto)[0]!;
  const entries = [large, ...Array.from({ length: 200 }, () => small)].map((p) => ({ signal: 'traces' as const, bytes: p.proto }));
  const archive = await buildArchive(traceDir, entries, 50);
  requestId = archive.requests.find((r) => r.rawBytes === large.proto.length)!.id;
  await archive.close();
}, 30_000);

afterAll(() => {
  rmSync(listDir, { recursive: true, force: true });
  rmSync(traceDir, { recursive: true, force: true });
});

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** What stdout delivered up to the moment the reader closed it (or everything, for a reader that does not). */
  stdout: Buffer;
  elapsedMs: number;
}

/** Runs the CLI and closes its stdout after the first chunk, as `| head -c N` does. */
function runClosingEarly(args: string[]): Promise<Ended> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...BACKENDS_OFF }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const chunks: Buffer[] = [];
    proc.stdout.once('data', (chunk: Buffer) => {
      chunks.push(chunk);
      proc.stdout.destroy();
    });
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    proc.on('error', reject);
    proc.on('close', (code, signal) => resolve({ code, signal, stderr, stdout: Buffer.concat(chunks), elapsedMs: Date.now() - started }));
  });
}

test.each([
  ['list --all', () => ['list', '--data-dir', listDir, '--all']],
  ['list --all --json', () => ['list', '--data-dir', listDir, '--all', '--json']],
  ['list --limit 3000 (one page)', () => ['list', '--data-dir', listDir, '--limit', String(ROWS), '--json']],
  ['get --format json', () => ['get', requestId, '--data-dir', traceDir, '--format', 'json']],
  ['get --format proto', () => ['get', requestId, '--data-dir', traceDir, '--format', 'proto']],
  ['find-trace --format json', () => ['find-trace', traceId, '--data-dir', traceDir, '--format', 'json']],
  ['find-trace --format proto', () => ['find-trace', traceId, '--data-dir', traceDir]],
])('%s into a reader that closes early: ends quietly, exit 0', async (_name, args) => {
  const run = await runClosingEarly(args());
  expect(run.stdout.length).toBeGreaterThan(0);
  expect(run.stderr).toBe('');
  expect(run.signal).toBeNull();
  expect(run.code).toBe(0);
  expect(run.elapsedMs).toBeLessThan(4000);
});

test('Ctrl-C during list --all into a slow reader: stops early, stdout ends with a whole row, killed by SIGINT', async () => {
  const proc = spawn(process.execPath, [CLI, 'list', '--data-dir', listDir, '--all', '--json'], {
    env: { ...process.env, ...BACKENDS_OFF },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const chunks: Buffer[] = [];
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('close', (code, signal) => resolve({ code, signal })),
  );
  // The first chunk means the CLI is inside its first batch's write (far larger than the pipe): stop reading so that
  // it blocks there, interrupt it, then read what it still writes.
  const first = await new Promise<Buffer>((resolve) => proc.stdout.once('data', resolve));
  chunks.push(first);
  proc.stdout.pause();
  await new Promise((resolve) => setTimeout(resolve, 300));
  proc.kill('SIGINT');
  await new Promise((resolve) => setTimeout(resolve, 200));
  proc.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  proc.stdout.resume();
  const { code, signal } = await ended;
  const text = Buffer.concat(chunks).toString('utf8');
  expect(stderr).toBe('');
  // Ended by the Ctrl-C, as a shell expects (status 130), not by listing everything.
  expect(signal === 'SIGINT' || code === 130).toBe(true);
  expect(text.endsWith('\n')).toBe(true);
  const lines = text.split('\n').slice(0, -1);
  expect(lines.length).toBeGreaterThan(0);
  expect(lines.length).toBeLessThan(ROWS);
  for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
});
