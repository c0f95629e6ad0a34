// An archive with duplicates for the dedup action's tests, written at known receive times (window 15 min):
//
//   object 1: A1 (t0)      B1 (t0+10s)   C (t0+20s)        C = A with one byte changed (another request)
//   object 2: D (t0+30s)   A2 (t0+60s)   X (t0+70s)        D = other bytes, forced to A's fingerprint
//   object 3: A3 (t0+2m)   B2 (t0+3m)    A4 (t0+4m)        every one a copy
//   object 4: A5 (t0+30m)  Y (t0+31m)                      A5: 26 min after A4, a new distinct request
//   object 5: A' (t0+60s), tenant "other"                  the same bytes as A, another tenant
//
// A dedup run drops A2, A3, A4 (chain A1←A2←A3←A4, the first kept) and B2; keeps D (same fingerprint, other bytes:
// byte comparison says no), so object 1, 4 and 5 stay as they are, object 2 is rewritten without A2 and object 3
// (all copies) is deleted.
import { requestFingerprint } from '../../src/util/fingerprint.js';
import type { CapturedEntry } from '../helpers/archive-builder.js';
import { tracePayload } from '../helpers/otlp-payloads.js';

export const DEDUP_NAMES = ['A1', 'B1', 'C', 'D', 'A2', 'X', 'A3', 'B2', 'A4', 'A5', 'Y', "A'"] as const;
export type DedupName = (typeof DEDUP_NAMES)[number];
export const DROPPED: readonly DedupName[] = ['A2', 'A3', 'B2', 'A4'];
export const PER_OBJECT = 3;

export function dedupEntries(t0: number): { entries: CapturedEntry[]; bytes: Map<DedupName, Buffer> } {
  const a = Buffer.from(tracePayload(501, 20).proto);
  const b = Buffer.from(tracePayload(502, 20).proto);
  const c = Buffer.from(a);
  c[c.length - 1] = c[c.length - 1]! ^ 0x01;
  const d = Buffer.from(tracePayload(503, 20).proto);
  const x = Buffer.from(tracePayload(504, 20).proto);
  const y = Buffer.from(tracePayload(505, 20).proto);
  const s = 1000;
  const m = 60 * s;
  const plan: [DedupName, Buffer, number, string?, string?][] = [
    ['A1', a, 0],
    ['B1', b, 10 * s],
    ['C', c, 20 * s],
    ['D', d, 30 * s, undefined, requestFingerprint(a)],
    ['A2', a, 60 * s],
    ['X', x, 70 * s],
    ['A3', a, 2 * m],
    ['B2', b, 3 * m],
    ['A4', a, 4 * m],
    ['A5', a, 30 * m],
    ['Y', y, 31 * m],
    ["A'", a, 60 * s + 1, 'other'],
  ];
  const bytes = new Map<DedupName, Buffer>();
  const entries = plan.map(([name, raw, offset, tenant, fingerprint]): CapturedEntry => {
    bytes.set(name, raw);
    return { tenant: tenant ?? 'dd', signal: 'traces', bytes: raw, receivedAtMs: t0 + offset, fingerprint: fingerprint ?? requestFingerprint(raw) };
  });
  return { entries, bytes };
}
