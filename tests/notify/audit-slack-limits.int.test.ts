// Audit of what the Slack notifier sends, posted over real HTTP to a local webhook that enforces Slack's Block Kit
// limits and answers as Slack does (tests/helpers/slack-limits.ts): a message Slack would refuse, or one it would
// render wrongly (a raw `<…>` becomes a link or a mention), fails here.
import type { AlertSnapshot } from '../../src/notify/alert-rules.js';
import type { Notification, Priority } from '../../src/notify/notifier.js';
import { OperationalAlerts } from '../../src/notify/operational-alerts.js';
import { retentionFailureNotification, retentionSummaryNotification, type RetentionPolicySummary } from '../../src/notify/retention-summary.js';
import { reviewNotification } from '../../src/notify/review-format.js';
import { parseReviewReport } from '../../src/notify/review-report.js';
import { SlackNotifier } from '../../src/notify/slack-notifier.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { mrkdwnStrings, unescapedAngles } from '../helpers/slack-limits.js';
import { SlackRecorder, type RecordedPost } from '../helpers/slack-recorder.js';
import { alertSnapshot, type SnapshotOverrides } from './alert-snapshot.js';
import { VALID } from './review-fixture.js';

let webhook: SlackRecorder;
const notifiers: SlackNotifier[] = [];

beforeEach(async () => {
  webhook = await SlackRecorder.start({ strict: true });
});

afterEach(async () => {
  for (const notifier of notifiers.splice(0)) await notifier.close();
  await webhook.close();
});

function slack(): SlackNotifier {
  const notifier = new SlackNotifier(
    {
      webhooks: { default: webhook.url() },
      digestIntervalMs: 60_000,
      dedupWindowMs: 0,
      maxQueue: 1000,
      timeoutMs: 2000,
      maxAttempts: 2,
      retryInitialBackoffMs: 10,
      retryMaxBackoffMs: 20,
    },
    { logger: silentLogger() },
  );
  notifiers.push(notifier);
  notifier.start();
  return notifier;
}

/** Posts and waits for the verdict; every message must have been accepted by "Slack" on its first, rich attempt. */
async function deliver(notifications: Notification[]): Promise<RecordedPost[]> {
  const notifier = slack();
  for (const notification of notifications) notifier.notify(notification);
  const result = await notifier.flush(Date.now() + 4000);
  const refused = webhook.posts.filter((post) => post.answer !== 200);
  expect(refused.map((post) => post.violations)).toEqual([]);
  expect(result.failures).toEqual([]);
  expect(result.pending).toBe(0);
  for (const post of webhook.posts) expect(post.body?.blocks).toBeDefined();
  return webhook.accepted();
}

/** Nothing wrong but what a test sets; 12 requests wait in a spool 1% full. */
const snapshot = (overrides: SnapshotOverrides = {}): AlertSnapshot =>
  alertSnapshot({ nowMs: Date.UTC(2025, 0, 1), spool: { bytesOnDisk: 10, maxBytes: 1000, unreleasedRecords: 12, oldestUnreleasedAgeMs: 60_000 }, ...overrides });

async function alertsFor(snap: AlertSnapshot): Promise<RecordedPost[]> {
  const notifier = slack();
  const alerts = new OperationalAlerts(
    { intervalMs: 60_000, instance: 'capture-0', spoolPercent: 80, uploadFailingForMs: 60_000, indexLagMs: 600_000, rejectedPerInterval: 100 },
    { notifier, sources: { snapshot: async () => snap }, logger: silentLogger() },
  );
  await alerts.check(snap.nowMs);
  const result = await notifier.flush(Date.now() + 4000);
  expect(result.failures).toEqual([]);
  return webhook.accepted();
}

const sections = (post: RecordedPost): string[] =>
  (post.body!.blocks as { type: string; text?: { text: string } }[]).filter((block) => block.type === 'section' && block.text).map((block) => block.text!.text);

test('the quarantine alert names <spool.dir> escaped: Slack would otherwise render it as a link', async () => {
  const [post] = await alertsFor(snapshot({ quarantined: { corruptRecords: 2, corruptBytes: 4096, archiverRecords: 0 } }));
  const raw = mrkdwnStrings(post!.body!).flatMap(unescapedAngles);
  expect(raw).toEqual([]);
  expect(post!.body!.text).toContain('`&lt;spool.dir&gt;/quarantine/`');
});

test('an archiver error of 100 KB: the alert still says how full the spool is and what to check, and mentions nothing', async () => {
  const lastError = `ClickHouse said <!channel> & <@U0ONCALL>: ${'Code: 241. DB::Exception: Memory limit exceeded\n'.repeat(2200)}`;
  expect(lastError.length).toBeGreaterThan(100_000);
  const [post] = await alertsFor(snapshot({ archiverStalled: `archiver stalled: no progress for 6m00s; last error 1s ago: ${lastError}` }));
  expect(webhook.posts).toHaveLength(1);
  const [first] = sections(post!);
  expect(first).toContain('12 requests wait in the spool (1% full)');
  expect(first).toContain('Check the blob store');
  expect(post!.body!.text).toContain('Check the blob store');
  expect(post!.body!.text).toContain('alert `archiver-stalled`');
  expect(mrkdwnStrings(post!.body!).flatMap(unescapedAngles)).toEqual([]);
});

