// The error codes that mean "the server could not be reached or the connection broke", which every remote
// backend (S3, ClickHouse) reports as unavailable and retryable rather than as a refusal.

const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UND_ERR_SOCKET',
]);

export function isNetworkErrorCode(code: unknown): code is string {
  return typeof code === 'string' && NETWORK_CODES.has(code);
}
