// How a captured request is shown to people and scripts (list --json, CaptureService): ISO-8601 times with
// nanosecond precision where the data has it.
import type { ArchivedRequest } from '../model.js';

export interface RequestView {
  id: string;
  signal: string;
  tenant: string;
  receivedAt: string;
  items: number;
  services: string[];
  timeRange: { start: string; end: string };
  bytes: number;
  object: string;
  offset: number;
  length: number;
  codec: string;
}

export function requestView(request: ArchivedRequest): RequestView {
  return {
    id: request.id,
    signal: request.signal,
    tenant: request.tenant,
    receivedAt: new Date(request.receivedAtMs).toISOString(),
    items: request.items,
    services: request.services,
    timeRange: { start: nanosToIso(request.startNs), end: nanosToIso(request.endNs) },
    bytes: request.rawBytes,
    object: request.objectKey,
    offset: request.offset,
    length: request.length,
    codec: request.codec,
  };
}

/** 1700000000123456789n → "2023-11-14T22:13:20.123456789Z"; digits below the millisecond only when non-zero. */
export function nanosToIso(ns: bigint): string {
  // Floor division: bigint `/` truncates toward zero, which before 1970 would give a negative sub-ms remainder.
  const subMs = ((ns % 1_000_000n) + 1_000_000n) % 1_000_000n;
  const ms = (ns - subMs) / 1_000_000n;
  const base = new Date(Number(ms)).toISOString();
  if (subMs === 0n) return base;
  return `${base.slice(0, -1)}${subMs.toString().padStart(6, '0')}Z`;
}

/** Parses "2024-01-02T03:04:05.123456789Z", any Date-parsable text, or a relative "15m"/"2h"/"7d" (ago). */
export function parseTimeArg(text: string, nowMs: number = Date.now()): bigint | null {
  const relative = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  if (relative) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 's' | 'm' | 'h' | 'd'];
    const ms = nowMs - Number(relative[1]) * unit;
    // Hundreds of digits overflow to Infinity, which BigInt() would throw on: junk, not a time.
    return Number.isFinite(ms) ? BigInt(Math.round(ms)) * 1_000_000n : null;
  }
  const fraction = /^(.*T\d\d:\d\d:\d\d)\.(\d{1,9})(Z|[+-]\d\d:?\d\d)$/.exec(text.trim());
  if (fraction) {
    const whole = Date.parse(`${fraction[1]}${fraction[3]}`);
    if (Number.isNaN(whole)) return null;
    return BigInt(whole) * 1_000_000n + BigInt((fraction[2] as string).padEnd(9, '0'));
  }
  const parsed = Date.parse(text);
  return Number.isNaN(parsed) ? null : BigInt(parsed) * 1_000_000n;
}
