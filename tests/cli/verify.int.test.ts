// `otlp-capture verify` as a user runs it, on an archive a real `serve` wrote: a clean archive passes (exit 0); one
// block damaged and one object deleted fail it (exit 1) with both named. Meanwhile get / find-trace / replay of the
// damaged object's other requests still work, and the damaged one fails naming the object and the offset. --repair
// quarantines what cannot be read (reads then also say what verify found), and the next verify passes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteIndexStore } from '../../src/index/sqlite-index-store.js';
import type { VerifyReport } from '../../src/index/verify.js';
import type { ArchivedRequest } from '../../src/model.js';
import { listJson } from '../helpers/capture-cli.js';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { startRecordingTarget } from '../helpers/recording-otlp-target.js';
import { runCli, startServer } from '../helpers/server-process.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';

const REQUESTS = 12;
let dir: string;
let data: string;
const sent: Buffer[] = [];

/** Trace id of uniqueTraceRequest(n). */
const traceIdOf = (n: number): string => `00c0ffee${'0'.repeat(16)}${(n + 1).toString(16).padStart(8, '0')}`;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-verify-'));
  data = path.join(dir, 'data');
  const config = path.join(dir, 'config.yaml');
  // Small objects: the twelve requests land in several objects of a few requests each.
  fs.writeFileSync(config, 'archiver:\n  maxObjectBytes: 12KiB\n  maxObjectAge: 300ms\nlog:\n  level: warn\n');
  const server = await startServer(['--config', config, '--data-dir', data]);
  const client = new RawOtlpClient(server.grpcAddress);
  for (let n = 0; n < REQUESTS; n += 1) {
    const payload = uniqueTraceRequest(n, 3000, `svc-${n}`);
    expect(await client.export('traces', payload)).toEqual({ ok: true });
    sent.push(payload);
  }
  client.close();
  await waitFor('everything archived', async () => ((await listJson(data)).length >= REQUESTS ? true : undefined), 30_000);
  expect(await server.stop()).toBe(0);
}, 120_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function indexRows(): Promise<ArchivedRequest[]> {
  const index = new SqliteIndexStore(path.join(data, 'index.sqlite'), { readonly: true });
  await index.start();
  try {
    return await index.listRequests({ limit: 1000 });
  } finally {
    await index.close();
  }
}

const objectFile = (key: string): string => path.join(data, 'objects', ...key.split('/'));

