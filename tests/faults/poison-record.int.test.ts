// A poison record fed to a real CaptureServer: a spooled request whose framing is intact but which the archive
// object refuses (its meta claims a length its bytes do not have). The archiver tries it a few times, quarantines
// it and archives everything else; while it is stuck for longer than archiver.maxLag, /readyz fails with the reason,
// otlpcapture_archiver_stalled is 1 and an alert goes out; then all recover.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CaptureServer } from '../../src/app/capture-server.js';
import { loadConfig } from '../../src/config/load.js';
import type { RequestMeta } from '../../src/model.js';
import { scanRequest } from '../../src/otlp/scanner.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { requestFingerprint } from '../../src/util/fingerprint.js';
import { createUlidGenerator } from '../../src/util/ulid.js';
import { readArchive } from '../helpers/archive-reader.js';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { SlackRecorder } from '../helpers/slack-recorder.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';
import { segmentBytes } from '../spool/frames.js';

const HOOK = '/services/T0POISON/B0POISON/poisonSecretToken';

let dir: string;
let recorder: SlackRecorder;
let server: CaptureServer | undefined;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-poison-'));
  recorder = await SlackRecorder.start();
});

afterEach(async () => {
  await server?.stop(5000);
  server = undefined;
  await recorder.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const nextId = createUlidGenerator();

function metaOf(payload: Buffer, receivedAtMs: number): RequestMeta {
  const scan = scanRequest('traces', payload);
  return {
    id: nextId(receivedAtMs),
    tenant: 'default',
    signal: 'traces',
    receivedAtMs,
    items: scan.items,
    services: scan.services,
    startNs: scan.startNs!,
    endNs: scan.endNs!,
    rawBytes: payload.length,
    fingerprint: requestFingerprint(payload),
  };
}

async function metric(adminPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

test('a poison record stalls archiving only until it is quarantined; /readyz, the metric and an alert say so meanwhile', async () => {
  const data = path.join(dir, 'data');
  const spoolDir = path.join(data, 'spool');
  fs.mkdirSync(spoolDir, { recursive: true });
  // What a previous run left: ten good requests and, among them, one the object format refuses.
  const now = Date.now();
  const good = Array.from({ length: 10 }, (_, n) => uniqueTraceRequest(n, 1500));
  const poisonBytes = uniqueTraceRequest(99, 1500);
  const poison: RequestMeta = { ...metaOf(poisonBytes, now), rawBytes: poisonBytes.length + 7 };
  const records = [
    ...good.slice(0, 5).map((payload) => ({ meta: metaOf(payload, now), payload })),
    { meta: poison, payload: poisonBytes },
    ...good.slice(5).map((payload) => ({ meta: metaOf(payload, now), payload })),
  ];
  fs.writeFileSync(path.join(spoolDir, '0000000000000001.spool'), segmentBytes(1, records).bytes);

  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: data,
      'server.grpc.listen': '127.0.0.1:0',
      'server.http.listen': '127.0.0.1:0',
      'server.admin.listen': '127.0.0.1:0',
      'log.level': 'silent',
      'archiver.maxObjectAge': '250ms',
      'archiver.maxLag': '1s',
      'archiver.retryInitialBackoff': '1500ms',
      'archiver.retryMaxBackoff': '2s',
      'notify.slack.webhooks.default': recorder.url(HOOK),
      'notify.alerts.interval': '100ms',
    },
  });
  server = new CaptureServer(config, silentLogger());
  const ports = await server.start();

  // /readyz from the start until it has failed for the archiver and is ready again.
  const seen: { status: number; body: string; stalled: number }[] = [];
  await waitFor('/readyz to fail for the archiver and recover', async () => {
    const response = await fetch(`http://127.0.0.1:${ports.admin}/readyz`);
    seen.push({ status: response.status, body: await response.text(), stalled: await metric(ports.admin, 'otlpcapture_archiver_stalled') });
    const failed = seen.some((s) => s.status === 503);
    return failed && seen.at(-1)!.status === 200 ? true : undefined;
  }, 60_000, 100);
  const notReady = seen.filter((s) => s.status === 503);
  for (const { body } of notReady) {
    expect(body).toMatch(/^not ready: archiver (stalled|behind): .*\(archiver\.maxLag 1s\); last error .* ago: .*rawBytes=\d+ but has \d+ bytes/);
  }
  expect(notReady.some((s) => s.stalled === 1)).toBe(true);
  expect(seen.at(-1)).toMatchObject({ status: 200, body: 'ready\n' });

  // Ingest went on meanwhile and goes on now.
  const client = new RawOtlpClient(`127.0.0.1:${ports.grpc}`);
  const live = uniqueTraceRequest(50, 800);
  expect(await client.export('traces', live)).toEqual({ ok: true });
  client.close();

  const archived = await waitFor('the good and the live requests archived', async () => {
    const all = await readArchive(data);
    return all.length >= 11 ? all : undefined;
  }, 30_000);
  const bytes = archived.map((a) => a.bytes.toString('base64')).sort();
  expect(bytes).toEqual([...good, live].map((b) => b.toString('base64')).sort());
  expect(archived.map((a) => a.request.id)).not.toContain(poison.id);

  const quarantine = path.join(spoolDir, 'quarantine');
  const sidecars = fs.readdirSync(quarantine).filter((n) => n.endsWith('.json'));
  expect(sidecars.map((n) => JSON.parse(fs.readFileSync(path.join(quarantine, n), 'utf8')))).toEqual([
    expect.objectContaining({ source: 'archiver', requestId: poison.id, reason: expect.stringMatching(/^cannot be archived: /) }),
  ]);
  expect(await metric(ports.admin, 'otlpcapture_archiver_quarantined_records_total')).toBe(1);
  expect(await metric(ports.admin, 'otlpcapture_archiver_stalled')).toBe(0);

  const titles = await waitFor('the alerts and the all-clear', async () => {
    // Slack mrkdwn: the title line is in asterisks.
    const posted = recorder.posts.map((post) => post.body!.text!.split('\n')[0]!.replace(/^\*|\*$/g, ''));
    return posted.some((t) => t.startsWith('Resolved: Archiving stalled')) ? posted : undefined;
  }, 10_000);
  expect(titles.some((t) => t.startsWith('Archiving stalled'))).toBe(true);
  expect(titles.some((t) => t.startsWith('Spool data quarantined (1)'))).toBe(true);
}, 120_000);
