// The knobs of a replay as people write them: --time-shift none|now|DURATION, --speed max|FACTOR, --compression and
// --header values.
import { parseDuration } from '../config/units.js';
import { InvalidArgumentError } from '../errors.js';

/** none: bytes unchanged; now: the selection's earliest data timestamp lands at the start of the replay; offset: fixed. */
export type TimeShift = { kind: 'none' } | { kind: 'now' } | { kind: 'offset'; ns: bigint };

/** max: as fast as the concurrency allows; a factor: the original gaps between requests divided by it. */
export type Speed = 'max' | number;

/** "none", "now", or a signed duration: "+2h", "-30m", "1d", "1h30m", "250ms" (no sign means forward). */
export function parseTimeShift(text: string): TimeShift {
  const value = text.trim();
  if (value === 'none') return { kind: 'none' };
  if (value === 'now') return { kind: 'now' };
  const match = /^([+-]?)(.+)$/.exec(value);
  const ms = match ? parseDuration(match[2]!) : null;
  if (!match || ms === null) {
    throw new InvalidArgumentError(
      `time shift must be none, now or a duration such as +2h, -30m, 1d: not ${JSON.stringify(text.slice(0, 80))}`,
    );
  }
  // Microsecond steps keep the product exact for any sane duration (a double holds 2^53 µs ≈ 285 years).
  const ns = BigInt(Math.round(ms * 1000)) * 1000n;
  return ns === 0n ? { kind: 'none' } : { kind: 'offset', ns: match[1] === '-' ? -ns : ns };
}

/** "max", or a real-time factor > 0 ("1" = original pace, "10" = ten times faster, "0.5" = half speed). */
export function parseSpeed(text: string): Speed {
  const value = text.trim();
  if (value === 'max') return 'max';
  const factor = /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isFinite(factor) || factor <= 0) {
    throw new InvalidArgumentError(`speed must be max or a factor above 0 such as 1, 10 or 0.5: not ${JSON.stringify(text.slice(0, 80))}`);
  }
  return factor;
}

/**
 * How Exports travel to the target: none (the default, as the bytes are), or gzip — grpc-js' only compressing
 * codec; every OTLP/gRPC receiver takes it (the Collector's own exporter sends it by default). Worth it across a WAN:
 * OTLP compresses 4-8×, for ~15 CPU-ms per MiB on the replaying side.
 */
export type ReplayCompression = 'none' | 'gzip';

export function parseReplayCompression(text: string): ReplayCompression {
  const value = text.trim().toLowerCase();
  if (value === 'none' || value === 'gzip') return value;
  throw new InvalidArgumentError(`compression must be none or gzip: not ${JSON.stringify(text.slice(0, 80))}`);
}

/** The offset in ns a time shift applies, given the earliest data timestamp of the selection and the start time. */
export function timeShiftOffset(shift: TimeShift, earliestNs: bigint | null, nowNs: bigint): bigint {
  if (shift.kind === 'none') return 0n;
  if (shift.kind === 'offset') return shift.ns;
  return earliestNs === null ? 0n : nowNs - earliestNs;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * A header's value as gRPC metadata takes it: the text, or — for a key ending in -bin, which gRPC sends as bytes —
 * the bytes the base64 value names (standard alphabet, padding optional), as grpcurl and the Collector's headers
 * settings write them.
 */
export function metadataValue(key: string, value: string): string | Buffer {
  if (!key.endsWith('-bin')) return value;
  const text = value.trim();
  if (!BASE64.test(text) || text.length % 4 === 1 || (text.includes('=') && text.length % 4 !== 0)) {
    throw new InvalidArgumentError(`header ${key}: the value of a -bin header is base64 of the bytes to send`);
  }
  return Buffer.from(text, 'base64');
}
