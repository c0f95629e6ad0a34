// Objects the dedup action has been through, remembered so that it takes each object once, not every interval: an
// object of an old enough age has all the twins it will ever have (they are received within the window before its
// requests), so looking again finds nothing new — and, since each object gets the first policy that applies, a
// dedup policy that kept taking every object would hide it from the policies listed after it (delete after 90d).
// One small document per object under `_retention/deduped/`, naming the window used: a wider window looks again.
// Written for the object dedup leaves (the same one, or the rewritten one); goes when the object does.
import { documentAbout, type StateStore } from './state-store.js';

export const DEDUPED_DIR = 'deduped/';

export interface DedupCheck {
  key: string;
  windowMs: number;
  /** Requests dedup dropped getting here (0: it found none). */
  dropped: number;
  atMs: number;
}

const documentName = (key: string): string => documentAbout(DEDUPED_DIR, key);

export class DedupChecks {
  constructor(private readonly state: StateStore) {}

  /** True when `key` was already deduplicated with a window at least `windowMs` wide. */
  async covered(key: string, windowMs: number): Promise<boolean> {
    const check = await this.state.read<DedupCheck>(documentName(key));
    return check !== null && check.key === key && check.windowMs >= windowMs;
  }

  async record(check: Omit<DedupCheck, 'atMs'>): Promise<void> {
    await this.state.write(documentName(check.key), { ...check, atMs: Date.now() });
  }

  /** Idempotent: also called for objects dedup never saw. */
  async forget(key: string): Promise<void> {
    await this.state.remove(documentName(key));
  }
}
