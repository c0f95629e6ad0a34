// Retention end to end on both adapter pairs: data captured by `serve` (OTLP/HTTP, several tenants, at known
// times), then `otlp-capture retention run` as a user (or a CronJob) runs it, judged `--as-of` ten days later.
// Checks: dry run changes nothing and lists what the real run then does; --policy restricts; delete / archive /
// compress do what they say and every remaining request reads back byte for byte (in-process through the
// adapters, and through `get` / `find-trace`); compress shrinks; a run killed (SIGKILL, via the test-only hook
// OTLP_CAPTURE_RETENTION_CRASH_AT) at several points and run again leaves a consistent state; a second run refuses
// while the first holds the lease; the summary reaches Slack; serve runs retention on its interval.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { createBlobStore, createIndexStore } from '../../src/app/components.js';
import { loadConfig } from '../../src/config/load.js';
import type { IndexStore } from '../../src/index/index-store.js';
import type { RetentionItem } from '../../src/retention/retention-run.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { ADAPTER_PAIRS, type AdapterPair, type AdapterPairSpec } from '../helpers/adapter-pairs.js';
import { post } from '../helpers/otlp-http-client.js';
import { tracePayload } from '../helpers/otlp-payloads.js';
import { CLI, runCli, startServer, type ServerProcess } from '../helpers/server-process.js';
import { SlackRecorder } from '../helpers/slack-recorder.js';
import { startRecordingTarget } from '../helpers/recording-otlp-target.js';
import { waitFor } from '../helpers/wait.js';
import { allRequests, expectConsistent } from '../retention/consistency.js';
import { allArchived } from '../helpers/capture-cli.js';

const DAY = 86_400_000;
const ARCHIVE_BUCKET = 'otlp-cold';
const MAIN_TENANTS = ['del', 'arc', 'cmp', 'keep'];
const CRASHES: { tenant: string; action: 'delete' | 'archive' | 'compress'; at: string }[] = [
  { tenant: 'c-del', action: 'delete', at: 'index-deleted:2' },
  { tenant: 'c-arc1', action: 'archive', at: 'copied:2' },
  { tenant: 'c-arc2', action: 'archive', at: 'replaced:1' },
  { tenant: 'c-cmp1', action: 'compress', at: 'copy:2' },
  { tenant: 'c-cmp2', action: 'compress', at: 'switch:2' },
  { tenant: 'c-cmp3', action: 'compress', at: 'source-deleted:1' },
];
const TENANTS = [...MAIN_TENANTS, ...CRASHES.map((c) => c.tenant), 'lease'];

interface RunJson {
  summary: { dryRun: boolean; policies: { policy: string; objects: { processed: number; succeeded: number; failed: number }; bytesBefore: number; bytesAfter: number }[] };
  items: RetentionItem[];
  recovered: { key: string; outcome: string }[];
}

async function runCliProcess(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const result = await runCli(args, { env });
  return { ...result, stdout: result.stdout.toString() };
}

