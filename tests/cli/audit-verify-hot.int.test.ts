// `otlp-capture verify` beside a `serve` that has acknowledged requests not archived yet (the built CLI, a real data
// directory: archive objects + SQLite index, and a spool holding a request): those requests have no object, so they
// are not the archive's to check — verify passes (exit 0) instead of failing on an empty object key.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RequestView } from '../../src/query/request-view.js';
import { Spool } from '../../src/spool/spool.js';
import { createUlidGenerator } from '../../src/util/ulid.js';
import { buildArchive } from '../helpers/archive-builder.js';
import { tracePayload } from '../helpers/otlp-payloads.js';
import { runCli } from '../helpers/server-process.js';

const BACKENDS_OFF = { S3_ENDPOINT: undefined, S3_BUCKET: undefined, CLICKHOUSE_URL: undefined, CLICKHOUSE_DATABASE: undefined };
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'audit-verify-hot-'));
  const archived = tracePayload(3, 20);
  const archive = await buildArchive(dataDir, [{ signal: 'traces', bytes: archived.proto }]);
  await archive.close();
  // What serve's spool holds between acknowledging a request and sealing its object.
  const spool = await Spool.open({ dir: path.join(dataDir, 'spool'), maxBytes: 64 * 2 ** 20, fsync: 'never', segmentBytes: 1 << 20 });
  const pending = tracePayload(4, 20);
  const now = Date.now();
  await spool.append(
    {
      id: createUlidGenerator()(now), tenant: 'default', signal: 'traces', receivedAtMs: now, items: pending.expected.items,
      services: pending.expected.services, startNs: pending.expected.startNs!, endNs: pending.expected.endNs!, rawBytes: pending.proto.length,
    },
    Buffer.from(pending.proto),
  );
  await spool.close();
}, 30_000);

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

test('verify passes with an unarchived request in the spool, and checks the archived one', async () => {
  const listed = await runCli(['list', '--data-dir', dataDir, '--json'], { env: BACKENDS_OFF });
  const tiers = listed.stdout.toString('utf8').trim().split('\n').map((line) => (JSON.parse(line) as RequestView).tier);
  expect(tiers.sort()).toEqual(['archive', 'hot']);

  const human = await runCli(['verify', '--data-dir', dataDir], { env: BACKENDS_OFF });
  expect(human.stderr).not.toMatch(/invalid object key/);
  expect(human.code).toBe(0);
  expect(human.stdout.toString('utf8')).toMatch(/verified 1 objects, 1 blocks, .*: no problems/);

  const json = await runCli(['verify', '--data-dir', dataDir, '--json'], { env: BACKENDS_OFF });
  expect(json.code).toBe(0);
  expect(JSON.parse(json.stdout.toString('utf8'))).toMatchObject({ ok: true, objects: 1, blocks: 1 });
});
