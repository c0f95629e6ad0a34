// S3 outage under load: `otlp-capture serve` archives to a real S3-protocol server (s3rver) that is killed for 30 s
// while a client keeps sending. Exports stay acknowledged while the spool has room, then are refused with
// UNAVAILABLE + RetryInfo (the client waits as told and sends the same request again); once S3 is back on the same
// port and directory the backlog uploads, and every acknowledged request is in the index and the bucket, byte for
// byte, exactly once. Nothing acknowledged is lost; nothing refused is stored.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { readArchive } from '../helpers/archive-reader.js';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { startS3Server, type S3Server } from '../helpers/s3-server.js';
import { startServer } from '../helpers/server-process.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';

const OUTAGE_MS = 30_000;
const RETRY_AFTER_MS = 500;
const SENDERS = 4;

let dir: string;
let s3: S3Server;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-s3-outage-'));
  s3 = await startS3Server();
}, 30_000);

afterAll(async () => {
  await s3?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Ack {
  at: number;
  payload: Buffer;
}
interface Refusal {
  at: number;
  code: grpc.status;
  retryDelayMs: number | null;
  details: string;
}

/** Reads the archive as `list`/`get` would with the S3 environment set (the read side builds from config). */
async function readArchiveFromS3(dataDir: string): ReturnType<typeof readArchive> {
  const env = s3.env();
  const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
  Object.assign(process.env, env);
  try {
    return await readArchive(dataDir);
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

it('keeps every acknowledged request through a 30 s S3 outage, backing clients off with RetryInfo', async () => {
  const dataDir = path.join(dir, 'data');
  const config = path.join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      'spool: { maxBytes: 8MiB, segmentBytes: 512KiB }',
      `admission: { retryAfter: ${RETRY_AFTER_MS}ms }`,
      'archiver: { maxObjectAge: 200ms, retryInitialBackoff: 200ms, retryMaxBackoff: 1s }',
      '',
    ].join('\n'),
  );
  const server = await startServer(['--config', config, '--data-dir', dataDir], { env: s3.env() });
  expect(server.output()).toMatch(/"blobStore":"s3:\/\/otlp-capture\/ at http:\/\/127\.0\.0\.1:\d+"/);
  const client = new RawOtlpClient(server.grpcAddress);
  const acks: Ack[] = [];
  const refusals: Refusal[] = [];
  const unexpected: string[] = [];
  let next = 0;
  let sending = true;

  const sender = async (): Promise<void> => {
    while (sending) {
      const payload = uniqueTraceRequest(next++, 12_000 + (next % 7) * 1000);
      // The same request again until it is acknowledged, waiting as RetryInfo says: what a Collector does.
      while (sending) {
        const outcome = await client.export('traces', payload);
        if (outcome.ok) {
          acks.push({ at: Date.now(), payload });
          await sleep(5);
          break;
        }
        refusals.push({ at: Date.now(), code: outcome.code, retryDelayMs: outcome.retryDelayMs, details: outcome.details });
        if (outcome.code !== grpc.status.UNAVAILABLE || outcome.retryDelayMs === null) {
          unexpected.push(`${outcome.code}: ${outcome.details}`);
          return;
        }
        await sleep(outcome.retryDelayMs);
      }
    }
  };

  let outageStart = 0;
  let outageEnd = 0;
  try {
    const senders = Array.from({ length: SENDERS }, () => sender());
    await sleep(3_000);
    const ackedBeforeOutage = acks.length;
    expect(ackedBeforeOutage).toBeGreaterThan(20);

    outageStart = Date.now();
    await s3.stop();
    await sleep(OUTAGE_MS);
    const spoolFullAt = refusals[0]?.at ?? Infinity;
    outageEnd = Date.now();
    await s3.restart();

    // The backlog drains and new requests are acknowledged again.
    const deadline = Date.now() + 30_000;
    while (acks.filter((ack) => ack.at > outageEnd).length < 50 && Date.now() < deadline) await sleep(200);
    sending = false;
    await Promise.all(senders);

    expect(unexpected).toEqual([]);
    // While S3 was down: acknowledged as long as the spool had room, then refused with RetryInfo.
    const ackedWhileDown = acks.filter((ack) => ack.at > outageStart && ack.at < spoolFullAt);
    expect(ackedWhileDown.length).toBeGreaterThan(50);
    expect(refusals.length).toBeGreaterThan(SENDERS);
    for (const refusal of refusals) {
      expect(refusal.code).toBe(grpc.status.UNAVAILABLE);
      expect(refusal.retryDelayMs).toBe(RETRY_AFTER_MS);
      expect(refusal.details).toMatch(/spool is full/);
      expect(refusal.at).toBeGreaterThan(outageStart);
    }
    expect(spoolFullAt).toBeLessThan(outageEnd);
    expect(acks.filter((ack) => ack.at > outageEnd).length).toBeGreaterThanOrEqual(50);
    console.log(
      `S3 outage: ${ackedBeforeOutage} acked before, ${ackedWhileDown.length} acked while S3 was down until the spool ` +
        `filled after ${((spoolFullAt - outageStart) / 1000).toFixed(1)} s, ${refusals.length} refusals with RetryInfo, ` +
        `${acks.length} acked in all`,
    );

    expect(await server.stop('SIGTERM')).toBe(0);
    expect(server.output()).toMatch(/archive upload failed; rebuilding from the spool/);
    expect(server.output()).toMatch(/ECONNREFUSED/);
    expect(server.output()).toMatch(/stopped: spool fully archived/);
  } finally {
    sending = false;
    client.close();
    await server.stop('SIGKILL');
  }

  const archive = await readArchiveFromS3(dataDir);
  expect(archive.length).toBe(acks.length);
  expect(archive.map((entry) => entry.bytes.toString('hex')).sort()).toEqual(
    acks.map((ack) => ack.payload.toString('hex')).sort(),
  );
}, 150_000);
