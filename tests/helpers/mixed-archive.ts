// A mixed archive for export tests: traces, metrics and logs of two tenants over three days of data time (two hours
// a day, one of them straddling an hour boundary), made from otlp-transformer payloads moved in time at wire level,
// archived with the archive builder. Each entry keeps otlp-transformer's own JSON of its records (moved the same way)
// as the independent reference for what an export must contain.
import type { Signal } from '../../src/model.js';
import { SIGNALS } from '../../src/model.js';
import { shiftTimestamps } from '../../src/otlp/time-shift.js';
import { buildArchive, type BuiltArchive, type CapturedEntry } from './archive-builder.js';
import { metricsPayloadWithSummaryAndExemplars, payloadFor } from './otlp-payloads.js';

/** Where the payload generators put their data: 1_700_000_000 s + up to a minute. */
const PAYLOAD_BASE_NS = 1_700_000_000n * 1_000_000_000n;

export const TENANTS = ['acme', 'globex'] as const;
export const DAYS = ['2024-03-01', '2024-03-02', '2024-03-03'] as const;
/** The second start straddles 10:00 → 11:00 for data that spans a minute. */
export const STARTS = ['09:00:00', '10:59:30'] as const;

export interface MixedEntry {
  signal: Signal;
  tenant: string;
  /** Encoded Export request, as archived. */
  proto: Uint8Array;
  /** otlp-transformer's OTLP/JSON of the same data (times moved alike); null for the hand-built summary payload. */
  transformerJson: Record<string, unknown> | null;
}

export interface MixedArchive extends BuiltArchive {
  entries: MixedEntry[];
}

export async function buildMixedArchive(dir: string): Promise<MixedArchive> {
  const entries: MixedEntry[] = [];
  const captured: CapturedEntry[] = [];
  let seed = 0;
  let receivedAtMs = Date.parse('2024-03-04T00:00:00Z');
  for (const day of DAYS) {
    for (const start of STARTS) {
      for (const tenant of TENANTS) {
        for (const signal of SIGNALS) {
          seed += 1;
          const offsetNs = BigInt(Date.parse(`${day}T${start}Z`)) * 1_000_000n - PAYLOAD_BASE_NS;
          // One metrics request in four has summaries and exemplars (otlp-transformer makes neither).
          const handBuilt = signal === 'metrics' && seed % 4 === 0;
          const payload = handBuilt ? metricsPayloadWithSummaryAndExemplars(seed) : payloadFor(signal, seed);
          const proto = shiftTimestamps(signal, payload.proto, offsetNs).bytes;
          const json = 'json' in payload ? (shiftJsonTimes(payload.json, offsetNs) as Record<string, unknown>) : null;
          entries.push({ signal, tenant, proto, transformerJson: json });
          captured.push({ signal, tenant, bytes: proto, receivedAtMs: (receivedAtMs += 1000) });
        }
      }
    }
  }
  const archive = await buildArchive(dir, captured, 3);
  return { ...archive, entries };
}

/** Every non-zero `…TimeUnixNano` value moved by `offsetNs` (otlp-transformer writes them as decimal strings). */
export function shiftJsonTimes(value: unknown, offsetNs: bigint, key = ''): unknown {
  if (Array.isArray(value)) return value.map((item) => shiftJsonTimes(item, offsetNs));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shiftJsonTimes(v, offsetNs, k)]));
  }
  if (/timeUnixNano$/i.test(key) && (typeof value === 'string' || typeof value === 'number') && BigInt(value) !== 0n) {
    return String(BigInt(value) + offsetNs);
  }
  return value;
}
