import { isWebhookUrl, redactWebhookUrl } from '../../src/notify/webhook-url.js';

test('a Slack webhook is redacted to its host and the first letter of the workspace id', () => {
  expect(redactWebhookUrl('https://hooks.slack.com/services/T0123ABC/B0456DEF/abcdefSECRET')).toBe('hooks.slack.com/services/T…/***');
});

test('any other URL keeps only host and port', () => {
  expect(redactWebhookUrl('http://127.0.0.1:8080/hooks/secret-token?x=1')).toBe('127.0.0.1:8080/***');
  expect(redactWebhookUrl('not a url')).toBe('(invalid URL)/***');
});

test('only absolute http(s) URLs without credentials are webhooks', () => {
  expect(isWebhookUrl('https://hooks.slack.com/services/T/B/x')).toBe(true);
  expect(isWebhookUrl('http://127.0.0.1:9/x')).toBe(true);
  expect(isWebhookUrl('ftp://hooks.slack.com/x')).toBe(false);
  expect(isWebhookUrl('hooks.slack.com/services/T/B/x')).toBe(false);
  expect(isWebhookUrl('https://user:pw@hooks.slack.com/x')).toBe(false);
});
