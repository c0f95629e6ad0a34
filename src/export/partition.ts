// Hive-style partitions of an export: `signal=<signal>/tenant=<tenant>/dt=YYYY-MM-DD/hour=HH/`, by data time (UTC).
// Engines that read Hive layouts (Athena, Spark, DuckDB with hive_partitioning) turn the four into columns.
import type { Signal } from '../model.js';

export const HOUR_NS = 3_600_000_000_000n;

/** Whole hours since the epoch (UTC) of a unix-nanosecond time. */
export function hourOf(ns: bigint): number {
  // Floor division: data before 1970 would otherwise round toward zero into the wrong hour.
  const hour = ns / HOUR_NS;
  return Number(ns < 0n && hour * HOUR_NS !== ns ? hour - 1n : hour);
}

export interface PartitionKey {
  signal: Signal;
  tenant: string;
  /** Hours since the epoch. */
  hour: number;
}

/** `signal=traces/tenant=acme/dt=2024-05-01/hour=13`: the partition's key prefix (no trailing slash). */
export function partitionPath(key: PartitionKey): string {
  const iso = new Date(key.hour * 3_600_000).toISOString();
  return `signal=${key.signal}/tenant=${key.tenant}/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}`;
}

/** The partition a path names, or null when it is not one of ours (used when reading markers back). */
export function parsePartitionPath(path: string): PartitionKey | null {
  const match = /^signal=(traces|metrics|logs)\/tenant=([^/]+)\/dt=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})$/.exec(path);
  if (match === null) return null;
  const ms = Date.parse(`${match[3]}T${match[4]}:00:00Z`);
  if (Number.isNaN(ms)) return null;
  return { signal: match[1] as Signal, tenant: match[2]!, hour: ms / 3_600_000 };
}

/** A map key for a (signal, tenant) stream. */
export function streamId(signal: Signal, tenant: string): string {
  return `${signal}/${tenant}`;
}