test('clean, then a damaged block and a deleted object: named, reads of the rest work, repair, clean again', async () => {
  const clean = await runCli(['verify', '--data-dir', data]);
  expect(clean.stderr).toMatch(/verify: \d+\/\d+ objects/);
  expect({ code: clean.code, out: clean.stdout.toString() }).toEqual({
    code: 0,
    out: expect.stringMatching(/^verified \d+ objects, 12 blocks, .* against sqlite .*: no problems\n$/),
  });

  const rows = await indexRows();
  const byObject = new Map<string, ArchivedRequest[]>();
  for (const r of rows) byObject.set(r.objectKey, [...(byObject.get(r.objectKey) ?? []), r]);
  const [damagedKey, deletedKey] = [...byObject.keys()].filter((k) => byObject.get(k)!.length >= 2);
  expect(deletedKey).toBeDefined();
  const bad = byObject.get(damagedKey!)![1]!;
  const neighbour = byObject.get(damagedKey!)![0]!;
  const bytes = fs.readFileSync(objectFile(damagedKey!));
  bytes[bad.offset + 100] = bytes[bad.offset + 100]! ^ 0x40;
  fs.writeFileSync(objectFile(damagedKey!), bytes);
  fs.rmSync(objectFile(deletedKey!));

  const found = await runCli(['verify', '--data-dir', data]);
  const out = found.stdout.toString();
  expect(found.code).toBe(1);
  expect(out).toContain(`damaged block: ${damagedKey} at offset ${bad.offset} (${bad.length} bytes), request ${bad.id}: `);
  expect(out).toContain(`missing object: ${deletedKey} is not in the blob store; the index has ${byObject.get(deletedKey!)!.length} requests in it`);
  expect(out).toMatch(/: 2 problems\nrun again with --repair/);
  const json = JSON.parse((await runCli(['verify', '--data-dir', data, '--json'])).stdout.toString()) as VerifyReport;
  expect(json).toMatchObject({ ok: false, problems: 2, damagedBlocks: [{ key: damagedKey, offset: bad.offset, requestId: bad.id }], missingObjects: [{ key: deletedKey }] });

  // get: the neighbour in the damaged object reads back byte for byte; the damaged one names object and offset.
  const n = (r: ArchivedRequest): number => Number(r.services[0]!.slice('svc-'.length)); // uniqueTraceRequest(n) is svc-n
  const good = await runCli(['get', neighbour.id, '--data-dir', data]);
  expect(good.code).toBe(0);
  expect(good.stdout.equals(sent[n(neighbour)]!)).toBe(true);
  const failed = await runCli(['get', bad.id, '--data-dir', data]);
  expect(failed.code).not.toBe(0);
  expect(failed.stderr).toContain(`request ${bad.id}: block at offset ${bad.offset} (${bad.length} bytes) of ${damagedKey}`);
  // find-trace: the neighbour's trace is found; the damaged request's trace fails, naming where.
  const trace = await runCli(['find-trace', traceIdOf(n(neighbour)), '--data-dir', data, '--format', 'json']);
  expect(trace.code).toBe(0);
  expect(trace.stdout.toString()).toContain(`operation-${n(neighbour)}`);
  const badTrace = await runCli(['find-trace', traceIdOf(n(bad)), '--data-dir', data]);
  expect(badTrace.code).not.toBe(0);
  expect(badTrace.stderr).toContain(`block at offset ${bad.offset} (${bad.length} bytes) of ${damagedKey}`);
  // replay: the neighbour is sent; the damaged one is reported as unreadable, naming where.
  const target = await startRecordingTarget();
  try {
    const replayed = await runCli(['replay', '--to', target.address, '--data-dir', data, '--service', `svc-${n(neighbour)}`]);
    expect(replayed.code).toBe(0);
    expect(target.accepted.map((a) => a.bytes.equals(sent[n(neighbour)]!))).toEqual([true]);
    const refused = await runCli(['replay', '--to', target.address, '--data-dir', data, '--service', `svc-${n(bad)}`]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr + refused.stdout.toString()).toContain(`block at offset ${bad.offset} (${bad.length} bytes) of ${damagedKey}`);
    expect(target.accepted).toHaveLength(1);
  } finally {
    await target.close();
  }

  const repaired = await runCli(['verify', '--data-dir', data, '--repair']);
  expect(repaired.code).toBe(1); // something was wrong in this run
  expect(repaired.stdout.toString()).toContain(`repaired: indexed 0 objects; quarantined ${1 + byObject.get(deletedKey!)!.length} requests`);
  const explained = await runCli(['get', bad.id, '--data-dir', data]);
  expect(explained.stderr).toMatch(new RegExp(`of ${damagedKey}.*\\(quarantined by verify on \\d{4}-.*: block at offset ${bad.offset}`));
  const again = await runCli(['verify', '--data-dir', data]);
  expect(again.code).toBe(0);
  expect(again.stdout.toString()).toMatch(/no problems \(\d+ requests already quarantined by an earlier --repair\)/);
}, 120_000);

test('usage errors exit 2 with a clear message', async () => {
  const bad = await runCli(['verify', '--data-dir', data, '--since', 'yesterday-ish']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('--since must be a time such as');
  const tenant = await runCli(['verify', '--data-dir', data, '--tenant', '../etc']);
  expect(tenant.code).toBe(2);
});
