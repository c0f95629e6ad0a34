// `otlp-capture verify` as a user runs it, on an archive a real `serve` wrote, on both adapter pairs (filesystem +
// SQLite, s3rver + ClickHouse): a clean archive passes (exit 0); one block damaged and one object deleted fail it
// (exit 1) with both named. Meanwhile get / find-trace / replay of the
// damaged object's other requests still work, and the damaged one fails naming the object and the offset. --repair
// quarantines what cannot be read (reads then also say what verify found), and the next verify passes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { VerifyReport } from '../../src/index/verify.js';
import type { RequestView } from '../../src/query/request-view.js';
import { ADAPTER_PAIRS, type AdapterPair, type AdapterPairSpec } from '../helpers/adapter-pairs.js';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { startRecordingTarget } from '../helpers/recording-otlp-target.js';
import { runCli, startServer } from '../helpers/server-process.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';
import { allArchived } from '../helpers/capture-cli.js';

const REQUESTS = 12;

/** Trace id of uniqueTraceRequest(n). */
const traceIdOf = (n: number): string => `00c0ffee${'0'.repeat(16)}${(n + 1).toString(16).padStart(8, '0')}`;

/** Damage to an archive object, in whichever blob store the pair has: one byte changed, or the object deleted. */
interface Tamper {
  flipByte(key: string, at: number): Promise<void>;
  remove(key: string): Promise<void>;
  close(): void;
}

