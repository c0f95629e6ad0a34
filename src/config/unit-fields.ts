// Configuration fields in human units, for every section's zod schema: a size ("64MiB", 1048576) or a duration
// ("90s", "7d") becomes a number, and a wrong value is refused with what was expected and what was given (and, for a
// duration written as a bare number, how to write it; see units.ts).
import { z } from 'zod';
import { durationHint, parseBytes, parseDuration } from './units.js';

export const SIZE_EXPECTED = 'expected a size such as 64MiB or 1048576';

/** What a wrong-typed value (a list, a mapping, true) was, for messages that say what was given. */
export function given(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value) ?? String(value);
}

function unitField(expected: string, parse: (value: number | string) => number | null, hint: (value: unknown) => string = () => '') {
  // The union's own message would be a bare "Invalid input" for a wrong type (true, a list): say what is expected.
  return z
    .union([z.number(), z.string()], { error: (issue) => `${expected}, got ${given(issue.input)}` })
    .transform((value, ctx) => {
      const parsed = parse(value);
      if (parsed === null) {
        ctx.addIssue({ code: 'custom', message: `${expected}, got ${JSON.stringify(value)}${hint(value)}` });
        return z.NEVER;
      }
      return parsed;
    });
}

/** Bytes. */
export const sizeField = (expected: string = SIZE_EXPECTED) => unitField(expected, parseBytes);

/** Milliseconds; `expected` names examples that suit the section (seconds for timeouts, days for retention). */
export const durationField = (expected: string) => unitField(expected, parseDuration, durationHint);

/** setTimeout's longest delay (~24.8 days): a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export function fitsTimer(ms: number): boolean {
  return ms <= MAX_TIMER_MS;
}

export const TIMER_LIMIT_MESSAGE = 'must be at most 24d (596h): a timer cannot wait longer';