describe.each(ADAPTER_PAIRS as AdapterPairSpec[])('retention on the $name', (spec) => {
  let dir: string;
  let dataDir: string;
  let configFile: string;
  let pair: AdapterPair;
  let slack: SlackRecorder;
  let blobs: BlobStore;
  let index: IndexStore;
  let listPrefixes: string[];
  let isS3: boolean;
  /** Request id → the bytes sent, for every request captured. */
  const sent = new Map<string, Buffer>();
  const gone: string[] = [];
  const asOf = new Date(Date.now() + 10 * DAY).toISOString();

  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    runCliProcess([...args, '--config', configFile, '--data-dir', dataDir], { ...pair.env, OTLP_CAPTURE_LOG_LEVEL: 'warn', ...env });
  const runJson = async (args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunJson> => {
    const result = await cli(['retention', 'run', '--json', '--as-of', asOf, ...args], env);
    if (result.code !== 0) throw new Error(`retention run failed (${result.code} ${result.signal}): ${result.stderr}`);
    return JSON.parse(result.stdout) as RunJson;
  };
  const consistent = () => expectConsistent(blobs, index, { listPrefixes, expectedBytes: new Map([...sent].filter(([id]) => !gone.includes(id))), gone });
  const reopenIndex = async (): Promise<void> => {
    // A fresh reader each time: nothing cached between runs of the CLI.
    await index?.close();
    const config = loadConfig({ env: { ...process.env, ...pair.env }, overrides: { dataDir } });
    index = await createIndexStore(config, { readonly: true });
    await index.start();
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-retention-'));
    dataDir = path.join(dir, 'data');
    pair = await spec.start();
    slack = await SlackRecorder.start();
    isS3 = pair.env.S3_BUCKET !== undefined;
    const archiveDir = path.join(dir, 'cold');
    const archiveAction = isS3 ? `{ type: archive, bucket: ${ARCHIVE_BUCKET}, prefix: cold/ }` : `{ type: archive, dir: ${archiveDir} }`;
    listPrefixes = ['', isS3 ? `_archive/s3/${ARCHIVE_BUCKET}/` : `_archive/fs${archiveDir}/`];
    if (isS3) {
      const client = new S3Client({
        endpoint: pair.env.S3_ENDPOINT!,
        region: pair.env.S3_REGION!,
        forcePathStyle: true,
        credentials: { accessKeyId: pair.env.S3_ACCESS_KEY!, secretAccessKey: pair.env.S3_SECRET_KEY! },
      });
      await client.send(new CreateBucketCommand({ Bucket: ARCHIVE_BUCKET }));
      client.destroy();
    }
    const policy = (name: string, tenant: string, action: string) => `    - { name: ${name}, match: { tenant: ${tenant}, signal: traces, olderThan: 7d }, action: ${action} }`;
    const actionOf = { delete: '{ type: delete }', archive: archiveAction, compress: '{ type: compress, codec: brotli, level: 11 }' };
    writeFileSync(
      path.join(dir, 'capture.yaml'),
      'archiver:\n  maxObjectAge: 200ms\n',
    );
    configFile = path.join(dir, 'retention.yaml');
    writeFileSync(
      configFile,
      [
        'archiver:\n  maxObjectAge: 200ms',
        `notify:\n  slack:\n    webhooks:\n      default: ${slack.url()}\n    digestInterval: 100ms`,
        'retention:',
        // Long enough for the lease test to freeze a run between taking the lease and working; the default (1s)
        // would add a second to each of the crash test's two dozen runs.
        '  leaseSettle: 200ms',
        '  batchSize: 2',
        '  concurrency: 3',
        '  policies:',
        policy('drop-del', 'del', actionOf.delete),
        policy('cold-arc', 'arc', actionOf.archive),
        policy('shrink-cmp', 'cmp', actionOf.compress),
        ...CRASHES.map((c) => policy(c.tenant, c.tenant, actionOf[c.action])),
        policy('lease', 'lease', actionOf.archive),
      ].join('\n') + '\n',
    );

    // Capture: three rounds, far enough apart that each tenant gets several objects.
    const server: ServerProcess = await startServer(['--config', path.join(dir, 'capture.yaml'), '--data-dir', dataDir], { env: pair.env });
    const bodies: { tenant: string; bytes: Buffer }[] = [];
    let seed = 1;
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        TENANTS.map(async (tenant) => {
          for (let i = 0; i < 2; i++) {
            const bytes = Buffer.from(tracePayload(seed++, 25).proto);
            bodies.push({ tenant, bytes });
            const reply = await post(`http://127.0.0.1:${server.httpPort}/v1/traces`, bytes, { 'content-type': 'application/x-protobuf', 'x-scope-orgid': tenant });
            expect(reply.status).toBe(200);
          }
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await waitFor('every request to be archived', async () => (allArchived(await pair.list(dataDir), bodies.length) ? true : undefined), 60_000, 250);
    expect(await server.stop()).toBe(0);

    const config = loadConfig({ env: { ...process.env, ...pair.env }, overrides: { dataDir } });
    blobs = await createBlobStore(config);
    await blobs.start();
    await reopenIndex();
    // Match ids to bodies by content: each body is unique.
    const { readRequestBytes } = await import('../../src/archiver/object-reader.js');
    for (const r of await allRequests(index)) {
      const raw = await readRequestBytes(blobs, r);
      expect(bodies.some((b) => b.bytes.equals(raw))).toBe(true);
      sent.set(r.id, raw);
    }
    expect(sent.size).toBe(bodies.length);
  }, 180_000);

  afterAll(async () => {
    await index?.close();
    await blobs?.close();
    await slack?.close();
    await pair?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const tenantIds = async (tenant: string): Promise<string[]> => (await allRequests(index)).filter((r) => r.tenant === tenant).map((r) => r.id);

  test('a dry run now finds nothing; ten days on it lists candidates and changes nothing; --policy restricts; the real run does exactly that', async () => {
    const now = await cli(['retention', 'run', '--dry-run', '--json']);
    expect(now.code).toBe(0);
    expect((JSON.parse(now.stdout) as RunJson).items).toEqual([]);

    const dry = await runJson(['--dry-run', '--policy', 'cold-arc']);
    expect(dry.summary.dryRun).toBe(true);
    expect(dry.items.length).toBeGreaterThanOrEqual(2);
    expect(new Set(dry.items.map((i) => i.policy))).toEqual(new Set(['cold-arc']));
    const dryAll = await runJson(['--dry-run']);
    expect(new Set(dryAll.items.map((i) => i.policy))).toEqual(new Set(['drop-del', 'cold-arc', 'shrink-cmp', ...CRASHES.map((c) => c.tenant), 'lease']));
    await consistent(); // unchanged: every request still there, byte for byte

    const real = await runJson(['--policy', 'cold-arc']);
    expect(real.items.map((i) => i.key)).toEqual(dry.items.map((i) => i.key));
    expect(real.items.filter((i) => i.outcome !== 'done')).toEqual([]);
    await reopenIndex();
    for (const r of await allRequests(index)) {
      if (r.tenant === 'arc') expect(r.objectKey.startsWith(listPrefixes[1]!)).toBe(true);
      else expect(r.objectKey.startsWith('_archive/')).toBe(false);
    }
    await consistent();
  }, 120_000);

  test('delete, archive and compress do what they say; get, find-trace and replay stay byte-identical; compress shrinks; the summary reaches Slack', async () => {
    const dry = await runJson(['--dry-run', '--policy', 'drop-del']);
    const deleted = await tenantIds('del');
    const postsBefore = slack.posts.length;
    const del = await runJson(['--policy', 'drop-del']);
    expect(del.items.map((i) => i.key)).toEqual(dry.items.map((i) => i.key));
    gone.push(...deleted);
    const cmp = await runJson(['--policy', 'shrink-cmp']);
    const shrink = cmp.summary.policies[0]!;
    expect(shrink.objects.failed).toBe(0);
    expect(shrink.objects.processed).toBeGreaterThanOrEqual(2);
    expect(shrink.bytesAfter).toBeLessThan(shrink.bytesBefore);
    process.stdout.write(`[${spec.name}] compress brotli-11 over gzip-1: ${shrink.bytesBefore} -> ${shrink.bytesAfter} bytes (${(shrink.bytesAfter / shrink.bytesBefore).toFixed(3)})\n`);

    await reopenIndex();
    const state = await consistent();
    expect(state.requests.filter((r) => r.tenant === 'del')).toEqual([]);
    const compressed = state.requests.filter((r) => r.tenant === 'cmp');
    expect(compressed.every((r) => r.codec === 'brotli' && r.objectKey.endsWith('.brotli-11.otlpc'))).toBe(true);
    const archived = state.requests.find((r) => r.tenant === 'arc')!;
    // Through the CLI as a user reads: get (byte for byte) and find-trace, on archived and on compressed data.
    for (const r of [archived, compressed[0]!]) {
      expect((await pair.get(dataDir, r.id)).equals(sent.get(r.id)!)).toBe(true);
    }
    const { spanTraceIds } = await import('../../src/otlp/trace-filter.js');
    for (const r of [archived, compressed[0]!]) {
      const traceId = spanTraceIds(sent.get(r.id)!)[0]!;
      const found = await runCli(['find-trace', traceId, '--data-dir', dataDir, '--tenant', r.tenant, '--format', 'json'], { env: pair.env });
      expect({ code: found.code, stderr: found.stderr }).toEqual({ code: 0, stderr: '' });
      expect(found.stdout.toString()).toContain(`"traceId":"${traceId}"`);
    }
    // replay sends archived and compressed requests exactly as captured.
    const target = await startRecordingTarget();
    try {
      for (const tenant of ['arc', 'cmp']) {
        const replayed = await runCli(['replay', '--to', target.address, '--data-dir', dataDir, '--tenant', tenant, '--speed', 'max'], { env: pair.env });
        expect({ code: replayed.code, stderr: replayed.stderr }).toMatchObject({ code: 0 });
      }
      const expected = state.requests.filter((r) => r.tenant === 'arc' || r.tenant === 'cmp').map((r) => sent.get(r.id)!.toString('base64')).sort();
      expect(target.accepted.map((a) => a.bytes.toString('base64')).sort()).toEqual(expected);
    } finally {
      await target.close();
    }
    const posts = await slack.waitForPosts(postsBefore + 2);
    const texts = posts.slice(postsBefore).map((p) => p.raw).join('\n');
    expect(texts).toContain('drop-del');
    expect(texts).toContain('shrink-cmp');
    expect(texts).toContain('Retention run');
  }, 120_000);

  test('a run killed at several points and run again ends consistent', async () => {
    for (const crash of CRASHES) {
      const ids = await tenantIds(crash.tenant);
      const killed = await cli(['retention', 'run', '--as-of', asOf, '--policy', crash.tenant], { OTLP_CAPTURE_RETENTION_CRASH_AT: crash.at });
      expect({ crash: crash.at, signal: killed.signal }).toEqual({ crash: crash.at, signal: 'SIGKILL' });
      const status = await cli(['retention', 'status', '--json']);
      expect(status.code).toBe(0);
      const pending = (JSON.parse(status.stdout) as { pending: unknown[] }).pending;
      expect(pending.length).toBeGreaterThan(0);
      const rerun = await runJson(['--policy', crash.tenant]);
      expect(rerun.recovered.length).toBe(pending.length);
      expect(rerun.recovered.every((r) => r.outcome !== 'failed')).toBe(true);
      if (crash.action === 'delete') gone.push(...ids);
      await reopenIndex();
      const state = await consistent();
      const after = state.requests.filter((r) => r.tenant === crash.tenant);
      if (crash.action === 'archive') expect(after.every((r) => r.objectKey.startsWith(listPrefixes[1]!))).toBe(true);
      if (crash.action === 'compress') expect(after.every((r) => r.codec === 'brotli')).toBe(true);
      if (crash.action !== 'delete') expect(after.map((r) => r.id).sort()).toEqual([...ids].sort());
      const finalStatus = JSON.parse((await cli(['retention', 'status', '--json'])).stdout) as { pending: unknown[]; lease: unknown };
      expect(finalStatus).toMatchObject({ pending: [], lease: null });
    }
  }, 150_000);

  test('a second run refuses while the first holds the lease', async () => {
    const { StateStore } = await import('../../src/retention/state-store.js');
    const state = new StateStore(blobs);
    const first = spawn(process.execPath, [CLI, 'retention', 'run', '--as-of', asOf, '--policy', 'lease', '--config', configFile, '--data-dir', dataDir], {
      env: { ...process.env, ...pair.env, OTLP_CAPTURE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let firstStderr = '';
    first.stderr.on('data', (chunk: Buffer) => (firstStderr += chunk.toString()));
    first.stdout.resume();
    const firstExit = new Promise<number | null>((resolve) => first.on('close', (code) => resolve(code)));
    // Freeze the first run as soon as it holds the lease (it waits a moment after taking it before doing anything).
    await waitFor('the first run to take the lease', async () => ((await state.read('lease.json')) !== null ? true : undefined), 20_000, 10);
    first.kill('SIGSTOP');
    try {
      const second = await cli(['retention', 'run', '--as-of', asOf]);
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(/another retention run holds the lease \(.* pid \d+, since .*\); nothing was done/);
      const status = await cli(['retention', 'status']);
      expect(status.stdout).toMatch(new RegExp(`lease: held by .* pid ${first.pid}`));
    } finally {
      first.kill('SIGCONT');
    }
    // Stopped for seconds, the first run's idle connections may have been closed by the servers meanwhile.
    const exit = await firstExit;
    expect({ exit, stderr: exit === 0 ? '' : firstStderr }).toEqual({ exit: 0, stderr: '' });
    await reopenIndex();
    await consistent();
  }, 60_000);

  test('serve runs retention on its interval', async () => {
    const serveConfig = path.join(dir, 'serve.yaml');
    writeFileSync(
      serveConfig,
      'archiver:\n  maxObjectAge: 200ms\nretention:\n  interval: 1500ms\n  policies:\n    - { name: srv, match: { tenant: srv, olderThan: 300ms }, action: { type: delete } }\n',
    );
    const server = await startServer(['--config', serveConfig, '--data-dir', dataDir], { env: pair.env });
    try {
      const reply = await post(`http://127.0.0.1:${server.httpPort}/v1/traces`, Buffer.from(tracePayload(999, 5).proto), {
        'content-type': 'application/x-protobuf',
        'x-scope-orgid': 'srv',
      });
      expect(reply.status).toBe(200);
      await waitFor('the request to be listed', async () => ((await pair.list(dataDir, '--tenant', 'srv')).length === 1 ? true : undefined), 30_000, 200);
      await waitFor('retention in serve to delete it', async () => ((await pair.list(dataDir, '--tenant', 'srv')).length === 0 ? true : undefined), 30_000, 500);
      expect(server.output()).toContain('retention run finished');
    } finally {
      expect(await server.stop()).toBe(0);
    }
    await reopenIndex();
    await consistent();
  }, 90_000);
});
