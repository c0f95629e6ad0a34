// Distinct requests end to end, the scenario both adapter pairs run (distinct-requests-*.int.test.ts): the same request stored twice — once because a raw grpc-js
// client sent identical bytes again, once because a fault-injecting proxy dropped the acknowledgement and grpc-js's own
// retry policy sent it again — is listed once with `duplicates: 1`, counted once, replayed once into a real receiving
// server, and shown twice with --with-duplicates; the same through CaptureService; the same again after the index is
// rebuilt from the objects by `reindex`. The same bytes of another tenant are never merged with them.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { OTLP_SERVICE_NAMES } from '../../src/grpc/otlp-services.js';
import type { Signal } from '../../src/model.js';
import type { RequestView } from '../../src/query/request-view.js';
import { startAckDroppingProxy, type AckDroppingProxy } from './ack-dropping-proxy.js';
import type { AdapterPair, AdapterPairSpec } from './adapter-pairs.js';
import { unary } from './grpc-calls.js';
import { logsPayload, tracePayload } from './otlp-payloads.js';
import { RawOtlpClient } from './raw-otlp-client.js';
import { startRecordingTarget, type RecordingTarget } from './recording-otlp-target.js';
import { runCli, startServer, type ServerProcess } from './server-process.js';
import { waitFor } from './wait.js';

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex').slice(0, 16);
const identity = (value: Buffer): Buffer => value;

/** grpc-js with its own retry policy (as an OTLP exporter with retries configures it): UNAVAILABLE is retried. */
function exportWithRetries(address: string, signal: Signal, payload: Uint8Array): Promise<grpc.ServiceError | null> {
  const serviceConfig = {
    methodConfig: [
      {
        name: [{ service: OTLP_SERVICE_NAMES[signal] }],
        retryPolicy: { maxAttempts: 3, initialBackoff: '0.05s', maxBackoff: '0.5s', backoffMultiplier: 2, retryableStatusCodes: ['UNAVAILABLE'] },
      },
    ],
  };
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.service_config': JSON.stringify(serviceConfig) });
  return new Promise((resolve) => {
    client.makeUnaryRequest(`/${OTLP_SERVICE_NAMES[signal]}/Export`, identity, identity, Buffer.from(payload), new grpc.Metadata(), { deadline: Date.now() + 15_000 }, (error) => {
      client.close();
      resolve(error);
    });
  });
}

