// An error nobody planned for on the spool (here: the next segment's file name is taken by a directory, so opening
// it fails with the server's path in the message) is refused with UNAVAILABLE — nothing acknowledged, the client retries —
// and the caller, who needs no token to export, is told a reference into the server's log, not the server's paths.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { RawOtlpClient, type ExportOutcome } from '../helpers/raw-otlp-client.js';
import { waitFor } from '../helpers/wait.js';
import { startServer } from '../helpers/server-process.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';

let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-spool-error-'));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the caller gets a log reference; the log line with it names the cause', async () => {
  const data = path.join(dir, 'data');
  const spoolDir = path.join(dir, 'spool');
  const config = path.join(dir, 'config.yaml');
  fs.writeFileSync(config, `spool:\n  dir: ${spoolDir}\n  segmentBytes: 256KiB\nlog:\n  level: warn\n`);
  const server = await startServer(['--config', config, '--data-dir', data]);
  const client = new RawOtlpClient(server.grpcAddress);
  let n = 0;
  const send = (): Promise<ExportOutcome> => client.export('traces', uniqueTraceRequest(n++, 20_000), {}, 10_000);
  try {
    expect(await send()).toEqual({ ok: true });
    const segments = fs.readdirSync(spoolDir).filter((f) => /^\d+\.spool$/.test(f)).map((f) => Number(f.slice(0, -'.spool'.length)));
    const last = Math.max(...segments);
    for (let seq = last + 1; seq <= last + 64; seq++) fs.mkdirSync(path.join(spoolDir, `${String(seq).padStart(16, '0')}.spool`));
    let refused: ExportOutcome | undefined;
    for (let i = 0; i < 60 && refused === undefined; i += 1) {
      const outcome = await send();
      if (!outcome.ok) refused = outcome;
    }
    expect(refused).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
    const details = (refused as { details: string }).details;
    expect(details).not.toContain(dir);
    expect(details).not.toMatch(/EISDIR|EEXIST/);
    const ref = /internal error \(the server logged its cause as ref ([0-9a-f]{8})\)/.exec(details)?.[1];
    expect(ref).toBeDefined();
    // The answer can reach the caller before the log line reaches the pipe.
    const logged = await waitFor('the log line with the ref', async () => server.output().split('\n').find((line) => line.includes(ref!)), 10_000, 50);
    expect(logged).toMatch(/EISDIR|EEXIST/);
    // The server keeps serving what does not need the spool.
    expect((await fetch(`http://127.0.0.1:${server.adminPort}/healthz`)).status).toBe(200);
  } finally {
    client.close();
    await server.stop();
  }
}, 60_000);
