// One POST of a message to a Slack incoming webhook, classified into what the caller should do next. Nothing
// returned here contains the webhook URL: reasons are built from status codes, error codes and scrubbed bodies.
import type { SlackPayload } from './slack-format.js';
import { replaceLoneSurrogates } from '../util/unicode.js';

export type PostOutcome =
  | { kind: 'ok' }
  /** 429: wait exactly this long before the next request to this webhook. */
  | { kind: 'rate-limited'; retryAfterMs: number | null; reason: string }
  /** 5xx, timeout, network: worth retrying after a backoff. */
  | { kind: 'retryable'; reason: string }
  /** Any other answer (400 invalid_payload, 403, 404 no_service, 410 channel_is_archived…): retrying cannot help. */
  | { kind: 'rejected'; status: number; reason: string };

/** Longest Retry-After we wait for; a larger one is treated as this (and said so in the reason). */
export const MAX_RETRY_AFTER_MS = 60 * 60_000;
const BODY_CHARS = 200;

export async function postToWebhook(url: string, payload: SlackPayload, options: { timeoutMs: number; signal: AbortSignal }): Promise<PostOutcome> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = AbortSignal.any([timeout, options.signal]);
  let response: Response;
  let body: string;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: slackJson(payload),
      // A webhook that redirects is not one we should follow with a credential-bearing body.
      redirect: 'manual',
      signal,
    });
    body = await response.text();
  } catch (error) {
    if (options.signal.aborted) return { kind: 'retryable', reason: 'cancelled (notifier closing)' };
    if (timeout.aborted) return { kind: 'retryable', reason: `no answer within ${options.timeoutMs} ms` };
    return { kind: 'retryable', reason: `network error (${errorCause(error, url)})` };
  }
  const said = scrub(body, url);
  const reason = `HTTP ${response.status}${said ? `: ${said}` : ''}`;
  if (response.status >= 200 && response.status < 300) return { kind: 'ok' };
  if (response.status === 429) return { kind: 'rate-limited', retryAfterMs: parseRetryAfter(response.headers.get('retry-after')), reason };
  if (response.status >= 500 || response.status === 408) return { kind: 'retryable', reason };
  return { kind: 'rejected', status: response.status, reason };
}

/**
 * The body as Slack can decode it. A lone UTF-16 surrogate (half an emoji from a file name, an error message or a
 * report) becomes a `\ud83d` escape that Slack's JSON decoder refuses as `invalid_payload`, for the text-only retry
 * too, so the whole notification would be lost: each one is replaced by U+FFFD, which keeps every length the same.
 */
export function slackJson(payload: SlackPayload): string {
  return JSON.stringify(payload, (_key, value: unknown) => (typeof value === 'string' ? replaceLoneSurrogates(value) : value));
}

/** Retry-After as delay-seconds (Slack's form) or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number = Date.now()): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.min(MAX_RETRY_AFTER_MS, Math.round(Number(text) * 1000));
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, date - nowMs));
}

/**
 * The error's code (ECONNREFUSED, UND_ERR_SOCKET…), else the innermost cause's message scrubbed of the URL:
 * fetch's own message ("fetch failed", "Failed to parse URL from <url>") says nothing useful or quotes the URL.
 */
function errorCause(error: unknown, url: string): string {
  let current: unknown = error;
  let innermost: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z0-9_]+$/.test(code)) return code;
    innermost = current;
    current = (current as { cause?: unknown }).cause;
  }
  const message = (innermost as { message?: unknown })?.message;
  return typeof message === 'string' && message !== '' ? scrub(message, url) : 'unknown';
}

/** A short, one-line form of the body with anything from the URL's path removed (some proxies echo it). */
function scrub(body: string, url: string): string {
  let text = body.replace(/\s+/g, ' ').trim();
  const parsed = new URL(url);
  const secrets = [url, parsed.pathname, ...parsed.pathname.split('/').filter((segment) => segment.length >= 4)];
  for (const secret of secrets.sort((a, b) => b.length - a.length)) {
    if (secret !== '' && secret !== '/') text = text.split(secret).join('***');
  }
  return text.length > BODY_CHARS ? `${text.slice(0, BODY_CHARS)}…` : text;
}
