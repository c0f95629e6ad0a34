// Trace ids as users type them. Its own module so the CLI can check an argument before loading the read path.
import { InvalidArgumentError } from '../errors.js';

/**
 * A trace id as users type it (32 hex digits, any case, surrounding spaces ignored) in the lowercase form the index
 * uses. @throws InvalidArgumentError for anything else, including the all-zero id (invalid in OTLP).
 */
export function parseTraceId(text: string): string {
  const id = text.trim().toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(id)) {
    throw new InvalidArgumentError(
      `${JSON.stringify(text.slice(0, 80))} is not a trace id: a trace id is 32 hexadecimal digits (16 bytes)`,
    );
  }
  if (/^0+$/.test(id)) throw new InvalidArgumentError('the all-zero trace id is not a valid trace id');
  return id;
}
