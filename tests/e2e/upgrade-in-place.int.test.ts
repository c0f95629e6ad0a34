// Upgrading in place: data directories that earlier versions of otlp-capture wrote and left after a SIGKILL
// (tests/fixtures/upgrade/, see its README: spool format 1 and 2, archive manifests 1-3, gzip and zstd objects,
// SQLite index schemas 1, 3 and 4, an old retention run's records) are served by this version. It archives the
// records the old one acknowledged but left in the spool, migrates the index, takes new data beside the old, and every
// command answers across both: list, get and replay byte for byte against what was sent, find-trace, verify,
// retention (dry run and a real compress of an old object) and reindex.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Signal } from '../../src/model.js';
import { requestType } from '../../src/otlp/proto-root.js';
import type { RequestView } from '../../src/query/request-view.js';
import { allArchived, getBytes, listJson } from '../helpers/capture-cli.js';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { startRecordingTarget } from '../helpers/recording-otlp-target.js';
import { runCli, startServer } from '../helpers/server-process.js';
import { waitFor } from '../helpers/wait.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/upgrade/', import.meta.url));
const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

interface SentRequest {
  file: string;
  batch: 'archived' | 'spool';
  signal: Signal;
  service: string;
  tenant: string;
  sha256: string;
  bytes: number;
}
interface Sent {
  commit: string;
  sharedTrace: string;
  requests: SentRequest[];
}

/** The fixtures, oldest first, and what their version's index could not know. */
const CASES = [
  // Spool format 1, manifest 1, gzip, index schema 1: no trace index, so find-trace misses its archived traces
  // until a reindex.
  { commit: 'f6a2d6f', untracedAfterUpgrade: 2 },
  // Spool format 1, manifest 2 (trace ids), gzip, index schema 3, a retention run that compressed logs to brotli
  // and one killed after its index switch (journal entry at switch, lease of a dead process).
  { commit: 'f525cd6', untracedAfterUpgrade: 0 },
  // Spool format 2, manifest 3 (xxh3-128 fingerprints), zstd, index schema 4.
  { commit: 'dd6834a', untracedAfterUpgrade: 0 },
];

/** Resource service.name of every span in a find-trace answer (OTLP JSON). */
function spanServices(json: string): string[] {
  const body = JSON.parse(json) as {
    resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: unknown[] }[] }[];
  };
  return body.resourceSpans
    .flatMap((rs) => {
      const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '?';
      return rs.scopeSpans.flatMap((ss) => ss.spans.map(() => service));
    })
    .sort();
}

