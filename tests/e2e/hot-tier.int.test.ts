// Read your writes, on both adapter pairs: right after the acknowledgement (no waiting, serve still running) `list`,
// `get` (byte-identical), `find-trace` and `replay --dry-run` see every acknowledged request from the hot tier;
// after the objects seal, the same answers come from the archive, each request once; a listing paged across the
// hand-over shows every request exactly once. The embedded pair's CLI reads the spool of the serve beside it (same
// data directory); the S3 + ClickHouse pair's CLI runs with a data directory of its own and asks the server
// (`--server`), as from another host.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExportResultCode } from '@opentelemetry/core';
import type { RequestView } from '../../src/query/request-view.js';
import { ADAPTER_PAIRS, type AdapterPair, type AdapterPairSpec } from '../helpers/adapter-pairs.js';
import { exportPayload } from '../helpers/exporters.js';
import { logsPayload, metricsPayload, tracePayload } from '../helpers/otlp-payloads.js';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { runCli, startServer, type ServerProcess } from '../helpers/server-process.js';
import { waitFor } from '../helpers/wait.js';

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
/** Long enough that the first reads certainly happen before any object seals; short enough for a fast test. */
const MAX_OBJECT_AGE_MS = 6000;

describe.each(ADAPTER_PAIRS as AdapterPairSpec[])('hot tier on the $name', (spec) => {
  let dir: string;
  let serverDataDir: string;
  let pair: AdapterPair;
  let server: ServerProcess;
  /** Data dir and extra flags the CLI runs with. */
  let cli: { dataDir: string; extra: string[] };
  const sent: { proto: Buffer; signal: string }[] = [];
  let traceId: string;
  let ackedAtMs = 0;

  const run = async (...args: string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> =>
    runCli([...args, '--data-dir', cli.dataDir, ...cli.extra], { env: pair.env });
  const list = async (...args: string[]): Promise<{ rows: RequestView[]; stderr: string }> => {
    const result = await run('list', '--json', ...args);
    if (result.code !== 0) throw new Error(`list failed (${result.code}): ${result.stderr}`);
    const text = result.stdout.toString('utf8').trim();
    return { rows: text === '' ? [] : text.split('\n').map((line) => JSON.parse(line) as RequestView), stderr: result.stderr };
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-hot-'));
    serverDataDir = path.join(dir, 'data');
    pair = await spec.start();
    const config = path.join(dir, 'config.yaml');
    writeFileSync(config, `archiver:\n  maxObjectAge: ${MAX_OBJECT_AGE_MS}ms\n`);
    server = await startServer(['--config', config, '--data-dir', serverDataDir], { env: pair.env });
    if (spec.name.includes('SQLite')) {
      cli = { dataDir: serverDataDir, extra: [] };
    } else {
      const own = path.join(dir, 'cli-data');
      mkdirSync(own);
      cli = { dataDir: own, extra: ['--server', server.apiAddress] };
    }
    // The real OTel JS exporters, and a raw grpc-js client.
    const traces = tracePayload(501, 30);
    traceId = traces.expected.traceIds[0]!;
    const logs = logsPayload(502, 20);
    for (const payload of [traces, logs]) {
      for (const result of await exportPayload(server.grpcAddress, payload, 'gzip')) expect(result).toEqual({ code: ExportResultCode.SUCCESS });
      sent.push({ proto: Buffer.from(payload.proto), signal: payload === traces ? 'traces' : 'logs' });
    }
    const raw = new RawOtlpClient(server.grpcAddress, { compression: 'gzip' });
    for (const seed of [503, 504]) {
      const metrics = metricsPayload(seed);
      expect(await raw.export('metrics', metrics.proto)).toEqual({ ok: true });
      sent.push({ proto: Buffer.from(metrics.proto), signal: 'metrics' });
    }
    raw.close();
    ackedAtMs = Date.now();
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await pair?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  let hotRows: RequestView[] = [];
  let firstPage: { rows: RequestView[]; cursor: string };

  test('right after the acknowledgement, list shows every request once, from the hot tier', async () => {
    // One listing, no retry: what it shows was visible as soon as the exports were acknowledged.
    const { rows } = await list();
    expect(Date.now() - ackedAtMs).toBeLessThan(MAX_OBJECT_AGE_MS - 1000);
    expect(rows).toHaveLength(sent.length);
    expect(new Set(rows.map((row) => row.id)).size).toBe(sent.length);
    for (const row of rows) expect(row.tier).toBe('hot');
    expect(rows.map((row) => row.signal).sort()).toEqual(sent.map((s) => s.signal).sort());
    hotRows = rows;
    // The first page of a paged listing, taken while everything is hot.
    const paged = await list('--limit', '2');
    expect(paged.rows.map((row) => row.id)).toEqual(rows.slice(0, 2).map((row) => row.id));
    const cursor = /--after (\S+)/.exec(paged.stderr)?.[1];
    expect(cursor).toBeDefined();
    firstPage = { rows: paged.rows, cursor: cursor! };
  }, 30_000);

  test('get returns the exact bytes of each hot request; find-trace and replay --dry-run see them', async () => {
    const fetched = await Promise.all(hotRows.map(async (row) => {
      const result = await run('get', row.id);
      expect(result.stderr).toBe('');
      return sha(result.stdout);
    }));
    expect(fetched.sort()).toEqual(sent.map((s) => sha(s.proto)).sort());
    const trace = await run('find-trace', traceId, '--format', 'json');
    expect(trace.code).toBe(0);
    const spans = JSON.parse(trace.stdout.toString('utf8')).resourceSpans.flatMap((rs: { scopeSpans: { spans: { traceId: string }[] }[] }) =>
      rs.scopeSpans.flatMap((ss) => ss.spans));
    expect(spans.length).toBeGreaterThan(0);
    for (const span of spans) expect(span.traceId).toBe(traceId);
    const dryRun = await run('replay', '--to', '127.0.0.1:1', '--dry-run');
    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout.toString()).toContain(`would replay ${sent.length} requests`);
  }, 30_000);

  test('after the objects seal: the same requests from the archive, once each; the paged listing continues without gap or repeat', async () => {
    const archived = await waitFor('every request to be archived', async () => {
      const { rows } = await list();
      return rows.length === sent.length && rows.every((row) => row.tier === 'archive') ? rows : undefined;
    }, 60_000, 500);
    expect(archived.map((row) => row.id)).toEqual(hotRows.map((row) => row.id));
    const rest = await list('--after', firstPage.cursor);
    const ids = [...firstPage.rows, ...rest.rows].map((row) => row.id);
    expect(ids).toEqual(hotRows.map((row) => row.id));
    for (const row of rest.rows) expect(row.tier).toBe('archive');
    const row = archived[0]!;
    const result = await run('get', row.id);
    const hotBytes = sent.map((s) => sha(s.proto));
    expect(hotBytes).toContain(sha(result.stdout));
    const count = await run('list', '--count');
    expect(count.stdout.toString().trim()).toBe(String(sent.length));
  }, 90_000);
});
