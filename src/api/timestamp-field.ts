// google.protobuf.Timestamp fields of CaptureService requests (since, until). The well-known type allows seconds from
// 0001-01-01 to 9999-12-31 and nanos 0..999999999; anything else is not a time (a raw client's mistake, not a
// far-off instant): INVALID_ARGUMENT naming the field, rather than a filter shifted by whole seconds in silence.
import { InvalidArgumentError } from '../errors.js';

export interface Timestamp {
  seconds?: string | number;
  nanos?: number;
}

const MIN_SECONDS = -62_135_596_800n;
const MAX_SECONDS = 253_402_300_799n;

/** Nanoseconds since the epoch. @throws InvalidArgumentError naming `field` for a value outside the type's range. */
export function timestampNs(value: Timestamp, field: string): bigint {
  const seconds = BigInt(value.seconds ?? 0);
  const nanos = value.nanos ?? 0;
  if (!Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) {
    throw new InvalidArgumentError(`${field}: nanos must be 0 to 999999999, not ${nanos}`);
  }
  if (seconds < MIN_SECONDS || seconds > MAX_SECONDS) {
    throw new InvalidArgumentError(`${field}: seconds must be within years 0001 to 9999, not ${seconds}`);
  }
  return seconds * 1_000_000_000n + BigInt(nanos);
}
