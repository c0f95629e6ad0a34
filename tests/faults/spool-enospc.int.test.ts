// The spool's filesystem runs out of space (a real size-limited tmpfs, filled by another file): Exports are refused
// with UNAVAILABLE + RetryInfo (Collectors keep the data and retry), nothing acknowledged is lost, and ingest
// resumes as soon as space returns. Mounting needs root (CAP_SYS_ADMIN), as the test machines and CI have.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { readArchive } from '../helpers/archive-reader.js';
import { RawOtlpClient, type ExportOutcome } from '../helpers/raw-otlp-client.js';
import { startServer } from '../helpers/server-process.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const FS_BYTES = 4 * 1024 * 1024;

let dir: string;
let mountPoint: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-enospc-'));
  mountPoint = path.join(dir, 'spoolfs');
  fs.mkdirSync(mountPoint);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${FS_BYTES}`, 'tmpfs', mountPoint], { stdio: 'pipe' });
  } catch (error) {
    throw new Error(`this test mounts a ${FS_BYTES}-byte tmpfs and needs root (CAP_SYS_ADMIN): ${(error as Error).message}`);
  }
});

afterAll(() => {
  try {
    execFileSync('umount', [mountPoint], { stdio: 'pipe' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a full spool disk refuses exports with UNAVAILABLE + RetryInfo, loses nothing acknowledged, and recovers', async () => {
  const data = path.join(dir, 'data');
  const spoolDir = path.join(mountPoint, 'spool');
  const config = path.join(dir, 'config.yaml');
  // The spool's own limit is far above the filesystem's: it is the disk that fills up, not the budget.
  fs.writeFileSync(
    config,
    `spool:\n  dir: ${spoolDir}\n  maxBytes: 1GiB\n  segmentBytes: 256KiB\narchiver:\n  maxObjectAge: 250ms\nlog:\n  level: warn\n`,
  );
  const server = await startServer(['--config', config, '--data-dir', data]);
  const client = new RawOtlpClient(server.grpcAddress);
  const acked = new Map<string, Buffer>();
  let n = 0;
  const send = async (): Promise<ExportOutcome> => {
    const payload = uniqueTraceRequest(n++, 20_000);
    const outcome = await client.export('traces', payload, {}, 10_000);
    if (outcome.ok) acked.set(sha(payload), payload);
    return outcome;
  };
  try {
    for (let i = 0; i < 5; i += 1) expect(await send()).toEqual({ ok: true });

    // Another file takes all but a little of the filesystem.
    const { bavail, bsize } = fs.statfsSync(mountPoint);
    const filler = path.join(mountPoint, 'filler');
    fs.writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - 60 * 1024), 1));
    const refused: ExportOutcome[] = [];
    for (let i = 0; i < 30; i += 1) {
      const outcome = await send();
      if (!outcome.ok) refused.push(outcome);
    }
    // Archived segments are deleted meanwhile, so a few more may fit: most are refused, not all.
    expect(refused.length).toBeGreaterThanOrEqual(10);
    for (const outcome of refused) {
      expect(outcome).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE, details: expect.stringMatching(/disk is full|spool/) });
      expect((outcome as { retryDelayMs: number | null }).retryDelayMs).toBeGreaterThan(0);
    }
    expect((await fetch(`http://127.0.0.1:${server.adminPort}/healthz`)).status).toBe(200);

    // Space comes back: ingest resumes.
    fs.rmSync(filler);
    for (let i = 0; i < 10; i += 1) expect(await send()).toEqual({ ok: true });

    // Everything acknowledged, before, during and after, is archived byte for byte.
    const archived = await waitFor('every acknowledged request archived', async () => {
      const all = await readArchive(data);
      return all.length >= acked.size ? all : undefined;
    }, 30_000);
    const stored = new Set(archived.map((a) => sha(a.bytes)));
    for (const key of acked.keys()) expect(stored.has(key)).toBe(true);
    expect(archived).toHaveLength(acked.size);
    expect(server.output()).toMatch(/disk is full|ENOSPC/);
  } finally {
    client.close();
    await server.stop();
  }
}, 120_000);