function tamperFor(pair: AdapterPair, data: string): Tamper {
  const env = pair.env;
  if (env.S3_ENDPOINT === undefined) {
    const file = (key: string): string => path.join(data, 'objects', ...key.split('/'));
    return {
      flipByte: async (key, at) => {
        const bytes = fs.readFileSync(file(key));
        bytes[at] = bytes[at]! ^ 0x40;
        fs.writeFileSync(file(key), bytes);
      },
      remove: async (key) => fs.rmSync(file(key)),
      close: () => undefined,
    };
  }
  const client = new S3Client({
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION!,
    forcePathStyle: true,
    credentials: { accessKeyId: env.S3_ACCESS_KEY!, secretAccessKey: env.S3_SECRET_KEY! },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const Bucket = env.S3_BUCKET!;
  return {
    flipByte: async (Key, at) => {
      const bytes = Buffer.from(await (await client.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToByteArray());
      bytes[at] = bytes[at]! ^ 0x40;
      await client.send(new PutObjectCommand({ Bucket, Key, Body: bytes }));
    },
    remove: async (Key) => {
      await client.send(new DeleteObjectCommand({ Bucket, Key }));
    },
    close: () => client.destroy(),
  };
}

describe.each(ADAPTER_PAIRS as AdapterPairSpec[])('verify on the $name', (spec) => {
  let pair: AdapterPair;
  let dir: string;
  let data: string;
  const sent: Buffer[] = [];
  const cli = (args: string[]): ReturnType<typeof runCli> => runCli([...args, '--data-dir', data], { env: pair.env });

  beforeAll(async () => {
    pair = await spec.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-verify-'));
    data = path.join(dir, 'data');
    const config = path.join(dir, 'config.yaml');
    // Small objects: the twelve requests land in several objects of a few requests each.
    fs.writeFileSync(config, 'archiver:\n  maxObjectBytes: 12KiB\n  maxObjectAge: 300ms\nlog:\n  level: warn\n');
    const server = await startServer(['--config', config, '--data-dir', data], { env: pair.env });
    const client = new RawOtlpClient(server.grpcAddress);
    for (let n = 0; n < REQUESTS; n += 1) {
      const payload = uniqueTraceRequest(n, 3000, `svc-${n}`);
      expect(await client.export('traces', payload)).toEqual({ ok: true });
      sent.push(payload);
    }
    client.close();
    await waitFor('everything archived', async () => (allArchived(await pair.list(data), REQUESTS) ? true : undefined), 30_000);
    expect(await server.stop()).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await pair?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('clean, then a damaged block and a deleted object: named, reads of the rest work, repair, clean again', async () => {
    const clean = await cli(['verify']);
    expect(clean.stderr).toMatch(/verify: \d+\/\d+ objects/);
    expect({ code: clean.code, out: clean.stdout.toString() }).toEqual({
      code: 0,
      out: expect.stringMatching(/^verified \d+ objects, 12 blocks, .* against (sqlite|clickhouse) .*: no problems\n$/),
    });

    const rows = await pair.list(data);
    const byObject = new Map<string, RequestView[]>();
    for (const r of rows) byObject.set(r.object, [...(byObject.get(r.object) ?? []), r]);
    const [damagedKey, deletedKey] = [...byObject.keys()].filter((k) => byObject.get(k)!.length >= 2);
    expect(deletedKey).toBeDefined();
    const bad = byObject.get(damagedKey!)![1]!;
    const neighbour = byObject.get(damagedKey!)![0]!;
    const tamper = tamperFor(pair, data);
    try {
      await tamper.flipByte(damagedKey!, bad.offset + 100);
      await tamper.remove(deletedKey!);
    } finally {
      tamper.close();
    }

    const found = await cli(['verify']);
    const out = found.stdout.toString();
    expect(found.code).toBe(1);
    expect(out).toContain(`damaged block: ${damagedKey} at offset ${bad.offset} (${bad.length} bytes), request ${bad.id}: `);
    expect(out).toContain(`missing object: ${deletedKey} is not in the blob store; the index has ${byObject.get(deletedKey!)!.length} requests in it`);
    expect(out).toMatch(/: 2 problems\nrun again with --repair/);
    const json = JSON.parse((await cli(['verify', '--json'])).stdout.toString()) as VerifyReport;
    expect(json).toMatchObject({ ok: false, problems: 2, damagedBlocks: [{ key: damagedKey, offset: bad.offset, requestId: bad.id }], missingObjects: [{ key: deletedKey }] });

    // get: the neighbour in the damaged object reads back byte for byte; the damaged one names object and offset.
    const n = (r: RequestView): number => Number(r.services[0]!.slice('svc-'.length)); // uniqueTraceRequest(n) is svc-n
    const good = await cli(['get', neighbour.id]);
    expect(good.code).toBe(0);
    expect(good.stdout.equals(sent[n(neighbour)]!)).toBe(true);
    const failed = await cli(['get', bad.id]);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain(`request ${bad.id}: block at offset ${bad.offset} (${bad.length} bytes) of ${damagedKey}`);
    // find-trace: the neighbour's trace is found; the damaged request's trace fails, naming where.
    const trace = await cli(['find-trace', traceIdOf(n(neighbour)), '--format', 'json']);
    expect(trace.code).toBe(0);
    expect(trace.stdout.toString()).toContain(`operation-${n(neighbour)}`);
    const badTrace = await cli(['find-trace', traceIdOf(n(bad))]);
    expect(badTrace.code).not.toBe(0);
    expect(badTrace.stderr).toContain(`block at offset ${bad.offset} (${bad.length} bytes) of ${damagedKey}`);
    // replay: the neighbour is sent; the damaged one is reported as unreadable, naming where.
    const target = await startRecordingTarget();
    try {
      const replayed = await cli(['replay', '--to', target.address, '--service', `svc-${n(neighbour)}`]);
      expect(replayed.code).toBe(0);
      expect(target.accepted.map((a) => a.bytes.equals(sent[n(neighbour)]!))).toEqual([true]);
      const refused = await cli(['replay', '--to', target.address, '--service', `svc-${n(bad)}`]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr + refused.stdout.toString()).toContain(`block at offset ${bad.offset} (${bad.length} bytes) of ${damagedKey}`);
      expect(target.accepted).toHaveLength(1);
    } finally {
      await target.close();
    }

    const repaired = await cli(['verify', '--repair']);
    expect(repaired.code).toBe(1); // something was wrong in this run
    expect(repaired.stdout.toString()).toContain(`repaired: indexed 0 objects; quarantined ${1 + byObject.get(deletedKey!)!.length} requests`);
    const explained = await cli(['get', bad.id]);
    expect(explained.stderr).toMatch(new RegExp(`of ${damagedKey}.*\\(quarantined by verify on \\d{4}-.*: block at offset ${bad.offset}`));
    const again = await cli(['verify']);
    expect(again.code).toBe(0);
    expect(again.stdout.toString()).toMatch(/no problems \(\d+ requests already quarantined by an earlier --repair\)/);
  }, 120_000);

  test('--repair against a blob store that has none of the indexed objects (a wrong prefix or directory) changes nothing without --force', async () => {
    const wrong = path.join(dir, 'wrong-storage.yaml');
    const emptyDir = path.join(dir, 'empty-objects');
    fs.mkdirSync(emptyDir, { recursive: true });
    fs.writeFileSync(
      wrong,
      pair.env.S3_ENDPOINT === undefined ? `storage:\n  filesystem:\n    dir: ${emptyDir}\n` : 'storage:\n  s3:\n    prefix: not-this-archive/\n',
    );
    const reportOf = async (): Promise<Record<string, unknown>> => {
      const { stdout } = await cli(['verify', '--json']);
      const { elapsedMs: _elapsed, ...report } = JSON.parse(stdout.toString('utf8')) as Record<string, unknown>;
      return report;
    };
    const before = await reportOf();
    const refused = await cli(['verify', '--repair', '--config', wrong]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/has none of the \d+ objects the index has in scope: .*Nothing was changed/);
    // Nothing was quarantined or indexed: verify with the right storage reports exactly what it did before.
    expect(await reportOf()).toEqual(before);
  }, 60_000);

  test('usage errors exit 2 with a clear message', async () => {
    const bad = await cli(['verify', '--since', 'yesterday-ish']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since must be a time such as');
    const tenant = await cli(['verify', '--tenant', '../etc']);
    expect(tenant.code).toBe(2);
  });
});
