// The Slack adapter against a local server that records what Slack would receive: routing per priority, digests,
// retries, 429 + Retry-After timing, dedup, a bounded queue while Slack hangs, and webhook URLs kept secret.
import type { Notification, Priority } from '../../src/notify/notifier.js';
import { SlackNotifier, type SlackNotifierOptions } from '../../src/notify/slack-notifier.js';
import type { WebhookUrls } from '../../src/notify/slack-routing.js';
import { silentLogger, type Logger } from '../../src/telemetry/logger.js';
import { SlackRecorder } from '../helpers/slack-recorder.js';
import { captureLogs } from './log-capture.js';

const DEFAULT = '/services/T0DEFAULT/B0DEFAULT/defaultSecretToken1';
const CRITICAL = '/services/T0CRIT/B0CRIT/criticalSecretToken2';
const HIGH = '/services/T0HIGH/B0HIGH/highSecretToken3';
const LOW = '/services/T0LOW/B0LOW/lowSecretToken4';

let recorder: SlackRecorder;
const notifiers: SlackNotifier[] = [];

beforeEach(async () => {
  recorder = await SlackRecorder.start();
});

afterEach(async () => {
  for (const notifier of notifiers.splice(0)) await notifier.close();
  await recorder.close();
});

function slack(webhooks: WebhookUrls, overrides: Partial<SlackNotifierOptions> = {}, logger: Logger = silentLogger()): SlackNotifier {
  const notifier = new SlackNotifier(
    {
      webhooks,
      digestIntervalMs: 60_000,
      dedupWindowMs: 0,
      maxQueue: 100,
      timeoutMs: 2000,
      maxAttempts: 3,
      retryInitialBackoffMs: 50,
      retryMaxBackoffMs: 200,
      ...overrides,
    },
    { logger },
  );
  notifiers.push(notifier);
  notifier.start();
  return notifier;
}

