// The wall clock of a running `serve` steps — NTP after a VM pause, someone running `date` — and archiving goes on as
// if it had not: an open object still seals by archiver.maxObjectAge after the clock steps back an hour (on the wall
// clock it would wait the hour), and a step forward raises no stall, no readiness failure and no hour of archive lag.
// The server runs under libfaketime (Debian's `faketime`, scripts/install-test-deps.sh): the test moves its wall clock
// by rewriting FAKETIME_TIMESTAMP_FILE; the monotonic clock is left alone (FAKETIME_DONT_FAKE_MONOTONIC), as in a
// real step.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { allArchived, listJson } from '../helpers/capture-cli.js';
import { tracePayload } from '../helpers/otlp-payloads.js';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { waitFor } from '../helpers/wait.js';

/** Where Debian's libfaketime package puts the library, per architecture. */
const LIBFAKETIME_CANDIDATES = ['x86_64-linux-gnu', 'aarch64-linux-gnu'].map((arch) => `/usr/lib/${arch}/faketime/libfaketime.so.1`);
const MAX_OBJECT_AGE_MS = 2000;
/** Short, so a false stall would show at once; longer than maxObjectAge, as the config requires. */
const MAX_LAG_MS = 3000;
const HOUR_S = 3600;

let dir: string;
let dataDir: string;
let clockFile: string;
let server: ServerProcess;
let client: RawOtlpClient;
let admin: string;

/** Sets the server's wall clock to real time plus `offsetS` seconds (libfaketime reads the file on every call). */
function setClock(offsetS: number): void {
  writeFileSync(clockFile, `${offsetS >= 0 ? '+' : ''}${offsetS}\n`);
}

async function send(seed: number): Promise<void> {
  expect(await client.export('traces', tracePayload(seed, 5).proto)).toEqual({ ok: true });
}

async function archivedCount(count: number): Promise<void> {
  await waitFor(`${count} requests archived`, async () => (allArchived(await listJson(dataDir), count) ? true : undefined), 10_000, 200);
}

/** A metric's value summed over its series; 0 before it has any (a labelled histogram not yet observed). */
async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  let sum = 0;
  for (const match of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(match[1]);
  return sum;
}

beforeAll(async () => {
  const libfaketime = LIBFAKETIME_CANDIDATES.find((candidate) => existsSync(candidate));
  if (libfaketime === undefined) throw new Error('libfaketime is missing: run scripts/install-test-deps.sh (Debian package faketime)');
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-clock-'));
  dataDir = path.join(dir, 'data');
  clockFile = path.join(dir, 'faketime');
  setClock(0);
  const config = path.join(dir, 'config.yaml');
  writeFileSync(config, `archiver:\n  maxObjectAge: ${MAX_OBJECT_AGE_MS}ms\n  maxLag: ${MAX_LAG_MS}ms\n`);
  server = await startServer(['--config', config, '--data-dir', dataDir], {
    env: {
      LD_PRELOAD: libfaketime,
      FAKETIME_TIMESTAMP_FILE: clockFile,
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
      FAKETIME_NO_CACHE: '1',
    },
  });
  admin = `http://127.0.0.1:${server.adminPort}`;
  client = new RawOtlpClient(server.grpcAddress);
}, 60_000);

afterAll(async () => {
  client?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('an open object still seals by maxObjectAge after the wall clock steps back an hour', async () => {
  await send(1);
  // The object is open now (acknowledged, not yet sealed); on the wall clock its age would be minus an hour.
  setClock(-HOUR_S);
  const started = performance.now();
  await archivedCount(1);
  expect(performance.now() - started).toBeLessThan(MAX_OBJECT_AGE_MS + 5000);
}, 30_000);

test('a step forward an hour raises no stall, no readiness failure and no hour of archive lag', async () => {
  // Up longer than maxLag, so archiving "since start" no longer hides a wrong age.
  await new Promise((resolve) => setTimeout(resolve, MAX_LAG_MS));
  const lagBefore = await metric('otlpcapture_archive_lag_seconds_sum');
  const listed = (await listJson(dataDir)).length;
  await send(2);
  setClock(HOUR_S);
  // Until the object seals and after: /readyz stays ready, the stall gauge stays 0, the oldest age stays small.
  const seen: { status: number; stalled: number; oldestS: number }[] = [];
  const archived = archivedCount(listed + 1);
  let done = false;
  void archived.finally(() => (done = true)).catch(() => undefined);
  while (!done) {
    const ready = await fetch(`${admin}/readyz`);
    seen.push({ status: ready.status, stalled: await metric('otlpcapture_archiver_stalled'), oldestS: await metric('otlpcapture_spool_oldest_unarchived_age_seconds') });
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await archived;
  expect(seen.length).toBeGreaterThan(5);
  for (const sample of seen) {
    expect(sample.status).toBe(200);
    expect(sample.stalled).toBe(0);
    expect(sample.oldestS).toBeLessThan(60);
  }
  // The request waited about maxObjectAge, not an hour more.
  expect((await metric('otlpcapture_archive_lag_seconds_sum')) - lagBefore).toBeLessThan(60);
  expect((await fetch(`${admin}/readyz`)).status).toBe(200);
}, 30_000);
