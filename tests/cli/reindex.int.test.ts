// `otlp-capture reindex`: from the archive objects of a real capture alone, rebuild an empty SQLite index and an
// empty ClickHouse database; `list --json` must print exactly what it printed from the original index.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Signal } from '../../src/model.js';
import { startClickHouse, type ClickHouseServer } from '../helpers/clickhouse-server.js';
import { payloadFor } from '../helpers/otlp-payloads.js';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { CLI, runCli, startServer } from '../helpers/server-process.js';

const SIGNALS: Signal[] = ['traces', 'metrics', 'logs'];
let root: string;
let dataDir: string;
let original: string;
let objectCount: number;
let clickhouse: ClickHouseServer;

function withoutIndex(): string {
  // A copy of the archive objects only: no index, no spool.
  const dir = fs.mkdtempSync(path.join(root, 'copy-'));
  fs.cpSync(path.join(dataDir, 'objects'), path.join(dir, 'objects'), { recursive: true });
  return dir;
}

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const result = await runCli(args, { env: { OTLP_CAPTURE_LOG_LEVEL: 'warn', ...env } });
  return { code: result.code, stdout: result.stdout.toString('utf8'), stderr: result.stderr };
}

async function listOutput(dir: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const result = await cli(['list', '--data-dir', dir, '--json', '--limit', '100000'], env);
  expect(result).toMatchObject({ code: 0, stderr: '' });
  return result.stdout;
}

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-reindex-'));
  dataDir = path.join(root, 'data');
  const config = path.join(root, 'config.yaml');
  // Short object age: many objects of several tenants and all signals.
  fs.writeFileSync(config, 'archiver:\n  maxObjectAge: 150ms\n');
  const [server, started] = await Promise.all([
    startServer(['--config', config, '--data-dir', dataDir]),
    startClickHouse(),
  ]);
  clickhouse = started;
  const client = new RawOtlpClient(server.grpcAddress, { compression: 'gzip' });
  try {
    for (let seed = 1; seed <= 24; seed++) {
      const signal = SIGNALS[seed % 3]!;
      const outcome = await client.export(signal, payloadFor(signal, seed).proto, { 'x-scope-orgid': seed % 2 ? 'team-a' : 'team-b' });
      expect(outcome).toEqual({ ok: true });
      if (seed % 5 === 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    client.close();
    expect(await server.stop()).toBe(0); // drains: every request archived and indexed
  }
  original = await listOutput(dataDir);
  objectCount = fs.readdirSync(path.join(dataDir, 'objects'), { recursive: true }).filter((f) => String(f).endsWith('.otlpc')).length;
}, 120_000);

afterAll(async () => {
  await clickhouse?.dispose();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('otlp-capture reindex', () => {
  it('had something to rebuild: 24 requests in several objects of both tenants', () => {
    expect(original.trim().split('\n')).toHaveLength(24);
    expect(objectCount).toBeGreaterThanOrEqual(6);
  });

  it('rebuilds an empty SQLite index to the same list, idempotently, with plain progress lines off a terminal', async () => {
    const dir = withoutIndex();
    const first = await cli(['reindex', '--data-dir', dir]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`^reindexed ${objectCount} objects, 24 requests, .* into sqlite `));
    expect(first.stderr).toMatch(new RegExp(`^reindex: ${objectCount}/${objectCount} objects, 24 requests, `, 'm'));
    expect(first.stderr).not.toContain('\r');
    expect(await listOutput(dir)).toBe(original);

    const again = await cli(['reindex', '--data-dir', dir]);
    expect(again.code).toBe(0);
    expect(await listOutput(dir)).toBe(original);
  });

  it('rebuilds an empty ClickHouse database to the same list', async () => {
    const dir = withoutIndex();
    const env = { CLICKHOUSE_URL: clickhouse.url, CLICKHOUSE_DATABASE: 'rebuilt' };
    const result = await cli(['reindex', '--data-dir', dir], env);
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`reindexed ${objectCount} objects, 24 requests, .* into clickhouse ${clickhouse.url} database rebuilt`));
    // Read from another directory, so no outbox is there: every row comes from ClickHouse.
    const elsewhere = fs.mkdtempSync(path.join(root, 'elsewhere-'));
    expect(await listOutput(elsewhere, env)).toBe(original);
    const [count] = await clickhouse.query<{ n: string }>('SELECT toString(count()) AS n FROM rebuilt.requests FINAL');
    expect(count!.n).toBe('24');

    // Idempotent: again, and the rows still read once.
    expect((await cli(['reindex', '--data-dir', dir], env)).code).toBe(0);
    expect(await listOutput(elsewhere, env)).toBe(original);
  });

  it('takes only the objects under --prefix', async () => {
    const dir = withoutIndex();
    const result = await cli(['reindex', '--data-dir', dir, '--prefix', 'team-b/']);
    expect(result.code).toBe(0);
    const expected = original
      .split('\n')
      .filter((line) => line.includes('"tenant":"team-b"'))
      .join('\n');
    expect((await listOutput(dir)).trim()).toBe(expected);
    expect(expected.split('\n')).toHaveLength(12);
  });

  it('skips an object that is not one, says so, and exits 1 having indexed the rest', async () => {
    const dir = withoutIndex();
    const junk = path.join(dir, 'objects', 'team-a', 'traces', 'junk.otlpc');
    fs.writeFileSync(junk, 'not an archive object');
    const result = await cli(['reindex', '--data-dir', dir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/otlp-capture: skipped team-a\/traces\/junk\.otlpc: .*too small/);
    expect(result.stdout).toMatch(/skipped 1 unreadable objects/);
    expect(await listOutput(dir)).toBe(original);
  });

  it('draws a progress bar on a terminal', async () => {
    const dir = withoutIndex();
    // script(1) runs the command on a pseudo-terminal.
    const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} reindex --data-dir ${JSON.stringify(dir)}`;
    const { stdout } = await promisify(execFile)('script', ['-qec', command, '/dev/null'], {
      env: { ...process.env, OTLP_CAPTURE_LOG_LEVEL: 'warn', COLUMNS: '120' },
    });
    expect(stdout).toContain('\r');
    expect(stdout).toMatch(/\[#{10,}\] 100% \d+\/\d+ objects, 24 requests, /);
    expect(stdout).not.toMatch(/^reindex: /m);
  });
});
