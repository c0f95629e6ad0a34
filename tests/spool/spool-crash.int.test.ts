// Kill -9 a process in the middle of appending, reopen its spool, and check the promise of an acknowledgement:
// every acked record is there and byte-identical, and nothing partial is ever yielded.
import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Spool } from '../../src/spool/spool.js';
import { makeTempDir, removeDir, take } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const childScript = join(here, 'fixtures', 'crash-writer.mjs');
const builtSpool = join(here, '..', '..', 'dist', 'spool', 'spool.js');

type KillWhen = { acks: number } | { afterMs: number };

/** Runs the writer until `when`, SIGKILLs it, and returns the acked ids with their payload hashes. */
async function runAndKill(dir: string, round: string, when: KillWhen): Promise<Map<string, string>> {
  const child = spawn(process.execPath, [childScript, dir, round, '16'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const acked = new Map<string, string>();
  let stderr = '';
  let partial = '';
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const kill = (): void => {
      child.kill('SIGKILL');
      resolve();
    };
    if ('afterMs' in when) setTimeout(kill, when.afterMs);
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!; // only whole lines count: a cut-off line was not fully reported
      for (const line of lines) {
        if (line === 'ready') continue;
        const [id, sha] = line.split(' ');
        acked.set(id!, sha!);
      }
      if ('acks' in when && acked.size >= when.acks) kill();
    });
    void exited.then((how) => {
      if (how !== 'SIGKILL') reject(new Error(`writer exited on its own (${String(how)}): ${stderr}`));
    });
  });
  expect(await exited).toBe('SIGKILL');
  return acked;
}

describe('spool crash safety', () => {
  it('keeps every acknowledged record whole across repeated kill -9', async () => {
    if (!existsSync(builtSpool)) {
      throw new Error(`${builtSpool} is missing: run \`npx tsc -p tsconfig.build.json\` first (npm test does)`);
    }
    const dir = makeTempDir();
    const ackedEver = new Map<string, string>();
    try {
      const moments: KillWhen[] = [{ acks: 1 }, { acks: 40 }, { afterMs: 150 }, { acks: 300 }, { afterMs: 700 }];
      for (const [round, when] of moments.entries()) {
        const acked = await runAndKill(dir, `r${round}`, when);
        for (const [id, sha] of acked) ackedEver.set(id, sha);

        // Nothing is ever released, so every record of every round must come back.
        const spool = await Spool.open({ dir, segmentBytes: 256 * 1024, maxBytes: 2 ** 40, fsync: 'always' });
        try {
          const expected = spool.stats().unreleasedRecords;
          const records = await take(spool.tail()[Symbol.asyncIterator](), expected, 30_000);
          const found = new Map<string, string>();
          for (const r of records) {
            const sha = createHash('sha256').update(r.payload).digest('hex');
            expect(r.recovered).toBe(true);
            expect(sha).toBe(r.ref.meta.services[0]); // whole: the payload is the one that was appended
            expect(r.payload.length).toBe(r.ref.meta.rawBytes);
            expect(found.has(r.ref.meta.id)).toBe(false);
            found.set(r.ref.meta.id, sha);
          }
          const missing = [...ackedEver.keys()].filter((id) => found.get(id) !== ackedEver.get(id));
          expect(missing).toEqual([]);
          expect(found.size).toBeGreaterThanOrEqual(ackedEver.size);
        } finally {
          await spool.close();
        }
      }
      expect(ackedEver.size).toBeGreaterThan(300);
    } finally {
      removeDir(dir);
    }
  });
});
