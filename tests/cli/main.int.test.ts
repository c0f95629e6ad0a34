// The CLI loads only what the command and the configured adapters need: `find-trace` on the embedded default must not
// pay for the AWS SDK, the ClickHouse client, gRPC, protobufjs or pino (together ~0.6 s of start-up on two cores,
// more than the lookup itself). Checked on the built CLI, as users run it: a preload records every CommonJS module
// loaded (all of those packages are CommonJS) when the process exits.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { spanTraceIds } from '../../src/otlp/trace-filter.js';
import { buildArchive } from '../helpers/archive-builder.js';
import { tracePayload } from '../helpers/otlp-payloads.js';
import { CLI } from '../helpers/server-process.js';

/** Packages a read command on the embedded default has no use for. */
const HEAVY = ['@aws-sdk/', '@clickhouse/', '@grpc/', 'protobufjs', 'pino', 'prom-client', 'yaml'];
const BACKEND_ENV = ['S3_ENDPOINT', 'S3_BUCKET', 'CLICKHOUSE_URL', 'CLICKHOUSE_DATABASE'];

let dir: string;
let traceId: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Package names (scope included) of every CommonJS module loaded. */
  packages: Set<string>;
}

/** Runs the CLI with `args` in a process that reports, at exit, which CommonJS modules it loaded. */
function runRecorded(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const script = [
    "import Module from 'node:module';",
    "process.on('exit', () => process.stderr.write('\\nLOADED ' + JSON.stringify(Object.keys(Module._cache)) + '\\n'));",
    `process.argv = [process.argv[0], ${JSON.stringify(CLI)}, ...${JSON.stringify(args)}];`,
    `await import(${JSON.stringify(pathToFileURL(CLI).href)});`,
  ].join('\n');
  const clean = Object.fromEntries(BACKEND_ENV.map((name) => [name, undefined]));
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...clean, ...env } });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    proc.on('error', reject);
    proc.on('close', (code) => {
      const marker = stderr.lastIndexOf('\nLOADED ');
      if (marker < 0) return reject(new Error(`no module report; stderr: ${stderr}`));
      const files = JSON.parse(stderr.slice(marker + '\nLOADED '.length)) as string[];
      const packages = new Set(
        files.flatMap((file) => {
          const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file.split(path.sep).join('/'));
          return match ? [match[1]!] : [];
        }),
      );
      resolve({ code, stdout, stderr: stderr.slice(0, marker), packages });
    });
  });
}

const heavyIn = (run: Run): string[] => [...run.packages].filter((name) => HEAVY.some((heavy) => name.startsWith(heavy)));

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-cli-main-'));
  const payload = tracePayload(7, 40);
  traceId = spanTraceIds(payload.proto)[0]!;
  const archive = await buildArchive(dir, [{ signal: 'traces', bytes: payload.proto }]);
  await archive.close();
}, 30_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('--help loads none of the adapters, gRPC, protobufjs or the logger', async () => {
  const run = await runRecorded(['--help']);
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/find-trace/);
  expect(heavyIn(run)).toEqual([]);
  expect(run.packages.has('better-sqlite3')).toBe(false);
});

test('find-trace on the embedded default loads SQLite and nothing of S3, ClickHouse, gRPC, protobufjs or pino', async () => {
  const run = await runRecorded(['find-trace', traceId, '--data-dir', dir, '--format', 'proto']);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  expect(run.stdout.length).toBeGreaterThan(0);
  // The recorder does see CommonJS packages: the SQLite driver the embedded index needs is among them.
  expect(run.packages.has('better-sqlite3')).toBe(true);
  expect(heavyIn(run)).toEqual([]);
});

test('find-trace --format json loads protobufjs for the JSON view, still no backend client', async () => {
  const run = await runRecorded(['find-trace', traceId, '--data-dir', dir, '--format', 'json']);
  expect(run.code).toBe(0);
  expect((JSON.parse(run.stdout) as { resourceSpans: unknown[] }).resourceSpans.length).toBeGreaterThan(0);
  expect(run.packages.has('protobufjs')).toBe(true);
  expect(heavyIn(run).filter((name) => name !== 'protobufjs')).toEqual([]);
});

test('with ClickHouse configured, find-trace loads its client (and fails clearly when it is down)', async () => {
  const run = await runRecorded(['find-trace', traceId, '--data-dir', dir], { CLICKHOUSE_URL: 'http://127.0.0.1:1' });
  expect(run.code).toBe(1);
  expect(run.stderr).toMatch(/ClickHouse at http:\/\/127\.0\.0\.1:1 is unreachable/);
  expect(run.packages.has('@clickhouse/client')).toBe(true);
});