/** A trace request of this version, with a span in the trace every fixture shares. */
function currentTrace(sharedTrace: string): Buffer {
  const type = requestType('traces');
  return Buffer.from(type.encode(type.fromObject({
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'current' } }] },
      scopeSpans: [{ spans: [{
        traceId: Buffer.from(sharedTrace, 'hex'), spanId: Buffer.from('00000000000000c1', 'hex'), name: 'after-upgrade',
        startTimeUnixNano: '1795000000000000000', endTimeUnixNano: '1795000000000001000',
      }] }],
    }],
  })).finish());
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-upgrade-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test.each(CASES)('data written by $commit is carried on by this version', async ({ commit, untracedAfterUpgrade }) => {
  execFileSync('tar', ['-xzf', path.join(FIXTURES, `${commit}.tar.gz`), '-C', dir]);
  const data = path.join(dir, 'data');
  const sent = JSON.parse(readFileSync(path.join(dir, 'sent.json'), 'utf8')) as Sent;
  expect(sent.commit).toBe(commit);
  const sentBytes = new Map(sent.requests.map((r) => [r.sha256, readFileSync(path.join(dir, r.file))]));
  // Archive objects as the old version left them (keys relative to the blob store's root).
  const oldObjects = execFileSync('tar', ['-tzf', path.join(FIXTURES, `${commit}.tar.gz`)], { encoding: 'utf8' })
    .split('\n').filter((name) => name.endsWith('.otlpc')).map((name) => name.slice('data/objects/'.length));
  const journalDir = path.join(data, 'objects', '_retention', 'journal');
  const oldJournal = (existsSync(journalDir) ? readdirSync(journalDir) : []).map(
    (name) => JSON.parse(readFileSync(path.join(journalDir, name), 'utf8')) as { action: string; oldKey: string; phase: string },
  );
  expect(sent.requests.filter((r) => r.batch === 'spool').length).toBeGreaterThan(0);

  // Before serve has migrated the index, readers refuse it with what to do, rather than read it wrongly.
  const early = await runCli(['list', '--data-dir', data]);
  expect(early.code).toBe(1);
  expect(early.stderr).toMatch(/has schema version \d, expected \d+: start the server once to migrate it/);

  const config = path.join(dir, 'config.yaml');
  writeFileSync(config, 'archiver:\n  maxObjectAge: 200ms\n');
  const server = await startServer(['--config', config, '--data-dir', data]);
  const fresh = currentTrace(sent.sharedTrace);
  let rows: RequestView[];
  try {
    // The old version's acknowledged records left in its spool are recovered and archived.
    expect(server.output()).toMatch(/spool holds records from a previous run/);
    const client = new RawOtlpClient(server.grpcAddress);
    expect(await client.export('traces', fresh)).toEqual({ ok: true });
    client.close();
    rows = await waitFor('old spool records and the new request archived', async () => {
      const listed = await listJson(data);
      return allArchived(listed, sent.requests.length + 1) ? listed : undefined;
    }, 30_000, 250);
  } finally {
    expect(await server.stop()).toBe(0);
  }

  // list: every request once, as it was sent to the old version (and the new one).
  expect(rows).toHaveLength(sent.requests.length + 1);
  const listed = rows.map((r) => `${r.signal} ${r.tenant} ${r.services.join(',')} ${r.bytes}`).sort();
  const expected = [...sent.requests.map((r) => `${r.signal} ${r.tenant} ${r.service} ${r.bytes}`), `traces default current ${fresh.length}`].sort();
  expect(listed).toEqual(expected);

  // get: byte for byte, an old archived request and an old spooled one (the others through replay below).
  for (const batch of ['archived', 'spool'] as const) {
    const one = sent.requests.find((r) => r.batch === batch && r.signal === 'logs')!;
    const row = rows.find((r) => r.signal === 'logs' && r.tenant === one.tenant && r.services[0] === one.service)!;
    expect(sha(await getBytes(data, row.id))).toBe(one.sha256);
  }

  // replay: every request, old and new, arrives at a real OTLP endpoint byte for byte; the dry run counts them.
  const dry = await runCli(['replay', '--to', '127.0.0.1:1', '--dry-run', '--data-dir', data]);
  expect(dry.code).toBe(0);
  expect(dry.stderr + dry.stdout.toString()).toMatch(new RegExp(`would replay ${rows.length} requests`));
  const target = await startRecordingTarget();
  try {
    const replay = await runCli(['replay', '--to', target.address, '--data-dir', data]);
    expect(replay.code).toBe(0);
    const arrived = target.accepted.map((a) => `${a.signal} ${sha(a.bytes)}`).sort();
    expect(arrived).toEqual([...sent.requests.map((r) => `${r.signal} ${r.sha256}`), `traces ${sha(fresh)}`].sort());
  } finally {
    await target.close();
  }

  // find-trace: the trace is in an old archived request, an old spooled one and a new one. An index from before the
  // trace index cannot know the first; find-trace says so, and a reindex brings it in.
  const everywhere = ['checkout', 'current', 'payments'];
  const findTrace = (): ReturnType<typeof runCli> => runCli(['find-trace', sent.sharedTrace, '--format', 'json', '--data-dir', data]);
  const before = await findTrace();
  expect(before.code).toBe(0);
  if (untracedAfterUpgrade > 0) {
    expect(spanServices(before.stdout.toString())).toEqual(['current', 'payments']);
    expect(before.stderr).toContain(`warning: ${untracedAfterUpgrade} trace requests archived by an otlp-capture older than its trace index`);
    expect(before.stderr).toContain('run `otlp-capture reindex`');
  } else {
    expect(spanServices(before.stdout.toString())).toEqual(everywhere);
    expect(before.stderr).toBe('');
  }

  // retention: the old version's records are read (its last run; a run it was killed in, left in its journal);
  // a dry run changes nothing; a real run finishes the old run's operation and re-encodes objects the old version
  // wrote (brotli 11: at these small sizes zstd 19 does not shrink the old zstd objects, so they would be kept).
  const status = await runCli(['retention', 'status', '--data-dir', data]);
  expect(status.code).toBe(0);
  expect(status.stdout.toString()).toContain(`journal: ${oldJournal.length === 0 ? '0 pending operations' : `${oldJournal.length} pending operation`}`);
  for (const entry of oldJournal) expect(status.stdout.toString()).toContain(`${entry.action} ${entry.oldKey} at ${entry.phase}`);
  const retention = path.join(dir, 'retention.yaml');
  writeFileSync(retention, 'retention:\n  leaseSettle: 10ms\n  policies:\n    - name: cold\n      match: { olderThan: 1ms }\n      action: { type: compress, codec: brotli, level: 11 }\n');
  const dryRun = await runCli(['retention', 'run', '--dry-run', '--config', retention, '--data-dir', data]);
  expect(dryRun.code).toBe(0);
  expect((await listJson(data)).map((r) => r.object)).toEqual(rows.map((r) => r.object));
  const run = await runCli(['retention', 'run', '--config', retention, '--data-dir', data]);
  expect(run.code).toBe(0);
  expect(run.stdout.toString() + run.stderr).toMatch(/0 failed/);
  const after = await listJson(data);
  const rewritten = after.filter((r) => oldObjects.includes(r.object!.replace('.brotli-11.', '.')) && r.object!.includes('.brotli-11.'));
  expect(rewritten.length).toBeGreaterThan(0);
  for (const r of rewritten) expect(existsSync(path.join(data, 'objects', r.object!.replace('.brotli-11.', '.')))).toBe(false);
  expect((await runCli(['retention', 'status', '--data-dir', data])).stdout.toString()).toContain('journal: 0 pending operations');
  for (const entry of oldJournal) expect(existsSync(path.join(data, 'objects', entry.oldKey))).toBe(false);

  // verify: old and re-encoded objects check out against the migrated index.
  const verify = await runCli(['verify', '--data-dir', data]);
  expect(verify.stdout.toString() + verify.stderr).toMatch(/no problems/);
  expect(verify.code).toBe(0);

  // reindex over the migrated index: idempotent for rows, and it fills the trace rows an old index never had.
  const reindex = await runCli(['reindex', '--data-dir', data]);
  expect(reindex.code).toBe(0);
  const afterReindex = await findTrace();
  expect(spanServices(afterReindex.stdout.toString())).toEqual(everywhere);
  expect(afterReindex.stderr).toBe('');
  const final = await listJson(data);
  expect(final.map((r) => r.id)).toEqual(rows.map((r) => r.id));
  expect(sentBytes.get(sha(await getBytes(data, rewritten[0]!.id)))).toBeDefined();
});
