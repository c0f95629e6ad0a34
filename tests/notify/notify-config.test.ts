// The notify section of the configuration: defaults, SLACK_WEBHOOK_URL, durations, and invalid webhook URLs
// reported without their value.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createNotifier } from '../../src/app/components.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { NoopNotifier } from '../../src/notify/noop-notifier.js';
import { SlackNotifier } from '../../src/notify/slack-notifier.js';
import { silentLogger } from '../../src/telemetry/logger.js';

const SECRET = 'https://hooks.slack.com/services/T0SECRET/B0SECRET/VerySecretToken';

test('defaults: no webhook, 5m digests, 15m dedup, 1000 queued, 10s timeout; alerts on every 30s', () => {
  const config = loadConfig({ env: {} });
  expect(config.notify.slack).toEqual({
    webhooks: {},
    digestInterval: 300_000,
    dedupWindow: 900_000,
    maxQueue: 1000,
    timeout: 10_000,
    maxAttempts: 5,
    retryInitialBackoff: 1000,
    retryMaxBackoff: 60_000,
  });
  expect(config.notify.alerts).toEqual({
    enabled: true,
    interval: 30_000,
    spoolPercent: 80,
    uploadFailingFor: 300_000,
    indexLag: 600_000,
    rejectedPerInterval: 100,
  });
  expect(createNotifier(config, silentLogger())).toBeInstanceOf(NoopNotifier);
});

test('SLACK_WEBHOOK_URL is the default webhook; YAML routes other priorities; a Slack notifier is built', () => {
  const config = loadConfig({ env: { SLACK_WEBHOOK_URL: SECRET } });
  expect(config.notify.slack.webhooks).toEqual({ default: SECRET });
  const notifier = createNotifier(config, silentLogger());
  expect(notifier).toBeInstanceOf(SlackNotifier);
  expect(notifier.enabled).toBe(true);
  expect(notifier.describeRoutes()).toEqual({
    low: 'default (hooks.slack.com/services/T…/***)',
    medium: 'default (hooks.slack.com/services/T…/***)',
    high: 'default (hooks.slack.com/services/T…/***)',
    critical: 'default (hooks.slack.com/services/T…/***)',
  });
});

test('only some priorities routed: the others go nowhere (and are counted as unrouted)', async () => {
  const config = loadConfig({ env: {}, overrides: { 'notify.slack.webhooks.critical': SECRET, 'notify.slack.digestInterval': '2m' } });
  expect(config.notify.slack.digestInterval).toBe(120_000);
  const notifier = createNotifier(config, silentLogger());
  expect(notifier.describeRoutes()).toEqual({ low: null, medium: null, high: null, critical: 'critical (hooks.slack.com/services/T…/***)' });
  notifier.notify({ kind: 'test', priority: 'low', title: 't', text: 't' });
  expect(notifier.stats().unrouted).toBe(1);
  await notifier.close();
});

test.each([
  ['SLACK_WEBHOOK_URL', { env: { SLACK_WEBHOOK_URL: 'hooks.slack.com/services/T0SECRET/B0SECRET/VerySecretToken' } }, 'notify.slack.webhooks.default (from SLACK_WEBHOOK_URL)'],
  ['YAML', { env: {}, yaml: 'notify:\n  slack:\n    webhooks:\n      high: ftp://VerySecretToken\n' }, 'notify.slack.webhooks.high'],
  ['a number', { env: {}, yaml: 'notify: { slack: { webhooks: { low: 12345 } } }\n' }, 'notify.slack.webhooks.low'],
])('an invalid webhook URL (%s) is named by its key and its value is not shown', (_from, options, key) => {
  let error: unknown;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'notify-config-'));
  try {
    const file = path.join(dir, 'config.yaml');
    if ('yaml' in options) fs.writeFileSync(file, options.yaml);
    loadConfig({ env: options.env, ...('yaml' in options ? { file } : {}) });
  } catch (caught) {
    error = caught;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  expect(error).toBeInstanceOf(ConfigError);
  const message = (error as Error).message;
  expect(message).toContain(`  - ${key}: expected`);
  expect(message).toContain('is not shown');
  expect(message).not.toContain('VerySecretToken');
  expect(message).not.toContain('12345');
});

test('unknown webhook names and bad thresholds are errors', () => {
  expect(() => loadConfig({ env: {}, overrides: { 'notify.slack.webhooks.warning': SECRET } })).toThrow(/notify\.slack\.webhooks: unknown key\(s\) "warning"/);
  expect(() => loadConfig({ env: {}, overrides: { 'notify.alerts.spoolPercent': 150 } })).toThrow(/notify\.alerts\.spoolPercent/);
  expect(() => loadConfig({ env: {}, overrides: { 'notify.slack.digestInterval': '10ms' } })).toThrow(/notify\.slack\.digestInterval \(from the command line\): must be at least 100 ms/);
});

test('a webhook written where a mapping belongs is not repeated in the error either', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'notify-config-'));
  try {
    const file = path.join(dir, 'config.yaml');
    fs.writeFileSync(file, `notify:\n  slack:\n    webhooks: ${SECRET}\n`);
    expect(() => loadConfig({ env: {}, file })).toThrow(/notify\.slack\.webhooks: expected a mapping of default, critical, high, medium, low to webhook URLs \(the value given is not shown\)$/);
    let message = '';
    try {
      loadConfig({ env: { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/other' }, file });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('notify.slack.webhooks: must be a mapping of settings, got a value (not shown)');
    expect(message).not.toContain('VerySecretToken');
    expect(message).not.toContain('other');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
