// Overload is answered with UNAVAILABLE and a google.rpc.RetryInfo delay, so Collectors back off and retry instead
// of dropping data; what was refused is not stored, what was acknowledged is.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { readArchive } from '../helpers/archive-reader.js';
import { RawOtlpClient, type ExportOutcome } from '../helpers/raw-otlp-client.js';
import { startServer } from '../helpers/server-process.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-bp-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function serverWith(yaml: string) {
  const config = path.join(dir, 'config.yaml');
  writeFileSync(config, yaml);
  return startServer(['--config', config, '--data-dir', path.join(dir, 'data')]);
}

test('over the in-flight byte budget: UNAVAILABLE with the configured RetryInfo delay; acked ones are stored', async () => {
  const server = await serverWith('admission:\n  maxInFlightBytes: 300KiB\n  retryAfter: 1500ms\narchiver:\n  maxObjectAge: 200ms\n');
  const client = new RawOtlpClient(server.grpcAddress);
  try {
    const payloads = Array.from({ length: 40 }, (_, i) => uniqueTraceRequest(i, 120_000));
    const outcomes: ExportOutcome[] = await Promise.all(payloads.map((payload) => client.export('traces', payload)));
    const refused = outcomes.filter((outcome): outcome is Extract<ExportOutcome, { ok: false }> => !outcome.ok);
    const acked = payloads.filter((_, i) => outcomes[i]!.ok);
    expect(refused.length).toBeGreaterThan(0);
    expect(acked.length).toBeGreaterThan(0);
    for (const outcome of refused) {
      expect(outcome.code).toBe(grpc.status.UNAVAILABLE);
      expect(outcome.retryDelayMs).toBe(1500);
      expect(outcome.details).toMatch(/in flight/);
    }
    await server.stop();
    const archive = await readArchive(path.join(dir, 'data'));
    expect(archive.map((entry) => entry.bytes.toString('hex')).sort()).toEqual(acked.map((b) => b.toString('hex')).sort());

  } finally {
    client.close();
    await server.stop();
  }
});

test('a full spool: UNAVAILABLE with RetryInfo, /readyz not ready; after drain every acked request is archived', async () => {
  // Objects never seal on their own here, so nothing leaves the spool until shutdown drains it.
  const yaml = 'spool:\n  maxBytes: 1MiB\n  segmentBytes: 128KiB\nadmission:\n  retryAfter: 2s\narchiver:\n  maxObjectAge: 1h\n';
  const server = await serverWith(yaml);
  const client = new RawOtlpClient(server.grpcAddress);
  const acked: Buffer[] = [];
  let refusal: ExportOutcome | undefined;
  try {
    for (let i = 0; i < 30 && refusal === undefined; i++) {
      const payload = uniqueTraceRequest(i, 100_000);
      const outcome = await client.export('traces', payload);
      if (outcome.ok) acked.push(payload);
      else refusal = outcome;
    }
    expect(acked.length).toBeGreaterThan(3);
    expect(refusal).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE, retryDelayMs: 2000 });
    expect(refusal?.ok === false && refusal.details).toMatch(/spool is full/);
    const ready = await fetch(`http://127.0.0.1:${server.adminPort}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toMatch(/spool/);
    const metrics = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
    expect(metrics).toMatch(/otlpcapture_requests_rejected_total\{signal="traces",reason="spool_full"\} 1/);
    expect(await server.stop('SIGTERM')).toBe(0);
  } finally {
    client.close();
    await server.stop();
  }
  const archive = await readArchive(path.join(dir, 'data'));
  expect(archive.map((entry) => entry.bytes.toString('hex')).sort()).toEqual(acked.map((b) => b.toString('hex')).sort());
});