const message = (title: string, priority: Priority, extra: Partial<Notification> = {}): Notification => ({
  kind: 'alert',
  priority,
  title,
  text: `text of ${title}`,
  ...extra,
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('critical and high go at once to their own webhooks; medium and low wait for the digest on the default one', async () => {
  const notifier = slack({ default: recorder.url(DEFAULT), critical: recorder.url(CRITICAL), high: recorder.url(HIGH) }, { digestIntervalMs: 700 });
  const started = Date.now();
  notifier.notify(message('disk on fire', 'critical'));
  notifier.notify(message('uploads slow', 'high'));
  notifier.notify(message('fyi medium', 'medium'));
  notifier.notify(message('fyi low', 'low'));
  const [critical] = await recorder.waitForPosts(1, { path: CRITICAL });
  const [high] = await recorder.waitForPosts(1, { path: HIGH });
  expect(critical!.atMs - started).toBeLessThan(500);
  expect(high!.atMs - started).toBeLessThan(500);
  expect(critical!.body!.text).toBe('*disk on fire*\ntext of disk on fire');
  expect(critical!.body!.blocks![0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'disk on fire', emoji: true } });
  expect(critical!.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(high!.body!.text).toContain('uploads slow');
  expect(recorder.postsTo(DEFAULT)).toHaveLength(0);

  const [digest] = await recorder.waitForPosts(1, { path: DEFAULT });
  expect(digest!.atMs - started).toBeGreaterThanOrEqual(600);
  expect(digest!.body!.text).toContain('otlp-capture digest: 2 notifications');
  expect(digest!.body!.text).toContain('🟡 *fyi medium*  _medium · alert_\ntext of fyi medium');
  expect(digest!.body!.text).toContain('🔵 *fyi low*  _low · alert_\ntext of fyi low');
  // Nothing went anywhere else, and nothing twice.
  await sleep(800);
  expect(recorder.posts.map((post) => post.path).sort()).toEqual([CRITICAL, DEFAULT, HIGH].sort());
  expect(notifier.stats()).toMatchObject({ sentMessages: 3, sentNotifications: 4, failedMessages: 0, queued: 0 });
});

test('digest batching: many low and medium notifications make one POST per webhook per interval', async () => {
  const notifier = slack({ default: recorder.url(DEFAULT), low: recorder.url(LOW) }, { digestIntervalMs: 600 });
  for (let n = 0; n < 6; n++) {
    notifier.notify(message(`low ${n}`, 'low'));
    notifier.notify(message(`medium ${n}`, 'medium'));
  }
  await recorder.waitForPosts(1, { path: LOW });
  await recorder.waitForPosts(1, { path: DEFAULT });
  await sleep(100);
  expect(recorder.postsTo(LOW)).toHaveLength(1);
  expect(recorder.postsTo(DEFAULT)).toHaveLength(1);
  const low = recorder.postsTo(LOW)[0]!.body!.text!;
  const medium = recorder.postsTo(DEFAULT)[0]!.body!.text!;
  for (let n = 0; n < 6; n++) {
    expect(low).toContain(`*low ${n}*`);
    expect(medium).toContain(`*medium ${n}*`);
  }
  expect(low).not.toContain('medium');
  // The next interval's notifications make the next digest.
  notifier.notify(message('low later', 'low'));
  const lows = await recorder.waitForPosts(2, { path: LOW });
  expect(lows[1]!.body!.text).toContain('*otlp-capture digest: 1 notification*\n');
  expect(lows[1]!.atMs - lows[0]!.atMs).toBeGreaterThanOrEqual(500);
});

test('429 + Retry-After: the next attempt to that webhook waits exactly that long, other webhooks do not wait', async () => {
  recorder.script(CRITICAL, { status: 429, retryAfter: '1', body: 'rate_limited' }, { status: 429, retryAfter: '1', body: 'rate_limited' });
  const notifier = slack({ default: recorder.url(DEFAULT), critical: recorder.url(CRITICAL) }, { maxAttempts: 5 });
  notifier.notify(message('first', 'critical'));
  notifier.notify(message('second', 'critical'));
  await sleep(50);
  notifier.notify(message('elsewhere', 'high'));
  const posts = await recorder.waitForPosts(4, { path: CRITICAL, timeoutMs: 10_000 });
  const gaps = posts.slice(1).map((post, n) => post.atMs - posts[n]!.atMs);
  // 429, (1 s) 429, (1 s) ok for "first", then "second" at once.
  expect(gaps[0]).toBeGreaterThanOrEqual(1000 - 5);
  expect(gaps[1]).toBeGreaterThanOrEqual(1000 - 5);
  expect(gaps[0]).toBeLessThan(1500);
  expect(gaps[1]).toBeLessThan(1500);
  expect(posts.map((post) => post.body!.text!.split('\n')[0])).toEqual(['*first*', '*first*', '*first*', '*second*']);
  // The default webhook was not held up by the critical one's rate limit.
  const [elsewhere] = recorder.postsTo(DEFAULT);
  expect(elsewhere!.atMs - posts[0]!.atMs).toBeLessThan(500);
  await notifier.flush(Date.now() + 2000);
  expect(notifier.stats()).toMatchObject({ sentMessages: 3, failedMessages: 0 });
});

/** A port nothing listens on (connection refused). */
async function closedPort(): Promise<number> {
  const spare = await SlackRecorder.start();
  await spare.close();
  return spare.port;
}

test('5xx and network errors are retried with backoff; after maxAttempts the message is given up and reported', async () => {
  recorder.script(HIGH, { status: 500, body: 'oops' }, { status: 503, body: 'busy' });
  const refused = await closedPort();
  const notifier = slack({ high: recorder.url(HIGH), critical: `http://127.0.0.1:${refused}${CRITICAL}` }, { retryInitialBackoffMs: 200, retryMaxBackoffMs: 1000 });
  notifier.notify(message('eventually', 'high'));
  notifier.notify(message('never', 'critical'));
  const result = await notifier.flush(Date.now() + 10_000);
  const posts = recorder.postsTo(HIGH);
  expect(posts).toHaveLength(3);
  // Full-jitter backoff: at least half of 200 ms, then half of 400 ms.
  expect(posts[1]!.atMs - posts[0]!.atMs).toBeGreaterThanOrEqual(100 - 5);
  expect(posts[2]!.atMs - posts[1]!.atMs).toBeGreaterThanOrEqual(200 - 5);
  expect(result.sent).toBe(1);
  expect(result.pending).toBe(0);
  expect(result.failures).toEqual([
    { webhook: `critical (127.0.0.1:${refused}/services/T…/***)`, title: 'never', reason: 'network error (ECONNREFUSED)' },
  ]);
  expect(notifier.stats()).toMatchObject({ sentMessages: 1, failedMessages: 1 });
});

test('a 4xx is final; a layout Slack refuses (400) is sent again as text only', async () => {
  recorder.script(HIGH, { status: 400, body: 'invalid_blocks' });
  recorder.script(CRITICAL, { status: 404, body: 'no_service' });
  const notifier = slack({ high: recorder.url(HIGH), critical: recorder.url(CRITICAL) });
  notifier.notify(message('needs text fallback', 'high'));
  notifier.notify(message('gone', 'critical'));
  const result = await notifier.flush(Date.now() + 5000);
  const [refused, retried] = recorder.postsTo(HIGH);
  expect(refused!.body!.blocks).toBeDefined();
  expect(retried!.body).toEqual({ text: '*needs text fallback*\ntext of needs text fallback' });
  expect(recorder.postsTo(CRITICAL)).toHaveLength(1);
  expect(result.failures).toEqual([{ webhook: `critical (127.0.0.1:${recorder.port}/services/T…/***)`, title: 'gone', reason: 'HTTP 404: no_service' }]);
});

test('dedup: repeats within the window are counted, not sent; the next message carries the count; the all-clear goes out', async () => {
  const notifier = slack({ default: recorder.url(DEFAULT) }, { dedupWindowMs: 800 });
  const alert = (extra: Partial<Notification> = {}): Notification => message('spool 85% full', 'high', { dedupKey: 'spool', ...extra });
  for (let n = 0; n < 5; n++) notifier.notify(alert());
  await recorder.waitForPosts(1, { path: DEFAULT });
  await sleep(300);
  expect(recorder.postsTo(DEFAULT)).toHaveLength(1);
  expect(notifier.stats().suppressed).toBe(4);
  await sleep(600);
  notifier.notify(alert());
  const posts = await recorder.waitForPosts(2, { path: DEFAULT });
  expect(posts[1]!.body!.text).toMatch(/_repeated 4 more times since .* \(not sent again within the dedup window\)_$/);
  notifier.notify(alert({ title: 'resolved: spool', resolved: true }));
  notifier.notify(alert({ title: 'resolved: spool', resolved: true }));
  await recorder.waitForPosts(3, { path: DEFAULT });
  await sleep(200);
  expect(recorder.postsTo(DEFAULT).map((post) => post.body!.text!.split('\n')[0])).toEqual([
    '*spool 85% full*',
    '*spool 85% full*',
    '*resolved: spool*',
  ]);
});

test('a hanging webhook: notify() stays instant, the queue stays bounded, drops are counted, logged once and reported later', async () => {
  recorder.setDefault(DEFAULT, 'hang');
  const logs = captureLogs();
  const notifier = slack({ default: recorder.url(DEFAULT) }, { maxQueue: 10, timeoutMs: 300, maxAttempts: 1 }, logs.logger);
  const started = process.hrtime.bigint();
  for (let n = 0; n < 200; n++) notifier.notify(message(`alert ${n}`, n % 2 === 0 ? 'high' : 'low'));
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  expect(elapsedMs).toBeLessThan(100);
  expect(notifier.stats().queued).toBeLessThanOrEqual(10);
  await recorder.waitForPosts(1, { path: DEFAULT });
  // The least urgent went first: only high ones are left.
  expect(notifier.stats().dropped).toBeGreaterThanOrEqual(189);
  const dropWarnings = logs.lines().filter((line) => String(line.msg).startsWith('notification queue full'));
  expect(dropWarnings).toHaveLength(1);

  // Slack comes back: what is queued is delivered, and the first message says how many were dropped.
  recorder.setDefault(DEFAULT, { status: 200, body: 'ok' });
  const result = await notifier.flush(Date.now() + 10_000);
  expect(result.pending).toBe(0);
  const delivered = recorder.acceptedBy(DEFAULT).filter((post) => post.body!.text!.includes('were dropped because the notification queue was full'));
  expect(delivered).toHaveLength(1);
  const dropped = Number(/_(\d+) notifications were dropped/.exec(delivered[0]!.body!.text!)![1]);
  expect(dropped).toBe(notifier.stats().dropped);
  expect(recorder.acceptedBy(DEFAULT).every((post) => !/alert \d*[13579]\b/.test(post.body!.text!.split('\n')[0]!))).toBe(true);
});

test('close() ends promptly while a request hangs, and abandons what is queued', async () => {
  recorder.setDefault(DEFAULT, 'hang');
  const notifier = slack({ default: recorder.url(DEFAULT) }, { timeoutMs: 30_000 });
  notifier.notify(message('stuck', 'critical'));
  notifier.notify(message('behind it', 'critical'));
  await recorder.waitForPosts(1);
  const started = Date.now();
  await notifier.close();
  expect(Date.now() - started).toBeLessThan(500);
  expect(notifier.stats().queued).toBe(0);
  notifier.notify(message('after close', 'critical'));
  expect(recorder.posts).toHaveLength(1);
});

test('webhook URLs never appear in logs, failure reports or error text, whatever goes wrong', async () => {
  // A proxy that echoes the request path in its error page must not leak it either.
  recorder.script(CRITICAL, { status: 502, body: `<html>bad gateway for ${CRITICAL}</html>` }, { status: 502, body: `upstream ${CRITICAL.split('/').at(-1)} failed` }, { status: 502, body: 'again' });
  recorder.script(HIGH, { status: 429, retryAfter: '0', body: 'rate_limited' }, { status: 403, body: `invalid_token for ${recorder.url(HIGH)}` });
  recorder.setDefault(LOW, 'hang');
  const logs = captureLogs();
  const notifier = slack(
    { critical: recorder.url(CRITICAL), high: recorder.url(HIGH), low: recorder.url(LOW), medium: `http://127.0.0.1:${await closedPort()}${DEFAULT}` },
    { timeoutMs: 300, digestIntervalMs: 100 },
    logs.logger,
  );
  for (const priority of ['critical', 'high', 'medium', 'low'] as const) notifier.notify(message(`m-${priority}`, priority));
  const result = await notifier.flush(Date.now() + 10_000);
  expect(result.failures).toHaveLength(4);
  const everything = [logs.text(), JSON.stringify(result), JSON.stringify(notifier.describeRoutes()), JSON.stringify(notifier.stats())].join('\n');
  for (const path of [CRITICAL, HIGH, LOW, DEFAULT]) {
    for (const secret of [path, path.split('/').at(-1)!, path.split('/').at(-2)!]) expect(everything).not.toContain(secret);
  }
  // What the logs do say identifies the webhook well enough to act on.
  expect(logs.text()).toContain(`critical (127.0.0.1:${recorder.port}/services/T…/***)`);
  expect(result.failures.map((failure) => failure.reason).sort()).toEqual(
    ['HTTP 403: invalid_token for ***', 'HTTP 502: again', 'network error (ECONNREFUSED)', 'no answer within 300 ms'].sort(),
  );
});
