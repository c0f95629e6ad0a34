// An AlertSnapshot with nothing wrong in it, for the alert rules' tests to change one thing at a time.
import type { AlertSnapshot } from '../../src/notify/alert-rules.js';

export type SnapshotOverrides = Omit<Partial<AlertSnapshot>, 'spool'> & { spool?: Partial<AlertSnapshot['spool']> };

export function alertSnapshot(overrides: SnapshotOverrides = {}): AlertSnapshot {
  return {
    nowMs: 1_000_000,
    msSinceLastCommit: 1000,
    archiveFailures: {},
    rejections: {},
    archiverStalled: null,
    quarantined: { corruptRecords: 0, corruptBytes: 0, archiverRecords: 0 },
    ...overrides,
    spool: { bytesOnDisk: 0, maxBytes: 100 * 2 ** 20, unreleasedRecords: 0, oldestUnreleasedAgeMs: 0, ...overrides.spool },
  };
}
