// Each operational condition: when it fires, how urgent, what it says, and when it clears.
import {
  ArchiverStalledRule,
  IndexLagRule,
  QuarantineRule,
  RejectionsRule,
  SpoolFillRule,
  UploadFailingRule,
  type AlertSnapshot,
} from '../../src/notify/alert-rules.js';
import { alertSnapshot } from './alert-snapshot.js';

const MiB = 2 ** 20;

const snapshot = alertSnapshot;

test('spool fill: fires at the threshold, critical from 95%, and clears only 5 points below it', () => {
  const rule = new SpoolFillRule(80);
  expect(rule.evaluate(snapshot({ spool: { bytesOnDisk: 79 * MiB } }))).toBeNull();
  const firing = rule.evaluate(snapshot({ spool: { bytesOnDisk: 80 * MiB, unreleasedRecords: 12, oldestUnreleasedAgeMs: 90_000 } }));
  expect(firing?.priority).toBe('high');
  expect(firing?.title).toBe('Spool 80% full');
  expect(firing?.text).toContain('The spool holds 80.0 MiB of its 100.0 MiB (alert at 80%); 12 requests wait to be archived, the oldest for 1m30s.');
  expect(rule.evaluate(snapshot({ spool: { bytesOnDisk: 96 * MiB } }))?.priority).toBe('critical');
  expect(rule.evaluate(snapshot({ spool: { bytesOnDisk: 76 * MiB } }))).not.toBeNull();
  expect(rule.evaluate(snapshot({ spool: { bytesOnDisk: 74 * MiB } }))).toBeNull();
  expect(rule.evaluate(snapshot({ spool: { bytesOnDisk: 76 * MiB } }))).toBeNull();
  expect(rule.resolvedText(snapshot({ spool: { bytesOnDisk: 10 * MiB } }))).toBe('The spool is back to 10% (10.0 MiB of 100.0 MiB).');
});

test('uploads failing: fires once failures have gone on for the threshold with no commit, clears after a commit', () => {
  const rule = new UploadFailingRule(60_000);
  const at = (nowMs: number, failures: number, msSinceLastCommit: number): AlertSnapshot =>
    snapshot({ nowMs, archiveFailures: { upload: failures }, msSinceLastCommit });
  expect(rule.evaluate(at(0, 0, 0))).toBeNull();
  expect(rule.evaluate(at(10_000, 3, 10_000))).toBeNull();
  // Still failing (a backoff between attempts means no new failure in this interval) and still no commit.
  expect(rule.evaluate(at(40_000, 3, 40_000))).toBeNull();
  const firing = rule.evaluate(at(70_000, 5, 70_000));
  expect(firing?.title).toBe('Archive uploads failing for 1m');
  expect(firing?.text).toContain('(5 failed attempts; all time by stage: upload: 5)');
  // An object was committed 5 s ago, after the failures began, and nothing failed since: cleared.
  expect(rule.evaluate(at(80_000, 5, 5_000))).toBeNull();
});

test('index lag: only while data waits, and no longer than the oldest waiting request', () => {
  const rule = new IndexLagRule(5 * 60_000);
  expect(rule.evaluate(snapshot({ msSinceLastCommit: 3_600_000 }))).toBeNull();
  // Quiet for an hour, then data arrived a minute ago: not an hour of lag.
  expect(rule.evaluate(snapshot({ msSinceLastCommit: 3_600_000, spool: { unreleasedRecords: 5, oldestUnreleasedAgeMs: 60_000 } }))).toBeNull();
  const firing = rule.evaluate(snapshot({ msSinceLastCommit: 600_000, spool: { unreleasedRecords: 5, oldestUnreleasedAgeMs: 700_000 } }));
  expect(firing?.title).toBe('Index lagging by 10m');
  expect(firing?.text).toContain('5 requests wait in the spool (the oldest for 11m40s; alert at 5m)');
});

test('rejections: counted per interval against a baseline, listed by reason', () => {
  const rule = new RejectionsRule(10);
  expect(rule.evaluate(snapshot({ rejections: { malformed: 1000 } }))).toBeNull();
  expect(rule.evaluate(snapshot({ rejections: { malformed: 1005 } }))).toBeNull();
  const firing = rule.evaluate(snapshot({ rejections: { malformed: 1008, unauthenticated: 9 } }));
  expect(firing?.title).toBe('12 requests rejected');
  expect(firing?.text).toContain('By reason: unauthenticated 9, malformed 3.');
  expect(rule.evaluate(snapshot({ rejections: { malformed: 1009, unauthenticated: 9 } }))).toBeNull();
});

test('archiver stalled: fires (critical) with the archiver\'s reason while it holds, and clears', () => {
  const rule = new ArchiverStalledRule();
  expect(rule.evaluate(snapshot())).toBeNull();
  const reason = 'archiver stalled: no progress for 6m00s while 12 requests wait (archiver.maxLag 5m00s)';
  const firing = rule.evaluate(snapshot({ archiverStalled: reason, spool: { unreleasedRecords: 12, bytesOnDisk: 10 * MiB } }));
  expect(firing).toMatchObject({ priority: 'critical', title: 'Archiving stalled' });
  expect(firing?.text).toContain(reason);
  expect(firing?.text).toContain('12 requests wait in the spool (10% full)');
  expect(rule.evaluate(snapshot())).toBeNull();
  expect(rule.resolvedText(snapshot({ msSinceLastCommit: 2000 }))).toContain('last index commit 2s ago');
});

test('quarantine: fires once per check with new quarantined data, counting from process start', () => {
  const rule = new QuarantineRule();
  // Damage found at start-up (before the first check) is reported at the first check.
  const first = rule.evaluate(snapshot({ quarantined: { corruptRecords: 2, corruptBytes: 3 * MiB, archiverRecords: 0 } }));
  expect(first).toMatchObject({ priority: 'high', title: 'Spool data quarantined (2)' });
  expect(first?.text).toContain('2 damaged spool records or ranges (3.0 MiB) were found on disk');
  expect(first?.text).not.toContain('archiver gave up');
  expect(rule.evaluate(snapshot({ quarantined: { corruptRecords: 2, corruptBytes: 3 * MiB, archiverRecords: 0 } }))).toBeNull();
  const second = rule.evaluate(snapshot({ quarantined: { corruptRecords: 2, corruptBytes: 3 * MiB, archiverRecords: 1 } }));
  expect(second?.title).toBe('Spool data quarantined (1)');
  expect(second?.text).toContain('the archiver gave up on 1 spooled requests');
});
