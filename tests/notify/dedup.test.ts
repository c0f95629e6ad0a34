// Dedup by key within a window: repeats counted and reported with the next message; escalation and all-clear pass.
import { Deduplicator } from '../../src/notify/dedup.js';
import type { Notification } from '../../src/notify/notifier.js';

const alert = (priority: Notification['priority'] = 'high', extra: Partial<Notification> = {}): Notification => ({
  kind: 'alert',
  priority,
  title: 'spool full',
  text: 'x',
  dedupKey: 'spool',
  ...extra,
});

test('repeats inside the window are suppressed and counted; the first one after it carries the count', () => {
  const dedup = new Deduplicator(1000);
  expect(dedup.check(alert(), 0)).toEqual({ send: true, notes: [] });
  expect(dedup.check(alert(), 100)).toEqual({ send: false });
  expect(dedup.check(alert(), 999)).toEqual({ send: false });
  expect(dedup.suppressed).toBe(2);
  const after = dedup.check(alert(), 1000);
  expect(after.send).toBe(true);
  expect(after.send && after.notes).toEqual(['repeated 2 more times since 1970-01-01T00:00:00.000Z (not sent again within the dedup window)']);
  // A new window starts at the message just sent.
  expect(dedup.check(alert(), 1500)).toEqual({ send: false });
});

test('messages without a key, or with another key, are never suppressed', () => {
  const dedup = new Deduplicator(1000);
  const { dedupKey: _k, ...keyless } = alert();
  expect(dedup.check(keyless, 0).send).toBe(true);
  expect(dedup.check(keyless, 1).send).toBe(true);
  expect(dedup.check(alert(), 2).send).toBe(true);
  expect(dedup.check(alert('high', { dedupKey: 'other' }), 3).send).toBe(true);
});

test('an escalation to a higher priority goes out inside the window', () => {
  const dedup = new Deduplicator(1000);
  expect(dedup.check(alert('high'), 0).send).toBe(true);
  expect(dedup.check(alert('critical'), 10).send).toBe(true);
  expect(dedup.check(alert('critical'), 20).send).toBe(false);
  expect(dedup.check(alert('high'), 30).send).toBe(false);
});

test('the all-clear is sent once with the repeat count, and the next firing goes out at once', () => {
  const dedup = new Deduplicator(60_000);
  dedup.check(alert(), 0);
  dedup.check(alert(), 10);
  const resolved = dedup.check(alert('high', { resolved: true }), 20);
  expect(resolved.send && resolved.notes[0]).toMatch(/^repeated once more since/);
  expect(dedup.check(alert('high', { resolved: true }), 30)).toEqual({ send: false });
  expect(dedup.check(alert(), 40)).toEqual({ send: true, notes: [] });
});
