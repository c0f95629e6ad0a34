// How a captured request is shown to people and scripts (list --json, CaptureService): ISO-8601 times with
// nanosecond precision where the data has it.
import type { Tier } from '../model.js';
import type { PresentedRequest } from './dedup.js';

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
  /** Distinct requests: how many duplicates (retries within the dedup window) this one has; absent when dedup is off. */
  duplicates?: number;
  /** On a duplicate (shown with --with-duplicates): the id of the earlier request it repeats. */
  duplicateOf?: string;
  /** hot: not yet in a sealed object (object is empty; offset and length name the spool record). */
  tier: Tier;
}

export function requestView(request: PresentedRequest): RequestView {
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
    ...(request.duplicates === undefined ? {} : { duplicates: request.duplicates }),
    ...(request.duplicateOf === undefined ? {} : { duplicateOf: request.duplicateOf }),
    tier: request.tier ?? 'archive',
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
