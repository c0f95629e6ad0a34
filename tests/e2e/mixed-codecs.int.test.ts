// One archive holding objects of every block codec — none, gzip, brotli and zstd — as it does after `archiver.codec`
// changed over the years (and `retention` re-encoded some): `serve` runs once per codec on the same data directory.
// Every read command must read them side by side: list, get (byte for byte), find-trace (one trace whose spans sit
// in objects of all four codecs), replay, reindex (the index rebuilt from the objects alone), and retention compress
// re-encoding to zstd, after which everything reads back the same again.
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Codec } from '../../src/model.js';
import { requestType } from '../../src/otlp/proto-root.js';
import { getBytes, listJson } from '../helpers/capture-cli.js';
import { post } from '../helpers/otlp-http-client.js';
import { startRecordingTarget } from '../helpers/recording-otlp-target.js';
import { runCli, startServer } from '../helpers/server-process.js';

const CODECS: Codec[] = ['none', 'gzip', 'brotli', 'zstd'];
const SHARED_TRACE = 'ab'.repeat(16);
const PROTOBUF = { 'content-type': 'application/x-protobuf' };

let dir: string;
let dataDir: string;
/** Request bytes by the span id they carry (hex), for every request sent. */
const sent = new Map<string, Buffer>();

/** One span in one request, padded so blocks compress to different sizes per codec. */
function spanRequest(traceIdHex: string, spanNumber: number, service: string): { spanId: string; bytes: Buffer } {
  const spanId = Buffer.alloc(8);
  spanId.writeUInt32BE(0xfeed0000 + spanNumber, 4);
  const start = BigInt(Date.now()) * 1_000_000n;
  const type = requestType('traces');
  const message = type.fromObject({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeSpans: [
          {
            scope: { name: 'mixed-codecs' },
            spans: [
              {
                traceId: Buffer.from(traceIdHex, 'hex'),
                spanId,
                name: `op-${spanNumber}`,
                kind: 2,
                startTimeUnixNano: start.toString(),
                endTimeUnixNano: (start + 1_000_000n).toString(),
                attributes: [{ key: 'note', value: { stringValue: `span ${spanNumber} `.repeat(300) } }],
              },
            ],
          },
        ],
      },
    ],
  });
  return { spanId: spanId.toString('hex'), bytes: Buffer.from(type.encode(message).finish()) };
}

async function cli(args: string[], config?: string): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return runCli([...args, '--data-dir', dataDir, ...(config ? ['--config', config] : [])], { env: { OTLP_CAPTURE_LOG_LEVEL: 'warn' } });
}

async function expectEveryRequestReadsBack(dataDirectory: string): Promise<Set<string>> {
  const rows = await listJson(dataDirectory);
  expect(rows).toHaveLength(sent.size);
  const stored = new Set<string>();
  for (const row of rows) {
    const bytes = await getBytes(dataDirectory, row.id);
    expect([...sent.values()].some((b) => b.equals(bytes))).toBe(true);
    stored.add(bytes.toString('hex'));
  }
  expect(stored.size).toBe(sent.size);
  return new Set(rows.map((r) => r.codec));
}

async function findTraceSpanIds(): Promise<string[]> {
  const found = await cli(['find-trace', SHARED_TRACE, '--format', 'proto']);
  expect(found.code).toBe(0);
  const decoded = requestType('traces').toObject(requestType('traces').decode(found.stdout), { bytes: String }) as {
    resourceSpans: { scopeSpans: { spans: { spanId: string }[] }[] }[];
  };
  const ids = decoded.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => Buffer.from(s.spanId, 'base64').toString('hex'))));
  return ids.sort();
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-mixed-codecs-'));
  dataDir = path.join(dir, 'data');
  let n = 0;
  for (const codec of CODECS) {
    const config = path.join(dir, `${codec}.yaml`);
    writeFileSync(config, `archiver:\n  codec: ${codec}\n  maxObjectAge: 200ms\n`);
    const server = await startServer(['--config', config, '--data-dir', dataDir]);
    try {
      // One span of the shared trace, and two requests of their own trace, per codec.
      const requests = [spanRequest(SHARED_TRACE, ++n, `svc-${codec}`), spanRequest((0x10 + n).toString(16).padStart(32, '0'), ++n, `svc-${codec}`), spanRequest((0x20 + n).toString(16).padStart(32, '0'), ++n, `svc-${codec}`)];
      for (const request of requests) {
        const reply = await post(`http://127.0.0.1:${server.httpPort}/v1/traces`, request.bytes, PROTOBUF);
        expect(reply.status).toBe(200);
        sent.set(request.spanId, request.bytes);
      }
    } finally {
      // serve drains on SIGTERM: every acknowledged request is archived and indexed before it exits.
      expect(await server.stop()).toBe(0);
    }
  }
}, 180_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('list and get: requests in objects of all four codecs, each byte-identical to what was sent', async () => {
  const codecs = await expectEveryRequestReadsBack(dataDir);
  expect([...codecs].sort()).toEqual(['brotli', 'gzip', 'none', 'zstd']);
}, 120_000);

