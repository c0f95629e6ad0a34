// Compares OTLP/JSON semantically, across writers that differ in what they omit.

/** 64-bit integer fields: the spec wants decimal strings, otlp-transformer writes some as numbers. */
const INT64_KEYS = new Set([
  'intValue', 'asInt', 'count', 'zeroCount', 'bucketCounts',
  'timeUnixNano', 'startTimeUnixNano', 'endTimeUnixNano', 'observedTimeUnixNano',
]);

/**
 * Semantic form of OTLP/JSON for comparison: default-valued fields (0, "0", "", false, empty arrays and objects,
 * null) dropped at every level, 64-bit integers as strings. Array elements are kept as they are: position matters.
 */
export function normalizeOtlpJson(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) {
    const items = value.map((item) => normalizeItem(item, key));
    return items.length === 0 ? undefined : items;
  }
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const normalized = normalizeOtlpJson(v, k);
      if (normalized !== undefined) out[k] = normalized;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  if (INT64_KEYS.has(key) && typeof value === 'number') value = String(value);
  if (value === 0 || value === '0' || value === '' || value === false || value === null) return undefined;
  return value;
}

function normalizeItem(item: unknown, key: string): unknown {
  if (typeof item === 'object' && item !== null) return normalizeOtlpJson(item, key) ?? {};
  return INT64_KEYS.has(key) && typeof item === 'number' ? String(item) : item;
}
