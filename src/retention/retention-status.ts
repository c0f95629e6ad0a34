// What `retention status` shows: who holds the lease, what the last run did, and what the journal still holds
// (operations of a killed run that the next run will finish or undo), how many objects compress left as they were,
// and how many objects dedup has been through (the last run's summary says how many duplicates it dropped).
import type { BlobStore } from '../storage/blob-store.js';
import { KEPT_DIR } from './compress-attempts.js';
import { DEDUPED_DIR } from './dedup-checks.js';
import { Journal, type JournalEntry } from './journal.js';
import { LEASE_NAME, leaseIsLive, type LeaseRecord } from './lease.js';
import { LAST_RUN_NAME, type LastRunRecord } from './retention-run.js';
import { StateStore } from './state-store.js';

export interface RetentionStatus {
  lease: (LeaseRecord & { live: boolean }) | null;
  lastRun: LastRunRecord | null;
  pending: JournalEntry[];
  /** Objects a compress policy re-encoded without gain, left as they are (compress-attempts.ts). */
  keptAsIs: number;
  /** Objects the dedup action has been through and will not look at again at that window (dedup-checks.ts). */
  deduplicated: number;
}

export async function readRetentionStatus(blobs: BlobStore, nowMs: number = Date.now()): Promise<RetentionStatus> {
  const state = new StateStore(blobs);
  const lease = await state.read<LeaseRecord>(LEASE_NAME);
  return {
    lease: lease === null ? null : { ...lease, live: leaseIsLive(lease, nowMs) },
    lastRun: await state.read<LastRunRecord>(LAST_RUN_NAME),
    pending: await new Journal(state).entries(),
    keptAsIs: (await state.names(KEPT_DIR)).length,
    deduplicated: (await state.names(DEDUPED_DIR)).length,
  };
}