/** The whole scenario on one adapter pair (one test file per pair keeps each file well under 30 s). */
export function describeDistinctRequests(spec: AdapterPairSpec): void {
describe(`distinct requests on the ${spec.name}`, () => {
  let pair: AdapterPair;
  let dir: string;
  let dataDir: string;
  let server: ServerProcess;
  let proxy: AckDroppingProxy;
  let target: RecordingTarget;
  const resent = tracePayload(7101, 30).proto; // sent twice by the client itself
  const retried = tracePayload(7102, 25).proto; // acknowledgement dropped, retried by grpc-js
  const once = tracePayload(7103, 20).proto;
  const logs = logsPayload(7104, 12).proto;
  let env: NodeJS.ProcessEnv;
  let config: string;
  const cli = (...args: string[]): ReturnType<typeof runCli> => runCli([...args, '--data-dir', dataDir], { env });
  const listed = async (...args: string[]): Promise<RequestView[]> => {
    const result = await cli('list', '--json', '--all', ...args);
    expect(result.stderr).toBe('');
    const text = result.stdout.toString('utf8').trim();
    return text === '' ? [] : text.split('\n').map((line) => JSON.parse(line) as RequestView);
  };

  beforeAll(async () => {
    pair = await spec.start();
    env = pair.env;
    dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-distinct-'));
    dataDir = path.join(dir, 'data');
    config = path.join(dir, 'config.yaml');
    writeFileSync(config, 'archiver:\n  maxObjectAge: 300ms\nlog:\n  level: warn\n');
    server = await startServer(['--config', config, '--data-dir', dataDir], { env });
    proxy = await startAckDroppingProxy({ host: '127.0.0.1', port: server.grpcPort });
    target = await startRecordingTarget();

    const client = new RawOtlpClient(server.grpcAddress);
    expect(await client.export('traces', resent)).toEqual({ ok: true });
    expect(await client.export('traces', once)).toEqual({ ok: true });
    expect(await client.export('logs', logs)).toEqual({ ok: true });
    expect(await client.export('traces', resent, { 'x-scope-orgid': 'other' })).toEqual({ ok: true }); // same bytes, another tenant
    expect(await client.export('traces', resent)).toEqual({ ok: true }); // the client sends it again
    client.close();
    expect(await exportWithRetries(proxy.address, 'traces', retried)).toBeNull();
    expect(proxy.dropped()).toBe(1);
    // Read your writes: whatever mix of hot (spool) and archived the requests are in right now, each shows once.
    expect(await listed('--with-duplicates')).toHaveLength(7);
    expect(await listed()).toHaveLength(5);
    const archived = async (): Promise<true | undefined> =>
      (await listed('--with-duplicates')).filter((r) => r.tier === 'archive').length >= 7 ? true : undefined;
    await waitFor('all 7 stored requests to be archived', archived, 60_000, 250);
  }, 120_000);

  afterAll(async () => {
    await proxy?.close();
    await target?.close();
    await server?.stop();
    await pair?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const fingerprintOf = (rows: RequestView[], id: string): string => {
    const row = rows.find((r) => r.id === id);
    return `${row?.tenant}/${row?.signal}/${row?.bytes}`;
  };

  async function expectDistinctReads(): Promise<void> {
    const all = await listed('--with-duplicates');
    expect(all).toHaveLength(7);
    const distinct = await listed();
    expect(distinct).toHaveLength(5);
    // Each distinct request shown is the first of its group, with how many duplicates it has.
    const byBytes = (rows: RequestView[], tenant: string, bytes: number): RequestView[] => rows.filter((r) => r.tenant === tenant && r.bytes === bytes);
    const [resentFirst, resentAgain] = byBytes(all, 'default', resent.length);
    expect(byBytes(distinct, 'default', resent.length)).toEqual([{ ...resentFirst!, duplicates: 1 }].map(({ duplicateOf: _, ...r }) => r));
    expect(resentAgain!.duplicateOf).toBe(resentFirst!.id);
    const [retriedFirst, retriedAgain] = byBytes(all, 'default', retried.length);
    expect(byBytes(distinct, 'default', retried.length).map((r) => [r.id, r.duplicates])).toEqual([[retriedFirst!.id, 1]]);
    expect(retriedAgain!.duplicateOf).toBe(retriedFirst!.id);
    expect(byBytes(distinct, 'default', once.length).map((r) => r.duplicates)).toEqual([0]);
    expect(byBytes(distinct, 'default', logs.length).map((r) => r.duplicates)).toEqual([0]);
    // The same bytes under another tenant are a request of their own.
    expect(byBytes(distinct, 'other', resent.length).map((r) => r.duplicates)).toEqual([0]);
    expect(fingerprintOf(all, resentAgain!.id)).toBe(fingerprintOf(all, resentFirst!.id));

    // Counts agree with what is shown; paging a page of one at a time shows the same distinct requests.
    expect((await cli('list', '--count')).stdout.toString()).toBe('5\n');
    expect((await cli('list', '--count', '--with-duplicates')).stdout.toString()).toBe('7\n');
    expect((await cli('list', '--count', '--tenant', 'default', '--signal', 'traces')).stdout.toString()).toBe('3\n');
    const paged: string[] = [];
    let after: string[] = [];
    for (let page = 0; page < 10; page++) {
      const result = await cli('list', '--json', '--limit', '1', ...after);
      paged.push(...result.stdout.toString().trim().split('\n').filter(Boolean).map((line) => (JSON.parse(line) as RequestView).id));
      const cursor = /--after (\S+)/.exec(result.stderr)?.[1];
      if (cursor === undefined) break;
      after = ['--after', cursor];
    }
    expect(paged).toEqual(distinct.map((r) => r.id));
    // The summary table has a DUPS column.
    const table = (await cli('list', '--tenant', 'default', '--signal', 'traces', '--with-duplicates')).stdout.toString().trim().split('\n');
    expect(table[0]).toMatch(/\tDUPS\t/);
    expect(table.filter((line) => line.includes(`dup of ${resentFirst!.id}`))).toHaveLength(1);

    // CaptureService: the same distinct listing and counts; with_duplicates shows all.
    const insecure = grpc.credentials.createInsecure();
    const call = async (request: object): Promise<{ id: string; duplicates: string; duplicate_of: string }[]> => {
      const { error, response } = await unary<{ requests: { id: string; duplicates: string; duplicate_of: string }[] }>(
        server.apiAddress, insecure, 'otlpcapture.v1.CaptureService', 'ListRequests', { page_size: 100, ...request },
      );
      expect(error).toBeNull();
      return response.requests;
    };
    expect((await call({})).map((r) => [r.id, r.duplicates])).toEqual(distinct.map((r) => [r.id, String(r.duplicates)]));
    expect((await call({ with_duplicates: true })).map((r) => [r.id, r.duplicate_of])).toEqual(all.map((r) => [r.id, r.duplicateOf ?? '']));
  }

  test('list shows each request once with its duplicate count; --with-duplicates, --count, paging and CaptureService agree', async () => {
    await expectDistinctReads();
  }, 60_000);

  test('replay sends each distinct request once to a real receiving server; --with-duplicates sends all', async () => {
    const result = await cli('replay', '--to', target.address, '--tenant', 'default');
    expect(result.stderr).not.toMatch(/otlp-capture:/);
    expect(result.stdout.toString()).toMatch(/^replayed 4\/4 requests/);
    const received = target.accepted.splice(0).map((a) => `${a.signal}:${sha(a.bytes)}`).sort();
    expect(received).toEqual([['traces', resent], ['traces', retried], ['traces', once], ['logs', logs]].map(([s, b]) => `${s as string}:${sha(b as Uint8Array)}`).sort());
    const all = await cli('replay', '--to', target.address, '--tenant', 'default', '--with-duplicates');
    expect(all.stdout.toString()).toMatch(/^replayed 6\/6 requests/);
    expect(target.accepted.splice(0).filter((a) => sha(a.bytes) === sha(resent))).toHaveLength(2);
  }, 60_000);

  test('export writes each distinct request once; --with-duplicates writes all', async () => {
    const lines = async (...extra: string[]): Promise<number> => {
      const out = mkdtempSync(path.join(dir, 'export-'));
      const result = await cli('export', '--to', out, '--format', 'otlp-json', '--compression', 'none', '--tenant', 'default', ...extra);
      expect(result.code).toBe(0);
      const files = (readdirSync(out, { recursive: true, encoding: 'utf8' }) as string[]).filter((name) => name.endsWith('.jsonl'));
      return files.reduce((sum, name) => sum + readFileSync(path.join(out, name), 'utf8').split('\n').filter((line) => line !== '').length, 0);
    };
    expect(await lines()).toBe(4);
    expect(await lines('--with-duplicates')).toBe(6);
  }, 60_000);

  test('the duplicates seen are counted in /metrics', async () => {
    const text = await waitFor('the duplicate counter', async () => {
      const body = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
      return /otlpcapture_duplicate_requests_total\{signal="traces"\} 2\b/.test(body) ? body : undefined;
    });
    expect(text).toMatch(/otlpcapture_duplicate_requests_total\{signal="logs"\} 0\b/);
  }, 30_000);

  test('after reindex into an empty index, the same distinct reads', async () => {
    await server.stop();
    if (env.CLICKHOUSE_URL !== undefined) env = { ...env, CLICKHOUSE_DATABASE: 'otlp_capture_rebuilt' };
    else for (const suffix of ['', '-wal', '-shm']) rmSync(path.join(dataDir, `index.sqlite${suffix}`), { force: true });
    const result = await cli('reindex');
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toMatch(/reindexed \d+ objects, 7 requests/);
    server = await startServer(['--config', config, '--data-dir', dataDir], { env });
    await expectDistinctReads();
  }, 60_000);
});
}
