// Retention run summaries as notifications: totals, one line per policy, failures, and priority by outcome.
import type { RetentionRunSummary } from '../../src/notify/retention-summary.js';
import { retentionSummaryNotification } from '../../src/notify/retention-summary.js';
import { notificationPayload, SLACK_LIMITS } from '../../src/notify/slack-format.js';

const GiB = 2 ** 30;

function summary(failed = 0): RetentionRunSummary {
  return {
    startedAtMs: Date.UTC(2025, 0, 1, 3, 0, 0),
    finishedAtMs: Date.UTC(2025, 0, 1, 3, 2, 5),
    dryRun: false,
    policies: [
      {
        policy: 'old-traces',
        action: 'delete',
        objects: { processed: 120, succeeded: 120 - failed, failed },
        requests: { processed: 34_000, succeeded: 34_000 - failed * 10, failed: failed * 10 },
        bytesBefore: 12 * GiB,
        bytesAfter: 0,
        ...(failed > 0 ? { errors: ['blob store: AccessDenied on default/traces/…'] } : {}),
      },
      {
        policy: 'compress-logs',
        action: 'compress',
        objects: { processed: 10, succeeded: 10, failed: 0 },
        requests: { processed: 900, succeeded: 900, failed: 0 },
        bytesBefore: 4 * GiB,
        bytesAfter: GiB,
      },
    ],
  };
}

test('a clean run: totals in the title, one line per policy, low priority (digest)', () => {
  const notification = retentionSummaryNotification(summary());
  expect(notification.kind).toBe('retention');
  expect(notification.priority).toBe('low');
  expect(notification.title).toBe('Retention run: 130 objects, 16.0 GiB → 1.0 GiB');
  expect(notification.text).toContain('*Objects*: 130 processed, 130 succeeded, 0 failed');
  expect(notification.text).toContain('*Requests*: 34,900 processed, 34,900 succeeded, 0 failed');
  expect(notification.text).toContain('*Stored bytes*: 16.0 GiB → 1.0 GiB (−94%)');
  expect(notification.text).toContain('*Took*: 2m5s');
  expect(notification.text).toContain('✅ *old-traces* (delete): objects 120 processed, 120 succeeded, 0 failed');
  expect(notification.text).toContain('✅ *compress-logs* (compress)');
  expect(notification.text).toContain('4.0 GiB → 1.0 GiB (−75%)');
});

test('failures raise the priority and are shown with examples; a dry run says nothing changed', () => {
  const notification = retentionSummaryNotification({ ...summary(3), dryRun: true, asOf: '2025-02-01T00:00:00Z' });
  expect(notification.priority).toBe('high');
  expect(notification.title).toBe('Retention run (dry run): 130 objects, 16.0 GiB → 1.0 GiB, 3 failed');
  expect(notification.text).toContain('⚠️ *old-traces*');
  expect(notification.text).toContain('*Failures*\n• old-traces: blob store: AccessDenied');
  expect(notification.text).toContain('as of 2025-02-01T00:00:00Z');
  expect(notification.text).toContain('Dry run: nothing was changed');
  expect(retentionSummaryNotification(summary(3), { priority: 'medium' }).priority).toBe('medium');
});

test('hundreds of policies stay within Slack limits', () => {
  const base = summary();
  const policies = Array.from({ length: 2000 }, (_, n) => ({ ...base.policies[0]!, policy: `policy-${n}`.repeat(10) }));
  const payload = notificationPayload(retentionSummaryNotification({ ...base, policies }));
  expect(payload.blocks!.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
  expect(payload.text.length).toBeLessThanOrEqual(SLACK_LIMITS.textChars);
  expect(/…and \d+ more policies/.test(JSON.stringify(payload.blocks))).toBe(true);
  expect(/…and \d+ more policies/.test(payload.text)).toBe(true);
});
