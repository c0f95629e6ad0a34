// The journal of retention operations in flight: one document per object being changed, written BEFORE each step
// that changes the archive, removed after the last. A run that dies anywhere leaves the entry in the phase it had
// reached; the next run (any host) finishes or undoes each entry before doing anything new (recovery.ts):
//
//   delete:            phase delete  → index row removed → blob removed → entry removed
//   archive/compress:  phase copy    → new object written (copy, or re-encoded)
//                      phase switch  → index points at the new object (replaceObject)
//                      phase cleanup → old object removed → entry removed
//   dedup:             as compress when some requests are dropped (the new object holds the others, and the switch
//                      also removes the dropped rows: old manifest minus new manifest); as delete when all are;
//                      no entry when none is
//
// An entry in `copy` is undone (the new object is deleted: the index never pointed at it); an entry in `switch` or
// later is finished (replaceObject and delete are idempotent). So no index row ever points at a missing object,
// and no object is left that the index does not know.
import { documentAbout, type StateStore } from './state-store.js';

export const JOURNAL_DIR = 'journal/';

export type JournalPhase = 'delete' | 'copy' | 'switch' | 'cleanup';
export type ActionType = 'delete' | 'archive' | 'compress' | 'dedup';

export interface JournalEntry {
  policy: string;
  action: ActionType;
  oldKey: string;
  /** archive / compress / dedup (some dropped): where the new object goes. */
  newKey?: string;
  phase: JournalPhase;
  /** The lease owner that wrote it, for `retention status`. */
  owner: string;
  updatedAtMs: number;
}

/** One document per object: a second operation on the same object would find (and finish) the first one's entry. */
function entryName(oldKey: string): string {
  return documentAbout(JOURNAL_DIR, oldKey);
}

export class Journal {
  constructor(private readonly state: StateStore) {}

  async put(entry: JournalEntry): Promise<void> {
    await this.state.write(entryName(entry.oldKey), { ...entry, updatedAtMs: Date.now() });
  }

  async remove(oldKey: string): Promise<void> {
    await this.state.remove(entryName(oldKey));
  }

  async entries(): Promise<JournalEntry[]> {
    const out: JournalEntry[] = [];
    for (const name of await this.state.names(JOURNAL_DIR)) {
      if (!name.endsWith('.json')) continue;
      const entry = await this.state.read<JournalEntry>(name);
      if (entry !== null) out.push(entry);
    }
    return out;
  }
}
