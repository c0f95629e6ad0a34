// Slack limits: helpers never produce a block or text Slack would refuse or cut.
import { buildDigest } from '../../src/notify/digest.js';
import type { Notification } from '../../src/notify/notifier.js';
import { escapeMrkdwn, joinWithin, notificationPayload, packLines, SLACK_LIMITS, truncate } from '../../src/notify/slack-format.js';

const note = (n: number, priority: Notification['priority'] = 'low', text = `details ${n}`): Notification => ({
  kind: 'alert',
  priority,
  title: `thing ${n}`,
  text,
});

test('truncate cuts with an ellipsis and never splits an emoji', () => {
  expect(truncate('abcdef', 10)).toBe('abcdef');
  expect(truncate('abcdef', 4)).toBe('abc…');
  const cut = truncate('ab🔴cd', 4);
  expect(cut).toBe('ab…');
  expect(escapeMrkdwn('a<b>&c')).toBe('a&lt;b&gt;&amp;c');
});

test('packLines fills sections up to the limit and counts the lines that did not fit', () => {
  const lines = Array.from({ length: 100 }, (_, n) => `${n}`.padEnd(1000, 'x'));
  const { blocks, omitted } = packLines(lines, 5);
  expect(blocks).toHaveLength(5);
  // 2 lines of 1000 chars (+ newline) fit in 3000.
  expect(omitted).toBe(90);
  for (const block of blocks) expect(block.type === 'section' && block.text!.text.length <= SLACK_LIMITS.sectionChars).toBe(true);
});

test('joinWithin keeps the text within the limit and counts what it left out', () => {
  const lines = Array.from({ length: 50 }, (_, n) => `line ${n}`);
  expect(joinWithin(lines, 10_000, 'items')).toBe(lines.join('\n'));
  const cut = joinWithin(lines, 100, 'items');
  expect(cut.length).toBeLessThanOrEqual(100);
  const kept = cut.split('\n').filter((line) => line.startsWith('line ')).length;
  expect(cut.endsWith(`…and ${50 - kept} more items`)).toBe(true);
});

test('a plain notification gets a header and its text; notes are appended; everything stays within limits', () => {
  const payload = notificationPayload(note(1, 'high', 'x'.repeat(200_000)), ['repeated 3 more times']);
  expect(payload.blocks![0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'thing 1', emoji: true } });
  expect(payload.blocks!.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
  expect(payload.text.length).toBeLessThanOrEqual(SLACK_LIMITS.textChars);
  expect(payload.blocks!.at(-1)).toEqual({ type: 'context', elements: [{ type: 'mrkdwn', text: '_repeated 3 more times_' }] });
});

test('a digest holds several notifications in one message, and what does not fit is counted for the next', () => {
  const small = buildDigest([note(1), note(2, 'medium'), note(3)].map((notification) => ({ notification, notes: [] })));
  expect(small.included).toBe(3);
  expect(small.payload.text).toContain('otlp-capture digest: 3 notifications');
  for (const n of [1, 2, 3]) expect(small.payload.text).toContain(`*thing ${n}*`);
  expect(small.payload.text).toContain('🟡 *thing 2*  _medium · alert_');

  const many = buildDigest(Array.from({ length: 200 }, (_, n) => ({ notification: note(n, 'low', 'y'.repeat(5000)), notes: [] })));
  expect(many.included).toBeLessThan(200);
  expect(many.payload.blocks!.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
  expect(many.payload.text.length).toBeLessThanOrEqual(SLACK_LIMITS.textChars);
  expect(many.payload.text).toContain(`…and ${200 - many.included} more, in the next digest`);
});
