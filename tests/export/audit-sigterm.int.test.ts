// `otlp-capture export` stopped by SIGTERM — how Kubernetes, systemd and `timeout` end a job — as a user runs it (the
// built CLI on a real archive): it must stop like Ctrl-C does, say so, exit 1, and leave only whole partitions.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { shiftTimestamps } from '../../src/otlp/time-shift.js';
import { buildArchive } from '../helpers/archive-builder.js';
import { tracePayload } from '../helpers/otlp-payloads.js';
import { CLI } from '../helpers/server-process.js';

const FIRST_HOUR_MS = Date.parse('2024-03-01T00:10:00Z');
const HOURS = 150;

let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-audit-sigterm-'));
  // Two requests per hour over many hours: partitions complete one after another while most are still to come.
  const entries = Array.from({ length: HOURS * 2 }, (_, i) => {
    const hour = Math.floor(i / 2);
    const shift = BigInt(FIRST_HOUR_MS + hour * 3_600_000) * 1_000_000n - 1_700_000_000n * 1_000_000_000n;
    return { signal: 'traces' as const, bytes: shiftTimestamps('traces', tracePayload(i + 1, 10).proto, shift).bytes, receivedAtMs: FIRST_HOUR_MS + i * 1000 };
  });
  const archive = await buildArchive(path.join(dir, 'data'), entries, 8);
  await archive.close();
}, 60_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function files(root: string): string[] {
  return existsSync(root) ? readdirSync(root, { recursive: true }).map(String) : [];
}

it('stops on SIGTERM like on Ctrl-C: exit 1, "interrupted", every part file in a partition with _SUCCESS', async () => {
  const out = path.join(dir, 'out');
  const proc = spawn(process.execPath, [CLI, 'export', '--data-dir', path.join(dir, 'data'), '--to', out, '--format', 'parquet'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('close', (code, signal) => resolve({ code, signal })));
  // Signal once the first partition is complete, while the rest are still to be written.
  let exited = false;
  void closed.then(() => (exited = true));
  while (!exited && !files(out).some((file) => file.endsWith('_SUCCESS'))) await new Promise((resolve) => setTimeout(resolve, 10));
  proc.kill('SIGTERM');
  const { code, signal } = await closed;

  // Before: the process died of the signal (code null, signal SIGTERM), printing no summary.
  expect(signal).toBeNull();
  expect(code).toBe(1);
  expect(stderr).toMatch(/SIGTERM; stopping the export/);
  expect(stdout).toMatch(/^interrupted after exporting \d+ rows in \d+ partitions/);
  const visible = files(out).filter((file) => !file.startsWith('.tmp'));
  const marked = new Set(visible.filter((file) => file.endsWith('/_SUCCESS')).map((file) => path.dirname(file)));
  expect(marked.size).toBeGreaterThan(0);
  expect(marked.size).toBeLessThan(HOURS);
  const parts = visible.filter((file) => file.endsWith('.parquet'));
  expect(parts.filter((file) => !marked.has(path.dirname(file)))).toEqual([]);
  expect(files(path.join(out, '.tmp'))).toEqual([]);
}, 60_000);
