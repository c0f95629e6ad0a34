// A review report as a Slack message: what a reader needs is in it, in order, and a huge report stays inside
// Slack's limits with "…and N more".
import type { MessageBlock } from '../../src/notify/notifier.js';
import { reviewNotification, reviewPriority } from '../../src/notify/review-format.js';
import { parseReviewReport, type ReviewReport } from '../../src/notify/review-report.js';
import { notificationPayload, SLACK_LIMITS } from '../../src/notify/slack-format.js';
import { VALID } from './review-fixture.js';

const report = (): ReviewReport => parseReviewReport(JSON.stringify(VALID));

function blockTexts(blocks: readonly MessageBlock[]): string[] {
  return blocks.flatMap((block) => {
    switch (block.type) {
      case 'header':
        return [block.text.text];
      case 'section':
        return [...(block.text ? [block.text.text] : []), ...(block.fields ?? []).map((field) => field.text)];
      case 'context':
        return block.elements.map((element) => element.text);
      case 'divider':
        return [];
    }
  });
}

test('scope, severity, counts, every issue with its marker and place, and the recommendations', () => {
  const notification = reviewNotification(report());
  expect(notification.kind).toBe('review');
  expect(notification.priority).toBe('high');
  expect(notification.title).toBe('Code review: high severity, 3 issues in 42 files');
  const all = blockTexts(notification.blocks!).join('\n');
  expect(all).toContain('42 files, 12,345 lines of code');
  expect(all).toContain('🟠 high');
  expect(all).toContain('🔴 1 critical · 🟠 1 high · 🔵 1 low');
  expect(all).toContain('🔴 *critical* `src/db.ts:17` _security_ — SQL built from user input');
  expect(all).toContain('🔵 *low* `src/app.ts:3` _style_ — long function');
  // Most severe first.
  expect(all.indexOf('src/db.ts:17')).toBeLessThan(all.indexOf('src/loop.ts:99'));
  expect(all.indexOf('src/loop.ts:99')).toBeLessThan(all.indexOf('src/app.ts:3'));
  expect(all).toContain('*Recommendations*\n• Use parameterised queries\n• Split app.ts');
  // The plain text (notifications, clients without blocks) says the same.
  for (const part of ['12,345 lines', 'src/db.ts:17', 'src/app.ts:3', '• Split app.ts']) expect(notification.text).toContain(part);
});

test('the default priority follows severity; --priority overrides it', () => {
  expect(reviewPriority('critical')).toBe('critical');
  expect(reviewPriority('medium')).toBe('medium');
  expect(reviewPriority('info')).toBe('low');
  expect(reviewNotification(report(), { priority: 'low' }).priority).toBe('low');
});

test('user text cannot inject mentions or links: <, > and & are escaped', () => {
  const base = report();
  const notification = reviewNotification({
    ...base,
    issues: [{ ...base.issues[0]!, description: 'ping <!channel> & see <http://evil|here>' }],
    recommendations: ['<@U123> fix it'],
  });
  const all = blockTexts(notification.blocks!).join('\n') + notification.text;
  expect(all).not.toContain('<!channel>');
  expect(all).not.toContain('<@U123>');
  expect(all).toContain('ping &lt;!channel&gt; &amp; see &lt;http://evil|here&gt;');
});

test('a report with thousands of long issues stays within every Slack limit and says how many are left out', () => {
  const base = report();
  const issues = Array.from({ length: 5000 }, (_, n) => ({
    category: 'bug',
    severity: 'medium' as const,
    description: `problem ${n} `.repeat(80),
    file: `src/file-${n}.ts`,
    line: n + 1,
  }));
  const recommendations = Array.from({ length: 500 }, (_, n) => `recommendation ${n} `.repeat(30));
  const notification = reviewNotification({ ...base, issues, recommendations });
  const payload = notificationPayload(notification);
  expect(payload.blocks!.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
  expect(payload.text.length).toBeLessThanOrEqual(SLACK_LIMITS.textChars);
  for (const block of payload.blocks!) {
    if (block.type === 'section' && block.text) expect(block.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionChars);
    if (block.type === 'header') expect(block.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerChars);
  }
  const texts = blockTexts(payload.blocks!);
  const more = texts.find((text) => /^…and \d+ more issues$/.test(text));
  expect(more).toBeDefined();
  // Shown + "more" accounts for every issue.
  const shown = texts.join('\n').split('\n').filter((line) => line.startsWith('🟡 *medium*')).length;
  expect(shown).toBeGreaterThan(20);
  expect(shown + Number(/\d+/.exec(more!)![0])).toBe(5000);
  expect(texts.some((text) => /^…and \d+ more recommendations$/.test(text))).toBe(true);
  expect(payload.text).toMatch(/…and \d+ more issues/);
});

test('a clean report says so', () => {
  const notification = reviewNotification({ ...report(), severity: 'info', issues: [], recommendations: [] });
  expect(notification.priority).toBe('low');
  expect(blockTexts(notification.blocks!)).toContain('✅ No issues found.');
});
