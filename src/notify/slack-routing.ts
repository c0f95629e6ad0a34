// Which webhook (Slack channel) each priority goes to: its own when configured, else `default`, else nowhere.
import { PRIORITIES, type Priority } from './notifier.js';
import { redactWebhookUrl } from './webhook-url.js';

export const WEBHOOK_NAMES = ['default', ...PRIORITIES] as const;
export type WebhookName = (typeof WEBHOOK_NAMES)[number];
export type WebhookUrls = Partial<Record<WebhookName, string>>;

export interface Webhook {
  url: string;
  /** Safe to log: the config names pointing at it and the redacted URL, e.g. `critical (hooks.slack.com/services/T…/***)`. */
  label: string;
}

export function routeWebhooks(urls: WebhookUrls): Map<Priority, Webhook> {
  // Names that share a URL share one Webhook, so they share one delivery queue, one digest and one rate limit.
  const byUrl = new Map<string, WebhookName[]>();
  for (const name of WEBHOOK_NAMES) {
    const url = urls[name];
    if (url) byUrl.set(url, [...(byUrl.get(url) ?? []), name]);
  }
  const webhooks = new Map<string, Webhook>();
  for (const [url, names] of byUrl) webhooks.set(url, { url, label: `${names.join(',')} (${redactWebhookUrl(url)})` });
  const routes = new Map<Priority, Webhook>();
  for (const priority of PRIORITIES) {
    const url = urls[priority] ?? urls.default;
    const webhook = url === undefined ? undefined : webhooks.get(url);
    if (webhook) routes.set(priority, webhook);
  }
  return routes;
}
