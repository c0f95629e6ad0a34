// find-trace end to end, on both adapter pairs (the embedded default, and S3 + ClickHouse: s3rver and ClickHouse
// 18.16, `serve` and the CLI switched by the environment alone): traces spread over many requests and several archive
// objects go into a real `serve`; `otlp-capture find-trace` and CaptureService.FindTrace return exactly the spans of a
// trace — compared with what otlp-transformer's JSON serializer makes of the generated spans — tenant-scoped, and
// NOT_FOUND / exit 1 for an unknown id. After `reindex` into an empty index (SQLite file, ClickHouse database), the
// trace rows rebuilt from the objects' manifests find the same spans.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { toOtlpJson } from '../../src/otlp/json.js';
import { requestType } from '../../src/otlp/proto-root.js';
import { ADAPTER_PAIRS, type AdapterPair, type AdapterPairSpec } from '../helpers/adapter-pairs.js';
import { unary } from '../helpers/grpc-calls.js';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { runCli, startServer, type ServerProcess } from '../helpers/server-process.js';
import { expectedFlatSpans, flattenTraceJson, spreadTraces, traceSpreadOver, type SpreadTraces } from '../helpers/trace-spans.js';
import { waitFor } from '../helpers/wait.js';
import { allArchived } from '../helpers/capture-cli.js';

const insecure = grpc.credentials.createInsecure();
/** The empty ClickHouse database `reindex` rebuilds into (the pair's server is private to this file). */
const REINDEX_DATABASE = 'otlp_capture_find_trace_reindexed';

interface FindTraceResponse {
  payload?: Buffer;
  json?: string;
  body?: string;
  spans: string;
  requests: { id: string; objectKey: string; tenant: string }[];
}

