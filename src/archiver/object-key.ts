// Where an archive object lives: `<tenant>/<signal>/YYYY/MM/DD/HH/<id>.otlpc` (UTC hour of creation). The time
// path lets people and lifecycle rules select by prefix (one tenant, one signal, one day) without the index, and
// the ULID file name keeps keys unique and sorted by creation time within an hour.

import type { Signal } from '../model.js';
import { InvalidArgumentError } from '../errors.js';
import { newUlid } from '../util/ulid.js';

export const OBJECT_KEY_SUFFIX = '.otlpc';

export interface ObjectKeyParts {
  tenant: string;
  signal: Signal;
  createdAtMs: number;
  id: string;
}

/** One path segment: no separators, no dot segments, no control characters. */
function checkSegment(name: string, value: string): void {
  if (value === '' || value === '.' || value === '..' || /[/\\\u0000-\u001f\u007f]/.test(value)) {
    throw new InvalidArgumentError(`${name} ${JSON.stringify(value)} cannot be used in an object key`);
  }
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

export function objectKey(parts: ObjectKeyParts): string {
  checkSegment('tenant', parts.tenant);
  checkSegment('signal', parts.signal);
  checkSegment('object id', parts.id);
  if (!Number.isFinite(parts.createdAtMs)) {
    throw new InvalidArgumentError(`object creation time must be a finite number: got ${parts.createdAtMs}`);
  }
  const t = new Date(parts.createdAtMs);
  const time = [
    pad(t.getUTCFullYear(), 4),
    pad(t.getUTCMonth() + 1, 2),
    pad(t.getUTCDate(), 2),
    pad(t.getUTCHours(), 2),
  ].join('/');
  return `${parts.tenant}/${parts.signal}/${time}/${parts.id}${OBJECT_KEY_SUFFIX}`;
}

export function newObjectId(nowMs?: number): string {
  return newUlid(nowMs);
}
