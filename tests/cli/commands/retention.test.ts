import { describe, expect, test } from '@jest/globals';
import { parseAsOf } from '../../../src/cli/commands/retention.js';
import { UsageError } from '../../../src/cli/exit.js';

describe('retention run --as-of', () => {
  test('takes ISO-8601 or unix ms; unset means now', () => {
    expect(parseAsOf(undefined)).toBeUndefined();
    expect(parseAsOf('2026-01-31T00:00:00Z')).toBe(Date.UTC(2026, 0, 31));
    expect(parseAsOf('1767225600000')).toBe(1_767_225_600_000);
  });

  test('anything else is a usage error that says what is expected', () => {
    expect(() => parseAsOf('next tuesday')).toThrow(UsageError);
    expect(() => parseAsOf('next tuesday')).toThrow('--as-of must be an ISO-8601 time (2026-01-31T00:00:00Z) or unix ms, not "next tuesday"');
  });
});
