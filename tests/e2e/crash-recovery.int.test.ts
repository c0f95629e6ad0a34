// SIGKILL the server while clients are sending; restart it on the same data dir: every acknowledged request is
// listed and byte-identical; an unacknowledged one may be absent but is never half-stored.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readArchive } from '../helpers/archive-reader.js';
import { getBytes, listJson } from '../helpers/capture-cli.js';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { startServer } from '../helpers/server-process.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-crash-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function sendUntilKilled(killAfterMs: number, firstN: number, config: string): Promise<{ acked: Map<string, Buffer>; sentAll: Map<string, Buffer>; next: number }> {
  const server = await startServer(['--config', config, '--data-dir', path.join(dir, 'data')]);
  const client = new RawOtlpClient(server.grpcAddress);
  const acked = new Map<string, Buffer>();
  const sentAll = new Map<string, Buffer>();
  let n = firstN;
  let killed = false;
  const sender = async (): Promise<void> => {
    while (!killed) {
      const payload = uniqueTraceRequest(n++, 512 + (n % 7) * 3000);
      sentAll.set(sha(payload), payload);
      const outcome = await client.export('traces', payload, {}, 5000);
      if (outcome.ok && !killed) acked.set(sha(payload), payload);
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
  };
  const senders = Array.from({ length: 6 }, () => sender());
  await new Promise((resolve) => setTimeout(resolve, killAfterMs));
  // Record the acknowledged set as of the kill: an ack that arrives after SIGKILL was sent cannot be trusted here.
  const ackedAtKill = new Map(acked);
  server.proc.kill('SIGKILL');
  killed = true;
  await Promise.allSettled(senders);
  await server.stop();
  client.close();
  return { acked: ackedAtKill, sentAll, next: n };
}

test('acknowledged requests survive SIGKILL at several moments, byte-identical, nothing half-stored', async () => {
  const config = path.join(dir, 'config.yaml');
  // Short object age: at the moment of the kill, some data is archived, some sits in open objects or the spool.
  writeFileSync(config, 'archiver:\n  maxObjectAge: 250ms\nspool:\n  segmentBytes: 256KiB\n');
  const acked = new Map<string, Buffer>();
  const sent = new Map<string, Buffer>();
  let next = 0;
  for (const killAfterMs of [400, 1500, 900]) {
    const round = await sendUntilKilled(killAfterMs, next, config);
    next = round.next;
    for (const [key, value] of round.acked) acked.set(key, value);
    for (const [key, value] of round.sentAll) sent.set(key, value);
  }
  expect(acked.size).toBeGreaterThan(20);

  const server = await startServer(['--config', config, '--data-dir', path.join(dir, 'data')]);
  try {
    const rows = await waitFor('recovered requests to be archived', async () => {
      const listed = await listJson(path.join(dir, 'data'));
      return listed.length >= acked.size ? listed : undefined;
    }, 60_000, 500);
    // `list` through the CLI above; the bytes of every request in-process (one CLI run each would take minutes).
    const archive = await readArchive(path.join(dir, 'data'));
    expect(archive.map((entry) => entry.request.id)).toEqual(rows.map((row) => row.id));
    const stored = new Map<string, number>();
    for (const { request, bytes } of archive) {
      const key = sha(bytes);
      // Never half-stored: every stored request is, byte for byte, one the client sent.
      expect(sent.has(key)).toBe(true);
      expect(request.rawBytes).toBe(bytes.length);
      stored.set(key, (stored.get(key) ?? 0) + 1);
    }
    expect(await getBytes(path.join(dir, 'data'), rows[0]!.id)).toEqual(archive[0]!.bytes);
    for (const key of acked.keys()) expect(stored.get(key)).toBe(1);
    // No request is archived twice, even when the kill hit between archiving and releasing the spool.
    for (const count of stored.values()) expect(count).toBe(1);
  } finally {
    await server.stop();
  }
}, 180_000);
