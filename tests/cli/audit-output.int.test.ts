// Where `get` / `find-trace` write, as people run them (the built CLI, a real archive): binary protobuf is refused on
// a terminal but written exactly to a pipe or file; an --output that cannot be written is one clear line (exit 1, no
// stack trace) and never leaves a partial file under the name asked for. Also: read commands on a missing data
// directory create nothing, and swapped --since / --until are a usage error instead of an empty answer.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spanTraceIds } from '../../src/otlp/trace-filter.js';
import { buildArchive } from '../helpers/archive-builder.js';
import { tracePayload } from '../helpers/otlp-payloads.js';
import { CLI, runCli } from '../helpers/server-process.js';

const BACKENDS_OFF = { S3_ENDPOINT: undefined, S3_BUCKET: undefined, CLICKHOUSE_URL: undefined, CLICKHOUSE_DATABASE: undefined };
const run = (args: string[]): ReturnType<typeof runCli> => runCli(args, { env: BACKENDS_OFF });

let dataDir: string;
let outDir: string;
let requestId: string;
let traceId: string;
let proto: Buffer;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'audit-output-data-'));
  outDir = mkdtempSync(path.join(os.tmpdir(), 'audit-output-out-'));
  const payload = tracePayload(5, 400);
  proto = Buffer.from(payload.proto);
  traceId = spanTraceIds(payload.proto)[0]!;
  const archive = await buildArchive(dataDir, [{ signal: 'traces', bytes: payload.proto }]);
  requestId = archive.requests[0]!.id;
  await archive.close();
}, 30_000);

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(outDir, { recursive: true, force: true });
});

/** Runs the CLI with stdout and stderr on a terminal (util-linux `script` gives it a pty); both come back merged. */
function runOnTerminal(args: string[]): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const proc = spawn('script', ['-qec', command, '/dev/null'], { env: { ...process.env, ...BACKENDS_OFF }, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('latin1')));
    proc.on('error', reject);
    proc.on('close', (code) => resolve({ code, output }));
    proc.stdin.end();
  });
}

test('binary protobuf is refused on a terminal (usage, exit 2, naming the ways out); JSON is shown there', async () => {
  for (const args of [['get', requestId], ['find-trace', traceId]]) {
    const tty = await runOnTerminal([...args, '--data-dir', dataDir]);
    expect(tty.code).toBe(2);
    expect(tty.output).toContain('refusing to write binary protobuf to a terminal');
    expect(tty.output).toContain('--output FILE');
    expect(tty.output.length).toBeLessThan(400); // the message, not the request
  }
  const json = await runOnTerminal(['get', requestId, '--data-dir', dataDir, '--format', 'json']);
  expect(json.code).toBe(0);
  expect(json.output).toContain('"resourceSpans"');
});

test('to a pipe and to --output the exact bytes are written', async () => {
  const piped = await run(['get', requestId, '--data-dir', dataDir]);
  expect(piped.code).toBe(0);
  expect(piped.stdout.equals(proto)).toBe(true);
  const file = path.join(outDir, 'exact.pb');
  const written = await run(['get', requestId, '--data-dir', dataDir, '--output', file]);
  expect(written.code).toBe(0);
  expect(readFileSync(file).equals(proto)).toBe(true);
  expect(readdirSync(outDir)).toEqual(['exact.pb']); // no temp file left beside it
  // `--output -` is standard output, as for other Unix tools: not a file named "-".
  const dashed = await run(['get', requestId, '--data-dir', dataDir, '--output', '-']);
  expect(dashed.code).toBe(0);
  expect(dashed.stdout.equals(proto)).toBe(true);
  expect(readdirSync(outDir)).toEqual(['exact.pb']);
});

test('an --output that cannot be written: one line on stderr, exit 1, nothing on stdout', async () => {
  const cases: [string, RegExp][] = [
    [path.join(outDir, 'no-such-dir', 'x.pb'), /its directory does not exist/],
    [outDir, /it is a directory/],
    ['/dev/full', /no space left/],
  ];
  for (const [output, reason] of cases) {
    const result = await run(['get', requestId, '--data-dir', dataDir, '--output', output]);
    expect(result.code).toBe(1);
    expect(result.stdout.length).toBe(0);
    expect(result.stderr).toMatch(new RegExp(`^otlp-capture: cannot write --output ${output.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    expect(result.stderr).toMatch(reason);
    expect(result.stderr.trim().split('\n')).toHaveLength(1); // no stack trace
  }
  expect(existsSync(path.join(outDir, 'no-such-dir'))).toBe(false);
});

test('a write that fails half-way (file size limit) leaves no partial file, and an earlier file as it was', async () => {
  const file = path.join(outDir, 'limited.pb');
  const fresh = path.join(outDir, 'fresh.pb');
  writeFileSync(file, 'previous contents');
  expect(proto.length).toBeGreaterThan(128 * 1024);
  for (const output of [file, fresh]) {
    // `ulimit -f 64`: writes past 64 KiB fail with EFBIG, as a full disk or quota would, part-way through the request
    // (the index's 32 KiB shared-memory file still fits).
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const proc = spawn('bash', ['-c', 'ulimit -f 64 && exec "$@"', 'bash', process.execPath, CLI, 'get', requestId, '--data-dir', dataDir, '--output', output], {
        env: { ...process.env, ...BACKENDS_OFF },
      });
      let stderr = '';
      proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      proc.on('error', reject);
      proc.on('close', (code) => resolve({ code, stderr }));
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^otlp-capture: cannot write --output .*(limited|fresh)\.pb: /);
  }
  expect(readFileSync(file, 'utf8')).toBe('previous contents');
  expect(existsSync(fresh)).toBe(false);
  expect(readdirSync(outDir).filter((name) => name.includes('limited') || name.includes('fresh'))).toEqual(['limited.pb']);
});

test('retention status, retention run and reindex on a missing data directory say so (exit 1) and create nothing', async () => {
  const missing = path.join(outDir, 'missing-data');
  const config = path.join(outDir, 'retention-only.yaml');
  writeFileSync(config, 'retention:\n  policies:\n    - { name: old, match: { olderThan: 90d }, action: { type: delete } }\n');
  for (const command of [['retention', 'status'], ['retention', 'run', '--config', config], ['reindex']]) {
    const result = await run([...command, '--data-dir', missing]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^otlp-capture: no archive at .*missing-data.*nothing has been captured there yet/);
    expect(result.stdout.length).toBe(0);
    expect(existsSync(missing)).toBe(false);
  }
});

test('--since later than --until is a usage error (exit 2), not an empty listing', async () => {
  for (const command of [['list'], ['list', '--count'], ['replay', '--to', '127.0.0.1:1', '--dry-run']]) {
    const result = await run([...command, '--data-dir', dataDir, '--since', '1h', '--until', '2h']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--since "1h" is later than --until "2h"/);
    expect(result.stdout.length).toBe(0);
  }
  const ok = await run(['list', '--data-dir', dataDir, '--since', '2h', '--until', '1m', '--count']);
  expect(ok.code).toBe(0);
});
