// The dedup action killed (SIGKILL, through the test-only hook OTLP_CAPTURE_RETENTION_CRASH_AT) after each of its
// journalled steps — the rewrite of a part-copies object (copy … source-deleted) and the deletion of an all-copies
// one (delete, index-deleted, source-deleted) — then run again: the next run finishes or undoes what the journal
// holds and goes on, ending exactly where an uninterrupted run ends: no request lost, no row pointing at a missing
// object, no object the index does not know, every copy gone. `otlp-capture retention run` as a user runs it.
import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteIndexStore } from '../../src/index/sqlite-index-store.js';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';
import { buildArchive } from '../helpers/archive-builder.js';
import { runCli } from '../helpers/server-process.js';
import { expectConsistent } from './consistency.js';
import { DEDUP_NAMES, DROPPED, PER_OBJECT, dedupEntries } from './dedup-scenario.js';

const DAY = 86_400_000;
// In key order (concurrency 1) the first object stays, the second is rewritten, the third (all copies) deleted.
const CRASHES = ['copy:1', 'copied:1', 'switch:1', 'replaced:1', 'cleanup:1', 'source-deleted:1', 'delete:1', 'index-deleted:1', 'source-deleted:2'];

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const result = await runCli(args, { env: { OTLP_CAPTURE_LOG_LEVEL: 'warn', ...env } });
  return { ...result, stdout: result.stdout.toString() };
}

describe('retention dedup killed after each step (filesystem + SQLite, CLI)', () => {
  test.each(CRASHES)('killed at %s, run again: consistent, every copy gone, every other request byte for byte', async (at) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retention-dedup-crash-'));
    try {
      const { entries, bytes } = dedupEntries(Date.now() - 3_600_000);
      const archive = await buildArchive(dir, entries, PER_OBJECT);
      const idOf = new Map(entries.map((e, i) => [DEDUP_NAMES[i]!, archive.requests.find((r) => r.tenant === e.tenant && r.receivedAtMs === e.receivedAtMs)!.id]));
      await archive.close();
      const config = path.join(dir, 'retention.yaml');
      writeFileSync(config, 'retention:\n  concurrency: 1\n  leaseSettle: 50ms\n  policies:\n    - { name: copies, match: { olderThan: 7d }, action: { type: dedup, window: 15m } }\n');
      const args = ['retention', 'run', '--json', '--as-of', new Date(Date.now() + 10 * DAY).toISOString(), '--config', config, '--data-dir', dir];

      const killed = await cli(args, { OTLP_CAPTURE_RETENTION_CRASH_AT: at });
      expect({ at, signal: killed.signal }).toEqual({ at, signal: 'SIGKILL' });
      const pending = JSON.parse((await cli(['retention', 'status', '--json', '--config', config, '--data-dir', dir])).stdout) as { pending: { action: string }[] };
      expect(pending.pending.map((p) => p.action)).toEqual(['dedup']);

      const rerun = await cli(args);
      expect({ code: rerun.code, errors: rerun.stderr.split('\n').filter((line) => line !== '' && !line.startsWith('retention: ')) }).toEqual({ code: 0, errors: [] });
      const result = JSON.parse(rerun.stdout) as { recovered: { outcome: string }[] };
      expect(result.recovered).toHaveLength(1);
      expect(result.recovered[0]!.outcome).not.toBe('failed');

      const blobs = new FsBlobStore(path.join(dir, 'objects'));
      const index = new SqliteIndexStore(path.join(dir, 'index.sqlite'), { readonly: true });
      await blobs.start();
      await index.start();
      try {
        const kept = new Map(DEDUP_NAMES.filter((n) => !DROPPED.includes(n)).map((n) => [idOf.get(n)!, bytes.get(n)!]));
        const state = await expectConsistent(blobs, index, { listPrefixes: [''], expectedBytes: kept, gone: DROPPED.map((n) => idOf.get(n)!) });
        expect(state.requests).toHaveLength(kept.size);
        const status = JSON.parse((await cli(['retention', 'status', '--json', '--config', config, '--data-dir', dir])).stdout) as { pending: unknown[]; lease: unknown };
        expect(status).toMatchObject({ pending: [], lease: null });
      } finally {
        await index.close();
        await blobs.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