test('find-trace: one trace whose spans are in none, gzip, brotli and zstd blocks comes back whole', async () => {
  const spans = await findTraceSpanIds();
  expect(spans).toHaveLength(4);
  expect(spans.every((id) => sent.has(id))).toBe(true);
});

test('replay: every request of every codec reaches the target with its archived bytes', async () => {
  const target = await startRecordingTarget();
  try {
    const result = await cli(['replay', '--to', target.address, '--speed', 'max']);
    expect(result.code).toBe(0);
    expect(target.accepted).toHaveLength(sent.size);
    const arrived = new Set(target.accepted.map((a) => a.bytes.toString('hex')));
    for (const bytes of sent.values()) expect(arrived.has(bytes.toString('hex'))).toBe(true);
  } finally {
    await target.close();
  }
});

test('reindex: the index rebuilt from the objects alone reads every codec back', async () => {
  const copy = path.join(dir, 'reindexed');
  cpSync(path.join(dataDir, 'objects'), path.join(copy, 'objects'), { recursive: true });
  const result = await runCli(['reindex', '--data-dir', copy], { env: { OTLP_CAPTURE_LOG_LEVEL: 'warn' } });
  expect(result.code).toBe(0);
  expect(result.stdout.toString()).toMatch(new RegExp(`reindexed \\d+ objects, ${sent.size} requests`));
  const codecs = await expectEveryRequestReadsBack(copy);
  expect([...codecs].sort()).toEqual(['brotli', 'gzip', 'none', 'zstd']);
}, 120_000);

test('retention compress re-encodes none, gzip and zstd-1 objects to zstd 19; everything still reads back', async () => {
  const config = path.join(dir, 'retention.yaml');
  writeFileSync(
    config,
    'retention:\n  policies:\n    - { name: to-zstd, match: { olderThan: 1d }, action: { type: compress, codec: zstd, level: 19 } }\n',
  );
  const asOf = new Date(Date.now() + 2 * 86_400_000).toISOString();
  const run = await cli(['retention', 'run', '--json', '--as-of', asOf], config);
  expect(run.stderr).not.toMatch(/error/i);
  expect(run.code).toBe(0);
  const keys = readdirSync(path.join(dataDir, 'objects'), { recursive: true }).map(String).filter((f) => f.endsWith('.otlpc'));
  expect(keys.some((k) => k.endsWith('.zstd-19.otlpc'))).toBe(true);
  // brotli is the stronger codec: those objects are left alone; the rest is zstd now.
  const codecs = await expectEveryRequestReadsBack(dataDir);
  expect([...codecs].sort()).toEqual(['brotli', 'zstd']);
  expect(await findTraceSpanIds()).toHaveLength(4);

  // Run again: the keys record zstd 19, so nothing is re-encoded a second time.
  const again = await cli(['retention', 'run', '--json', '--as-of', asOf], config);
  expect(again.code).toBe(0);
  const keysAfter = readdirSync(path.join(dataDir, 'objects'), { recursive: true }).map(String).filter((f) => f.endsWith('.otlpc'));
  expect(keysAfter.sort()).toEqual(keys.sort());
}, 180_000);
