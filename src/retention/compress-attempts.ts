// Objects that a compress action re-encoded without gain, remembered so that later runs do not spend the same CPU
// on them again every interval. It happens when an object is already as dense as the policy can make it: written
// by an archiver configured with a stronger setting than today's policy, or too small for a stronger codec to win.
// One small document per object under `_retention/kept/` names the codec and level tried; a stronger setting tries
// again, and the document goes when the object does (delete, archive).
import { settingCovers, type CompressSetting } from './policy-match.js';
import type { CompressCodec } from './retention-config.js';
import { documentAbout, type StateStore } from './state-store.js';

export const KEPT_DIR = 'kept/';

export interface CompressAttempt {
  key: string;
  codec: CompressCodec;
  level: number;
  storedBytes: number;
  reencodedBytes: number;
  atMs: number;
}

const documentName = (key: string): string => documentAbout(KEPT_DIR, key);

export class CompressAttempts {
  constructor(private readonly state: StateStore) {}

  /** True when `key` was already re-encoded at `wanted` or stronger and did not shrink. */
  async triedWithoutGain(key: string, wanted: CompressSetting): Promise<boolean> {
    const attempt = await this.state.read<CompressAttempt>(documentName(key));
    return attempt !== null && attempt.key === key && settingCovers(attempt, wanted);
  }

  async record(attempt: Omit<CompressAttempt, 'atMs'>): Promise<void> {
    await this.state.write(documentName(attempt.key), { ...attempt, atMs: Date.now() });
  }

  /** Idempotent: also called for objects that were never tried. */
  async forget(key: string): Promise<void> {
    await this.state.remove(documentName(key));
  }
}