test('a retention run that failed with a 100 KB S3 answer: escaped, cut, and the title said once', async () => {
  const answer = `<?xml version="1.0"?><Error><Code>SlowDown</Code><Key>t/<!channel>&x</Key></Error>\n${'<Resource>/bucket/t</Resource>\n'.repeat(4000)}`;
  expect(answer.length).toBeGreaterThan(100_000);
  const [post] = await deliver([retentionFailureNotification(`cannot delete t/a in s3://bucket: ${answer}`)]);
  expect(webhook.posts).toHaveLength(1);
  expect(mrkdwnStrings(post!.body!).flatMap(unescapedAngles)).toEqual([]);
  expect(post!.body!.text).toContain('cannot delete t/a in s3://bucket: &lt;?xml version="1.0"?&gt;&lt;Error&gt;&lt;Code&gt;SlowDown');
  expect(post!.body!.text!.length).toBeLessThan(2_000);
  expect(post!.body!.text!.match(/Retention run failed/g)).toHaveLength(1);
});

test('half an emoji (a lone surrogate) in a review report does not make Slack refuse the message', async () => {
  const json = JSON.stringify({ ...VALID, issues: [{ ...VALID.issues[0]!, description: 'broken ' }] }).replace('broken ', 'broken \\ud83d end');
  const report = parseReviewReport(json);
  const [post] = await deliver([reviewNotification(report)]);
  expect(webhook.posts).toHaveLength(1);
  expect(post!.body!.text).toContain('broken \uFFFD end');
});

test('a long multi-line alert text: what does not fit in 50 blocks is counted, not dropped unseen', async () => {
  const lines = Array.from({ length: 3000 }, (_, n) => `line ${n} ${'x'.repeat(100)}`);
  const [post] = await deliver([{ kind: 'alert', priority: 'high', title: 'very long', text: lines.join('\n') }]);
  const blocks = post!.body!.blocks as { type: string; elements?: { text: string }[] }[];
  const last = blocks.at(-1)!;
  expect(last.type).toBe('context');
  const more = /^…and (\d+) more lines$/.exec(last.elements![0]!.text);
  expect(more).not.toBeNull();
  const shown = sections(post!).join('\n').split('\n').length;
  expect(shown + Number(more![1])).toBe(3000);
});

test('a digest of 500 distinct alerts with long texts goes out in digests Slack accepts, every alert once', async () => {
  const alerts: Notification[] = Array.from({ length: 500 }, (_, n) => ({
    kind: 'alert',
    priority: (n % 2 === 0 ? 'low' : 'medium') as Priority,
    title: `alert ${n} on <svc-${n}> & co ${'t'.repeat(300)}`,
    text: `${'detail '.repeat(800)}<!here>`,
  }));
  const posts = await deliver(alerts);
  const titles = posts.flatMap((post) => sections(post)).map((section) => /alert (\d+) on/.exec(section)?.[1]);
  expect(new Set(titles).size).toBe(500);
  expect(titles).toHaveLength(500);
  for (const post of posts) expect(mrkdwnStrings(post.body!).flatMap(unescapedAngles)).toEqual([]);
});

test('emoji and combining characters right at every limit: accepted, no emoji cut in half', async () => {
  const combining = 'e\u0301';
  const title = `${'😀'.repeat(149)}${combining}`;
  const text = Array.from({ length: 80 }, () => `${'🔥'.repeat(1499)}${combining}`).join('\n');
  const [post] = await deliver([{ kind: 'alert', priority: 'critical', title, text }]);
  expect(post!.raw).not.toMatch(/\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])/i);
  const header = (post!.body!.blocks![0] as { text: { text: string } }).text.text;
  expect([...header].length).toBeLessThanOrEqual(150);
});

test('a retention summary over 10,000 objects and policies with hostile names stays within limits and escaped', async () => {
  const policies: RetentionPolicySummary[] = Array.from({ length: 2000 }, (_, n) => ({
    policy: `policy-${n} <!channel> ${'p'.repeat(200)}`,
    action: 'delete',
    objects: { processed: 10, succeeded: 9, failed: 1 },
    requests: { processed: 500, succeeded: 490, failed: 10 },
    bytesBefore: 2 ** 30,
    bytesAfter: 0,
    errors: [`NoSuchKey <default/traces/${n}.otlp> & ${'e'.repeat(100_000)}`],
  }));
  const [post] = await deliver([retentionSummaryNotification({ startedAtMs: 0, finishedAtMs: 65_000, dryRun: false, policies })]);
  expect(post!.body!.text).toContain('20,000 objects');
  expect(mrkdwnStrings(post!.body!).flatMap(unescapedAngles)).toEqual([]);
});

test('the local webhook refuses what Slack refuses, with Slack\'s answers', async () => {
  const post = async (body: unknown): Promise<string> => {
    const response = await fetch(webhook.url(), { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
    return `${response.status} ${await response.text()}`;
  };
  const section = (text: string): unknown => ({ type: 'section', text: { type: 'mrkdwn', text } });
  expect(await post({ text: 'hi', blocks: [section('x'.repeat(3000))] })).toBe('200 ok');
  expect(await post({ text: 'hi', blocks: [section('x'.repeat(3001))] })).toBe('400 invalid_blocks');
  expect(await post({ text: 'hi', blocks: [{ type: 'header', text: { type: 'plain_text', text: '😀'.repeat(151) } }] })).toBe('400 invalid_blocks');
  expect(await post({ text: 'hi', blocks: Array.from({ length: 51 }, () => ({ type: 'divider' })) })).toBe('400 invalid_blocks');
  expect(await post({ text: 'hi', blocks: [{ type: 'section', fields: Array.from({ length: 11 }, () => ({ type: 'mrkdwn', text: 'f' })) }] })).toBe('400 invalid_blocks');
  expect(await post({ text: 'hi', blocks: [{ type: 'context', elements: [] }] })).toBe('400 invalid_blocks');
  expect(await post({ text: 'x'.repeat(40_001) })).toBe('400 invalid_payload');
  expect(await post('{"text":"half \\ud83d"}')).toBe('400 invalid_payload');
  expect(await post({})).toBe('400 no_text');
});
