// Human units, one grammar for configuration files, environment variables and command-line flags: sizes ("64MiB",
// "1.5GB", 1048576), durations ("60s", "1h30m", "250ms") and points in time (ISO-8601, or a duration meaning "that
// long ago"). A duration or a time written as a bare number is refused with a hint: `maxObjectAge: 60` used to mean
// 60 ms and `--since 1` the year 2001, neither what anyone meant. Sizes keep accepting a bare number of bytes: a byte
// count has only one reading.

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

/** Bytes from a number or a string like "64MiB" (a bare number is bytes); null when the text is not a size. */
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

/** The units a duration may use, for messages. */
export const DURATION_UNIT_NAMES = 'ms, s, m, h, d, w';

/**
 * Milliseconds from a string like "1h30m" or "250ms"; null when it is not a duration. A bare number is refused (see
 * the header), except 0, which means the same in every unit.
 */
export function parseDuration(value: number | string): number | null {
  if (typeof value === 'number') return value === 0 ? 0 : null;
  const text = value.trim();
  if (text === '') return null;
  if (text === '0') return 0;
  let total = 0;
  let rest = text;
  while (rest.length > 0) {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/.exec(rest);
    if (!match) return null;
    total += Number(match[1]) * (DURATION_UNITS[match[2] as string] as number);
    rest = rest.slice(match[0].length);
  }
  return Number.isFinite(total) ? total : null;
}

const isBareNumber = (value: unknown): boolean =>
  (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value));

/** Why a value that is not a duration was refused, when a person could not guess it: '' or a sentence to append. */
export function durationHint(value: unknown): string {
  if (!isBareNumber(value)) return '';
  const n = String(value).trim();
  return ` (a duration needs a unit: write ${n}s for seconds or ${n}ms for milliseconds; units: ${DURATION_UNIT_NAMES})`;
}

/**
 * A point in time (unix ns) from ISO-8601 ("2024-05-01", "2024-05-01T12:00:00Z", with up to nine fraction digits and
 * an offset; without an offset the time is UTC) or a duration meaning that long before `nowMs` ("15m", "1h30m",
 * "7d"). Null when the text is neither.
 */
export function parseTime(text: string, nowMs: number = Date.now()): bigint | null {
  const value = text.trim();
  const ago = parseDuration(value);
  if (ago !== null) {
    const ms = nowMs - ago;
    // Hundreds of digits overflow to Infinity, which BigInt() would throw on: junk, not a time.
    return Number.isFinite(ms) ? BigInt(Math.round(ms)) * 1_000_000n : null;
  }
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(value);
  if (!match) return null;
  const [, year, month, day, hour = '00', minute = '00', second = '00', fraction = '', zone = 'Z'] = match;
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  const iso = `${year}-${month}-${day}T${hour}:${minute}:${second}${offset}`;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms) || !sameCalendarFields(ms, zone, [year!, month!, day!, hour, minute, second])) return null;
  return BigInt(ms) * 1_000_000n + BigInt(fraction.padEnd(9, '0'));
}

/** Date.parse rolls 2024-02-30 over into March: a field out of range is a typo, not a time. */
function sameCalendarFields(ms: number, zone: string, fields: readonly string[]): boolean {
  const sign = zone.startsWith('-') ? -1 : 1;
  const offsetMs = /^z$/i.test(zone) ? 0 : sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(-2))) * 60_000;
  const local = new Date(ms + offsetMs);
  const actual = [
    local.getUTCFullYear(),
    local.getUTCMonth() + 1,
    local.getUTCDate(),
    local.getUTCHours(),
    local.getUTCMinutes(),
    local.getUTCSeconds(),
  ];
  return actual.every((n, i) => n === Number(fields[i]));
}

/** Why a value that is not a time was refused, when a person could not guess it: '' or a sentence to append. */
export function timeHint(value: unknown): string {
  if (!isBareNumber(value)) return '';
  const n = String(value).trim();
  return ` (a bare number is not a time: write ${n}h or ${n}d for that long ago, or a date such as 2024-05-01T12:00:00Z)`;
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
