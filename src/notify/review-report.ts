// A code review report as JSON (what `otlp-capture notify review FILE.json` posts). Validation names the exact
// field at fault and what was there, e.g. `issues[2].line: expected a positive integer, got "x"`.
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.js';
import { findJsonSyntaxError } from './json-syntax.js';

export const REVIEW_SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type ReviewSeverity = (typeof REVIEW_SEVERITIES)[number];

function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  const json = JSON.stringify(value);
  if (json === undefined) return String(value);
  return json.length > 60 ? `${json.slice(0, 57)}…` : json;
}

/** A field validated by `accept`, with one message saying what was expected and what was found. */
function field<T>(expected: string, accept: (value: unknown) => T | undefined) {
  return z.unknown().transform((value, ctx): T => {
    const accepted = value === undefined ? undefined : accept(value);
    if (accepted === undefined) {
      ctx.addIssue({ code: 'custom', message: value === undefined ? `missing: expected ${expected}` : `expected ${expected}, got ${shown(value)}` });
      return z.NEVER;
    }
    return accepted;
  });
}

const text = field('a non-empty string', (value) => (typeof value === 'string' && value.trim() !== '' ? value : undefined));
const count = field('a non-negative integer', (value) => (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined));
const lineNumber = field('a positive integer', (value) => (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 ? value : undefined));
const severity = field<ReviewSeverity>(`one of ${REVIEW_SEVERITIES.join(', ')}`, (value) => {
  const lower = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
  return (REVIEW_SEVERITIES as readonly string[]).includes(lower ?? '') ? (lower as ReviewSeverity) : undefined;
});
const timestamp = field('an ISO-8601 date-time such as 2025-01-31T12:00:00Z', (value) =>
  typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(value) && !Number.isNaN(Date.parse(value))
    ? value
    : undefined,
);

/** An object whose own keys are checked; keys we do not know are ignored (reports come from many tools). */
function record<S extends z.ZodRawShape>(shape: S) {
  return z.object(shape, { error: (issue) => `expected an object, got ${shown(issue.input)}` });
}

function list<T extends z.ZodType>(item: T, what: string) {
  return z.array(item, { error: (issue) => (issue.input === undefined ? `missing: expected a list of ${what}` : `expected a list of ${what}, got ${shown(issue.input)}`) });
}

export const reviewIssueSchema = record({
  category: text,
  severity,
  description: text,
  file: text,
  line: lineNumber,
});

export const reviewReportSchema = record({
  timestamp,
  filesAnalyzed: count,
  linesOfCode: count,
  severity,
  issues: list(reviewIssueSchema, 'issues'),
  recommendations: list(text, 'strings'),
});

export type ReviewIssue = z.output<typeof reviewIssueSchema>;
export type ReviewReport = z.output<typeof reviewReportSchema>;

/** Most problems listed in one error; the rest are counted. */
const MAX_LISTED = 20;

/** Parses and validates a review report; throws InvalidArgumentError naming every field at fault. */
export function parseReviewReport(json: string, source = 'review report'): ReviewReport {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    const fault = findJsonSyntaxError(json);
    const where = fault ? `line ${fault.line}, column ${fault.column}: ${fault.message}` : error instanceof Error ? error.message : String(error);
    throw new InvalidArgumentError(`${source} is not valid JSON: ${where}`);
  }
  const result = reviewReportSchema.safeParse(parsed);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `  - ${fieldPath(issue.path)}: ${issue.message}`);
  const listed = lines.slice(0, MAX_LISTED);
  if (lines.length > MAX_LISTED) listed.push(`  …and ${lines.length - MAX_LISTED} more`);
  throw new InvalidArgumentError(`${source} is not a valid review report:\n${listed.join('\n')}`);
}

/** ["issues", 2, "line"] → "issues[2].line". */
export function fieldPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path.map((key, index) => (typeof key === 'number' ? `[${key}]` : `${index === 0 ? '' : '.'}${String(key)}`)).join('');
}
