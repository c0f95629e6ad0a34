// `otlp-capture list` as people run it (the built CLI, the embedded SQLite index of a data dir): a listing that stops
// at --limit says on stderr how to get the rest; --after continues exactly where it stopped, in either order; --all
// returns every row; --count counts; times and durations share one grammar, and a bare number is refused with a hint.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteIndexStore } from '../../../src/index/sqlite-index-store.js';
import type { ArchivedRequest, ObjectMeta } from '../../../src/model.js';
import type { RequestView } from '../../../src/query/request-view.js';
import { createUlidGenerator } from '../../../src/util/ulid.js';
import { runCli } from '../../helpers/server-process.js';

const BACKENDS_OFF = { S3_ENDPOINT: undefined, S3_BUCKET: undefined, CLICKHOUSE_URL: undefined, CLICKHOUSE_DATABASE: undefined };
let dataDir: string;
const all: ArchivedRequest[] = [];

/** 119 requests (the example: more than the default --limit of 100), of two tenants, received a minute apart. */
beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'list-cli-'));
  const index = new SqliteIndexStore(path.join(dataDir, 'index.sqlite'));
  await index.start();
  const nextId = createUlidGenerator();
  const base = Date.now() - 200 * 60_000;
  for (let o = 0; o < 7; o++) {
    const tenant = o % 2 === 0 ? 'acme' : 'globex';
    const key = `${tenant}/logs/x/obj-${o}.otlpc`;
    const requests = Array.from({ length: o === 6 ? 11 : 18 }, (_, i): ArchivedRequest => {
      const at = base + (all.length + i) * 60_000;
      return {
        id: nextId(at), tenant, signal: 'logs', receivedAtMs: at, items: 1, services: ['svc'],
        startNs: BigInt(at) * 1_000_000n, endNs: BigInt(at) * 1_000_000n, rawBytes: 10, objectKey: key,
        offset: 28 + i * 10, length: 10, codec: 'gzip', crc32: 0,
      };
    });
    const object: ObjectMeta = {
      key, tenant, signal: 'logs', createdAtMs: base, sealedAtMs: base, requestCount: requests.length, rawBytes: 10 * requests.length,
      storedBytes: 100, codec: 'gzip', startNs: requests[0]!.startNs, endNs: requests[requests.length - 1]!.endNs,
    };
    await index.commitObject(object, requests);
    all.push(...requests);
  }
  await index.close();
  all.sort((a, b) => (a.id < b.id ? -1 : 1));
  expect(all).toHaveLength(119);
});

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function list(...args: string[]): Promise<{ code: number | null; rows: RequestView[]; stderr: string; stdout: string }> {
  const result = await runCli(['list', '--data-dir', dataDir, ...args], { env: BACKENDS_OFF });
  const stdout = result.stdout.toString('utf8');
  const rows = args.includes('--json') ? stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as RequestView) : [];
  return { code: result.code, rows, stderr: result.stderr, stdout };
}

const cursorIn = (stderr: string): string => {
  const match = /--after (\S+)/.exec(stderr);
  if (!match) throw new Error(`no continuation hint in: ${stderr}`);
  return match[1]!;
};
const ids = (rows: { id: string }[]): string[] => rows.map((r) => r.id);

describe('otlp-capture list', () => {
  test('119 requests, default --limit: 100 shown and a hint on stderr; --after gives the other 19', async () => {
    const first = await list('--json');
    expect(first.code).toBe(0);
    expect(ids(first.rows)).toEqual(ids(all.slice(0, 100)));
    expect(first.stderr).toMatch(/100 shown; more requests match\. Next page: add --after c1\.\S+/);
    expect(first.stderr).toContain('--all');
    const rest = await list('--json', '--after', cursorIn(first.stderr));
    expect(ids(rest.rows)).toEqual(ids(all.slice(100)));
    expect(rest.stderr).toBe('');
  });

  test('--all returns every row, also after a cursor; --count counts without listing', async () => {
    expect(ids((await list('--json', '--all')).rows)).toEqual(ids(all));
    const table = await list('--all');
    expect(table.stdout.split('\n').filter((l) => l !== '')).toHaveLength(120); // header + 119
    const page = await list('--json', '--limit', '30', '--newest');
    expect(ids((await list('--json', '--all', '--after', cursorIn(page.stderr))).rows)).toEqual(ids(all.slice(0, 89)).reverse());
    expect((await list('--count')).stdout).toBe('119\n');
    expect((await list('--count', '--tenant', 'globex')).stdout).toBe(`${all.filter((r) => r.tenant === 'globex').length}\n`);
  });

  test('--newest pages from the newest back; every page continues exactly where the last stopped', async () => {
    const seen: string[] = [];
    let args = ['--json', '--newest', '--limit', '25'];
    for (let pages = 0; pages < 10; pages++) {
      const page = await list(...args);
      seen.push(...ids(page.rows));
      if (page.stderr === '') break;
      args = ['--json', '--limit', '25', '--after', cursorIn(page.stderr)]; // the cursor keeps the order
    }
    expect(seen).toEqual(ids(all).reverse());
  });

  test('a time window in the one grammar: --since 1h30m is a duration ago; a bare number is refused with a hint', async () => {
    // Requests were received (and carry data times) one a minute until 81 minutes ago: 1h30m ago is request 110 of 119.
    const recent = await list('--json', '--all', '--since', '1h30m');
    expect(ids(recent.rows)).toEqual(ids(all.slice(all.length - recent.rows.length)));
    expect(recent.rows.length).toBeGreaterThanOrEqual(8);
    expect(recent.rows.length).toBeLessThanOrEqual(9);
    const iso = (r: ArchivedRequest): string => new Date(r.receivedAtMs).toISOString();
    const window = await list('--json', '--all', '--since', iso(all[50]!), '--until', iso(all[60]!));
    expect(ids(window.rows)).toEqual(ids(all.slice(50, 61)));
    expect((await list('--count', '--since', iso(all[50]!), '--until', iso(all[60]!))).stdout).toBe('11\n');
    const bare = await list('--since', '1');
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('a bare number is not a time: write 1h or 1d for that long ago');
  });

  test('wrong uses are usage errors: a cursor of other filters, a cursor that is not one, --count with paging', async () => {
    const page = await list('--json', '--limit', '5', '--tenant', 'acme');
    const other = await list('--after', cursorIn(page.stderr), '--tenant', 'globex');
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/continues a listing with other filters/);
    expect((await list('--after', 'abc')).stderr).toMatch(/is not a listing cursor/);
    expect((await list('--count', '--limit', '5')).code).toBe(2);
    expect((await list('--all', '--limit', '5')).code).toBe(2);
    expect((await list('--limit', '0')).code).toBe(2);
  });
});