describe.each(ADAPTER_PAIRS as AdapterPairSpec[])('find-trace on the $name', (spec) => {
  let dir: string;
  let dataDir: string;
  let pair: AdapterPair;
  let server: ServerProcess;
  let spread: SpreadTraces;

  const findTrace = (traceId: string, metadata?: Record<string, string>): ReturnType<typeof unary<FindTraceResponse>> =>
    unary<FindTraceResponse>(server.apiAddress, insecure, 'otlpcapture.v1.CaptureService', 'FindTrace', { trace_id: traceId, format: 'FORMAT_JSON' }, metadata);
  const cli = (args: string[], env: NodeJS.ProcessEnv = pair.env): ReturnType<typeof runCli> => runCli(args, { env });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-find-trace-'));
    dataDir = path.join(dir, 'data');
    pair = await spec.start();
    const config = path.join(dir, 'config.yaml');
    writeFileSync(config, 'archiver:\n  maxObjectAge: 250ms\nlog:\n  level: warn\nindex:\n  clickhouse:\n    batchInterval: 200ms\n');
    server = await startServer(['--config', config, '--data-dir', dataDir], { env: pair.env });
    spread = spreadTraces(31, 300, 12);
    const client = new RawOtlpClient(server.grpcAddress);
    // Two batches far enough apart to be sealed into different objects.
    for (const [i, request] of spread.requests.entries()) {
      if (i === 6) await new Promise((resolve) => setTimeout(resolve, 800));
      expect(await client.export('traces', request)).toEqual({ ok: true });
    }
    // A log record of a trace (logs are indexed for nothing here): find-trace returns that trace's spans only.
    expect(await client.export('logs', logOfTrace(traceSpreadOver(spread, 6)))).toEqual({ ok: true });
    client.close();
    await waitFor('everything to be archived', async () => (allArchived(await pair.list(dataDir), spread.requests.length + 1) ? true : undefined), 60_000, 250);
    // ClickHouse takes trace rows in the same batch as their object's request rows, just after them: wait until every
    // trace is found whole, so no case below races the outbox.
    await waitFor('every trace to be found whole', async () => {
      for (const [traceId, spans] of spread.byTrace) {
        const { error, response } = await findTrace(traceId);
        if (error !== null || Number(response.spans) !== spans.length) return undefined;
      }
      return true;
    }, 30_000, 250);
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    await pair?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('find-trace --format json: exactly the spans of the trace, as otlp-transformer writes them', async () => {
    const traceId = traceSpreadOver(spread, 6);
    const result = await cli(['find-trace', traceId, '--data-dir', dataDir, '--format', 'json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout.toString('utf8')) as Record<string, unknown>;
    expect(flattenTraceJson(json)).toEqual(expectedFlatSpans(spread.byTrace.get(traceId)!));
    // Hex ids, lowerCamelCase, 64-bit integers as strings, enums as integers.
    const span = (json as any).resourceSpans[0].scopeSpans[0].spans[0];
    expect(span.traceId).toBe(traceId);
    expect(span.startTimeUnixNano).toMatch(/^\d+$/);
    expect(typeof span.kind).toBe('number');
  });

  test('find-trace --format proto writes one ExportTraceServiceRequest with the same spans (also to a file)', async () => {
    const traceId = traceSpreadOver(spread, 4);
    const output = path.join(dir, 'trace.pb');
    const result = await cli(['find-trace', traceId.toUpperCase(), '--data-dir', dataDir, '--output', output]);
    expect(result.code).toBe(0);
    expect(result.stdout.length).toBe(0);
    expect(flattenTraceJson(toOtlpJson('traces', readFileSync(output)))).toEqual(expectedFlatSpans(spread.byTrace.get(traceId)!));
  });

  test('CaptureService.FindTrace: every trace, proto and JSON, gathered from several requests and objects', async () => {
    let multiObject = 0;
    for (const [traceId, spans] of spread.byTrace) {
      const { error, response } = await findTrace(traceId);
      expect(error).toBeNull();
      expect(flattenTraceJson(JSON.parse(response.json!) as Record<string, unknown>)).toEqual(expectedFlatSpans(spans));
      expect(Number(response.spans)).toBe(spans.length);
      if (new Set(response.requests.map((r) => r.objectKey ?? (r as any).object_key)).size > 1) multiObject += 1;
    }
    expect(multiObject).toBeGreaterThan(3);
    const traceId = traceSpreadOver(spread, 5);
    const proto = await unary<FindTraceResponse>(server.apiAddress, insecure, 'otlpcapture.v1.CaptureService', 'FindTrace', { trace_id: traceId });
    expect(proto.error).toBeNull();
    expect(flattenTraceJson(toOtlpJson('traces', proto.response.payload!))).toEqual(expectedFlatSpans(spread.byTrace.get(traceId)!));
    expect(proto.response.requests.length).toBeGreaterThanOrEqual(5);
  });

  test('an unknown trace: NOT_FOUND over gRPC, exit 1 with a clear message from the CLI; a malformed id: INVALID_ARGUMENT / exit 2', async () => {
    const unknown = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
    const result = await cli(['find-trace', unknown, '--data-dir', dataDir]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`otlp-capture: trace ${unknown} is not in the archive\n`);
    expect(result.stdout.length).toBe(0);
    const api = await unary(server.apiAddress, insecure, 'otlpcapture.v1.CaptureService', 'FindTrace', { trace_id: unknown });
    expect(api.error?.code).toBe(grpc.status.NOT_FOUND);
    expect(api.error?.details).toBe(`trace ${unknown} is not in the archive`);

    const bad = await cli(['find-trace', 'not-a-trace-id', '--data-dir', dataDir]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/is not a trace id: a trace id is 32 hexadecimal digits/);
    const badApi = await unary(server.apiAddress, insecure, 'otlpcapture.v1.CaptureService', 'FindTrace', { trace_id: '123' });
    expect(badApi.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  test('FindTrace is tenant-scoped: a caller of another tenant does not find it, the owner does', async () => {
    const traceId = traceSpreadOver(spread, 2);
    const other = await findTrace(traceId, { 'x-scope-orgid': 'someone-else' });
    expect(other.error?.code).toBe(grpc.status.NOT_FOUND);
    const owner = await findTrace(traceId, { 'x-scope-orgid': 'default' });
    expect(owner.error).toBeNull();
    expect(Number(owner.response.spans)).toBe(spread.byTrace.get(traceId)!.length);
    const otherCli = await cli(['find-trace', traceId, '--data-dir', dataDir, '--tenant', 'someone-else']);
    expect(otherCli.code).toBe(1);
    expect(otherCli.stderr).toBe(`otlp-capture: trace ${traceId} is not in the archive of tenant "someone-else"\n`);
    const ownerCli = await cli(['find-trace', traceId, '--data-dir', dataDir, '--tenant', 'default', '--format', 'json']);
    expect(ownerCli.code).toBe(0);
    expect(flattenTraceJson(JSON.parse(ownerCli.stdout.toString('utf8')) as Record<string, unknown>)).toEqual(
      expectedFlatSpans(spread.byTrace.get(traceId)!),
    );
  });

  test('CaptureService.ListObjects pages through the archive objects', async () => {
    const keys: string[] = [];
    let pageToken = '';
    for (let page = 0; page < 20; page++) {
      const { error, response } = await unary<{ objects: { key: string; signal: string; request_count: string }[]; next_page_token: string }>(
        server.apiAddress, insecure, 'otlpcapture.v1.CaptureService', 'ListObjects', { page_size: 1, page_token: pageToken, signal: 'SIGNAL_TRACES' },
      );
      expect(error).toBeNull();
      expect(response.objects.length).toBe(1);
      expect(response.objects[0]!.signal).toBe('SIGNAL_TRACES');
      keys.push(response.objects[0]!.key);
      pageToken = response.next_page_token;
      if (pageToken === '') break;
    }
    expect(keys.length).toBeGreaterThanOrEqual(2);
    expect([...keys].sort()).toEqual(keys);
    const all = await unary<{ objects: { key: string; request_count: string }[] }>(server.apiAddress, insecure, 'otlpcapture.v1.CaptureService', 'ListObjects', {});
    expect(all.response.objects.filter((o) => keys.includes(o.key)).reduce((sum, o) => sum + Number(o.request_count), 0)).toBe(spread.requests.length);
  });

  test('after reindex into an empty index, find-trace finds the same spans (trace rows rebuilt from the manifests)', async () => {
    // The same blob store; a new, empty index: another SQLite file, or another ClickHouse database (its outbox in
    // another data dir), so the running server's index is neither read nor written.
    const rebuilt = path.join(dir, 'rebuilt');
    mkdirSync(rebuilt);
    const config = path.join(dir, 'rebuilt.yaml');
    writeFileSync(config, `storage:\n  filesystem:\n    dir: ${path.join(dataDir, 'objects')}\nindex:\n  sqlite:\n    path: ${path.join(rebuilt, 'index.sqlite')}\n`);
    const env = pair.env.CLICKHOUSE_URL === undefined ? pair.env : { ...pair.env, CLICKHOUSE_DATABASE: REINDEX_DATABASE };
    const args = ['--config', config, '--data-dir', rebuilt];
    const traceId = traceSpreadOver(spread, 6);

    const before = await cli(['find-trace', traceId, ...args], env);
    expect(before.code).toBe(1); // no index there yet

    const reindexed = await cli(['reindex', ...args], { ...env, OTLP_CAPTURE_LOG_LEVEL: 'warn' });
    expect(reindexed.stderr).not.toMatch(/skipped/);
    expect(reindexed.code).toBe(0);
    expect(reindexed.stdout.toString('utf8')).toMatch(new RegExp(`^reindexed \\d+ objects, ${spread.requests.length + 1} requests`));

    for (const id of [traceId, traceSpreadOver(spread, 2)]) {
      const original = await cli(['find-trace', id, '--data-dir', dataDir]);
      const after = await cli(['find-trace', id, ...args], env);
      expect(after.stderr).toBe('');
      expect(after.code).toBe(0);
      // Same requests in the same order: the very same bytes as from the original index.
      expect(after.stdout.equals(original.stdout)).toBe(true);
      expect(flattenTraceJson(toOtlpJson('traces', after.stdout))).toEqual(expectedFlatSpans(spread.byTrace.get(id)!));
    }
  }, 60_000);
});

function logOfTrace(traceId: string): Buffer {
  const type = requestType('logs');
  const record = { traceId: Buffer.from(traceId, 'hex'), timeUnixNano: '1700000000000000000', body: { stringValue: 'in the trace' } };
  return Buffer.from(type.encode(type.fromObject({ resourceLogs: [{ scopeLogs: [{ logRecords: [record] }] }] })).finish());
}
