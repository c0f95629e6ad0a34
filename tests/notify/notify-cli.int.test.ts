// `otlp-capture notify test|review` end to end: the built CLI, a config file or SLACK_WEBHOOK_URL, and the
// recorder standing in for Slack.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/server-process.js';
import { SlackRecorder } from '../helpers/slack-recorder.js';
import { VALID } from './review-fixture.js';

const DEFAULT = '/services/T0CLI/B0DEFAULT/cliDefaultSecret';
const CRITICAL = '/services/T0CLI/B0CRIT/cliCriticalSecret';
const HIGH = '/services/T0CLI/B0HIGH/cliHighSecret';

let dir: string;
let recorder: SlackRecorder;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'notify-cli-'));
  recorder = await SlackRecorder.start();
});

afterEach(async () => {
  await recorder.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function configFile(): string {
  const file = path.join(dir, 'config.yaml');
  fs.writeFileSync(
    file,
    [
      'notify:',
      '  slack:',
      '    webhooks:',
      `      critical: ${recorder.url(CRITICAL)}`,
      `      high: ${recorder.url(HIGH)}`,
      '    retryInitialBackoff: 50ms',
      '',
    ].join('\n'),
  );
  return file;
}

function reviewFile(report: unknown): string {
  const file = path.join(dir, 'review.json');
  fs.writeFileSync(file, typeof report === 'string' ? report : JSON.stringify(report, null, 2));
  return file;
}

const env = (): NodeJS.ProcessEnv => ({ SLACK_WEBHOOK_URL: recorder.url(DEFAULT), OTLP_CAPTURE_LOG_LEVEL: 'info' });

test('notify test posts to the webhook of the priority asked for and exits 0 once Slack accepted it', async () => {
  const result = await runCli(['notify', 'test', '--config', configFile(), '--priority', 'critical'], { env: env() });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout.toString()).toBe(
    `sent "otlp-capture test notification (critical)" (priority critical) to webhook critical (127.0.0.1:${recorder.port}/services/T…/***)\n`,
  );
  const [post] = recorder.postsTo(CRITICAL);
  expect(post!.body!.text).toMatch(/^\*otlp-capture test notification \(critical\)\*\nIf you can read this, otlp-capture on .+ can post here\./);
  // Low goes to the default webhook (SLACK_WEBHOOK_URL), as the one message of a digest.
  const low = await runCli(['notify', 'test', '--config', configFile(), '--priority', 'low'], { env: env() });
  expect(low.code).toBe(0);
  expect(recorder.postsTo(DEFAULT)[0]!.body!.text).toMatch(/^\*otlp-capture digest: 1 notification\*\n🔵 \*otlp-capture test notification \(low\)\*/);
  expect(recorder.posts).toHaveLength(2);
});

test('notify review posts a readable report with the priority of its severity; --priority overrides it', async () => {
  const result = await runCli(['notify', 'review', reviewFile(VALID), '--config', configFile()], { env: env() });
  expect([result.code, result.stderr]).toEqual([0, '']);
  const [post] = recorder.postsTo(HIGH);
  const text = post!.body!.text!;
  expect(text).toMatch(/^\*Code review: high severity, 3 issues in 42 files\*\nScope: 42 files, 12,345 lines of code\n/);
  expect(text).toContain('🔴 *critical* `src/db.ts:17` _security_ — SQL built from user input');
  expect(text).toContain('• Use parameterised queries');
  expect(post!.body!.blocks!.length).toBeGreaterThan(3);

  const overridden = await runCli(['notify', 'review', reviewFile(VALID), '--config', configFile(), '--priority', 'critical'], { env: env() });
  expect(overridden.code).toBe(0);
  expect(recorder.postsTo(CRITICAL)[0]!.body!.text).toMatch(/^\*Code review: high severity/);
});

test('a report on standard input works; --dry-run prints the message and sends nothing', async () => {
  const piped = await runCli(['notify', 'review', '-'], { env: env(), input: Buffer.from(JSON.stringify({ ...VALID, severity: 'critical' })) });
  expect(piped.code).toBe(0);
  expect(recorder.postsTo(DEFAULT)).toHaveLength(1);
  const dry = await runCli(['notify', 'review', reviewFile(VALID), '--dry-run'], { env: { SLACK_WEBHOOK_URL: '' } });
  expect(dry.code).toBe(0);
  const printed = JSON.parse(dry.stdout.toString()) as { priority: string; text: string; blocks: unknown[] };
  expect(printed.priority).toBe('high');
  expect(printed.text).toContain('src/db.ts:17');
  expect(recorder.posts).toHaveLength(1);
});

test('an invalid report exits 2 naming the field at fault, and nothing is sent', async () => {
  const issues = VALID.issues.map((issue, index) => (index === 2 ? { ...issue, line: 'x' } : issue));
  const result = await runCli(['notify', 'review', reviewFile({ ...VALID, issues })], { env: env() });
  expect(result.code).toBe(2);
  expect(result.stderr).toBe(`otlp-capture: ${path.join(dir, 'review.json')} is not a valid review report:\n  - issues[2].line: expected a positive integer, got "x"\n`);
  const broken = await runCli(['notify', 'review', reviewFile('{\n  "timestamp": "2025-03-01T12:30:00Z"\n  "severity": "high"\n}')], { env: env() });
  expect(broken.code).toBe(2);
  expect(broken.stderr).toContain('is not valid JSON: line 3, column 3: expected \',\' or \'}\', found "\\""');
  const missing = await runCli(['notify', 'review', path.join(dir, 'nope.json')], { env: env() });
  expect([missing.code, missing.stderr]).toEqual([2, `otlp-capture: cannot read ${path.join(dir, 'nope.json')}: ENOENT\n`]);
  const badPriority = await runCli(['notify', 'review', reviewFile(VALID), '--priority', 'urgent'], { env: env() });
  expect(badPriority.code).toBe(2);
  expect(badPriority.stderr).toContain('--priority must be one of low, medium, high, critical');
  expect(recorder.posts).toHaveLength(0);
});

test('without a webhook: exit 2 saying how to configure one', async () => {
  const result = await runCli(['notify', 'test'], { env: { SLACK_WEBHOOK_URL: '' } });
  expect(result.code).toBe(2);
  expect(result.stderr).toBe('otlp-capture: no Slack webhook configured: set SLACK_WEBHOOK_URL, or notify.slack.webhooks.default in the --config file\n');
});

test('Slack refusing: exit 1 with its answer and the redacted webhook, never the URL', async () => {
  recorder.script(DEFAULT, { status: 404, body: 'no_service' });
  const result = await runCli(['notify', 'test', '--priority', 'medium'], { env: env() });
  expect(result.code).toBe(1);
  expect(result.stderr).toBe(`otlp-capture: Slack did not accept the message (webhook default (127.0.0.1:${recorder.port}/services/T…/***)): HTTP 404: no_service\n`);
  expect(result.stderr + result.stdout.toString()).not.toContain('cliDefaultSecret');
  expect(result.stderr).not.toContain('B0DEFAULT');
});

test('Slack hanging: exit 1 at --timeout with the last attempt; rate limited: waits Retry-After and succeeds', async () => {
  recorder.setDefault(DEFAULT, 'hang');
  const started = Date.now();
  const hung = await runCli(['notify', 'test', '--timeout', '1500ms'], { env: env() });
  expect(hung.code).toBe(1);
  expect(Date.now() - started).toBeLessThan(5000);
  expect(hung.stderr).toMatch(/Slack did not accept the message within 1\.5s \(webhook default \(127\.0\.0\.1:\d+\/services\/T…\/\*\*\*\)\)/);

  const RATED = '/services/T0CLI/B0RATED/cliRatedSecret';
  recorder.script(RATED, { status: 429, retryAfter: '1', body: 'rate_limited' });
  const rated = await runCli(['notify', 'test'], { env: { SLACK_WEBHOOK_URL: recorder.url(RATED) } });
  expect(rated.code).toBe(0);
  const [first, second] = recorder.postsTo(RATED);
  expect(second!.atMs - first!.atMs).toBeGreaterThanOrEqual(995);
});
