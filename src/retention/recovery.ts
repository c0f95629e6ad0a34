// Finishing or undoing what a killed run left in the journal, before a run does anything new (journal.ts has the
// phases). Runs under the lease, so no live run is working on these entries.
import { readObjectManifest } from '../archiver/object-reader.js';
import { CorruptDataError, NotFoundError } from '../errors.js';
import type { JournalEntry } from './journal.js';
import { finishCleanup, finishDelete, switchTo, undoCopy, type OperationDeps } from './operations.js';

export type RecoveryOutcome = 'finished' | 'rolled back';

export interface RecoveredEntry {
  entry: JournalEntry;
  outcome: RecoveryOutcome | 'failed';
  error?: string;
}

export async function recoverEntry(deps: OperationDeps, entry: JournalEntry): Promise<RecoveryOutcome> {
  checkEntry(entry);
  const policy = { name: entry.policy, action: { type: entry.action } };
  const { oldKey } = entry;
  switch (entry.phase) {
    case 'delete': {
      let ids: string[] = [];
      try {
        ids = (await readObjectManifest(deps.blobs, oldKey)).requests.map((r) => r.id);
      } catch (error) {
        if (!(error instanceof NotFoundError || error instanceof CorruptDataError)) throw error;
      }
      await finishDelete(deps, oldKey, ids);
      return 'finished';
    }
    case 'copy':
      await undoCopy(deps, oldKey, requireNewKey(entry));
      return 'rolled back';
    case 'switch': {
      const target = requireNewKey(entry);
      if ((await deps.blobs.stat(target)) === null) {
        // Cannot happen when the journal is followed (the new object is durable before phase switch); if it does, the
        // old object is the only copy: keep it and its rows.
        if ((await deps.index.getObject(oldKey)) !== null) {
          await deps.journal.remove(oldKey);
          return 'rolled back';
        }
        throw new NotFoundError(`journal entry for ${oldKey} is at phase switch but neither ${target} exists nor the index knows ${oldKey}`);
      }
      await switchTo(deps, policy, oldKey, target, entry.action === 'dedup' ? await droppedIds(deps, oldKey, target) : []);
      return 'finished';
    }
    case 'cleanup':
      await finishCleanup(deps, policy, oldKey, requireNewKey(entry));
      return 'finished';
  }
}

/**
 * dedup: the requests of the old object that the new one leaves out. Both exist in phase switch (the old object goes
 * only in cleanup), so their manifests say it; nothing is taken from the journal but the keys.
 */
async function droppedIds(deps: OperationDeps, oldKey: string, newKey: string): Promise<string[]> {
  const kept = new Set((await readObjectManifest(deps.blobs, newKey)).requests.map((r) => r.id));
  return (await readObjectManifest(deps.blobs, oldKey)).requests.map((r) => r.id).filter((id) => !kept.has(id));
}

const PHASES: ReadonlySet<unknown> = new Set(['delete', 'copy', 'switch', 'cleanup']);
const ACTIONS: ReadonlySet<unknown> = new Set(['delete', 'archive', 'compress', 'dedup']);

/**
 * A document in the journal that is not an entry this version wrote (edited by hand, or from another program) is
 * neither finished nor undone: it fails, and stays for a person to look at, reported on every run.
 */
function checkEntry(entry: JournalEntry): void {
  const fields = entry as unknown as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof fields.oldKey !== 'string' || fields.oldKey === '') problems.push('no oldKey');
  if (!PHASES.has(fields.phase)) problems.push(`phase ${JSON.stringify(fields.phase) ?? 'missing'} is not delete, copy, switch or cleanup`);
  if (!ACTIONS.has(fields.action)) problems.push(`action ${JSON.stringify(fields.action) ?? 'missing'} is not delete, archive, compress or dedup`);
  if (fields.newKey !== undefined && typeof fields.newKey !== 'string') problems.push('newKey is not a string');
  if (problems.length > 0) {
    throw new CorruptDataError(`a retention journal entry (${JSON.stringify(fields.oldKey) ?? 'no oldKey'}) is not one this version can recover: ${problems.join('; ')}; it is left in _retention/journal/ for a person to check and remove`);
  }
}

function requireNewKey(entry: JournalEntry): string {
  if (entry.newKey === undefined) throw new CorruptDataError(`journal entry for ${entry.oldKey} (${entry.action}, ${entry.phase}) has no new key`);
  return entry.newKey;
}

/** Every entry, one at a time; failures are reported and left in the journal for the next run. */
export async function recoverJournal(deps: OperationDeps, entries: readonly JournalEntry[]): Promise<RecoveredEntry[]> {
  const out: RecoveredEntry[] = [];
  for (const entry of entries) {
    try {
      out.push({ entry, outcome: await recoverEntry(deps, entry) });
    } catch (error) {
      out.push({ entry, outcome: 'failed', error: (error as Error).message });
    }
  }
  return out;
}
