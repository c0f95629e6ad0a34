// Webhook URLs are credentials: anyone holding one can post to the channel. Only their redacted form may appear in
// logs, errors and command output.

/** True for an absolute http(s) URL with a host (what a webhook must be). */
export function isWebhookUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return (url.protocol === 'https:' || url.protocol === 'http:') && url.hostname !== '' && url.username === '' && url.password === '';
}

/**
 * `https://hooks.slack.com/services/T0123/B0456/xyz` → `hooks.slack.com/services/T…/***`: enough to tell which
 * workspace's hook it is, nothing that lets anyone post. Any other URL keeps only its host (and port).
 */
export function redactWebhookUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return '(invalid URL)/***';
  }
  const segments = url.pathname.split('/').filter((segment) => segment !== '');
  if (segments[0] === 'services' && segments[1]) return `${url.host}/services/${segments[1].slice(0, 1)}…/***`;
  return `${url.host}/***`;
}
