// Human units in configuration: sizes ("64MiB", "1.5GB", 1048576) and durations ("60s", "1h30m", "250ms").

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** Bytes from a number or a string like "64MiB"; null when the text is not a size. */
export function parseBytes(value: number | string): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (!match) return null;
  const unit = (match[2] ?? '').toLowerCase() || 'b';
  const factor = SIZE_UNITS[unit];
  if (factor === undefined) return null;
  const bytes = Math.round(Number(match[1]) * factor);
  return Number.isSafeInteger(bytes) ? bytes : null;
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Milliseconds from a number (ms) or a string like "1h30m"; null when the text is not a duration. */
export function parseDuration(value: number | string): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : null;
  const text = value.trim();
  if (text === '') return null;
  let total = 0;
  let rest = text;
  while (rest.length > 0) {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/.exec(rest);
    if (!match) return null;
    total += Number(match[1]) * (DURATION_UNITS[match[2] as string] as number);
    rest = rest.slice(match[0].length);
  }
  return total;
}

/** "0.0.0.0:4317" → { host, port }; IPv6 as "[::1]:4317". Null when malformed. */
export function parseListen(value: string): { host: string; port: number } | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(value.trim());
  if (!match) return null;
  const port = Number(match[3]);
  if (port > 65535) return null;
  return { host: (match[1] ?? match[2]) as string, port };
}

export function formatListen(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
