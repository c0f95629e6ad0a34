// Review report validation: a valid report parses; every kind of fault names the exact field and what was there.
import { InvalidArgumentError } from '../../src/errors.js';
import { fieldPath, parseReviewReport } from '../../src/notify/review-report.js';
import { VALID } from './review-fixture.js';


function errorFor(value: unknown): string {
  try {
    parseReviewReport(typeof value === 'string' ? value : JSON.stringify(value), 'report.json');
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return (error as Error).message;
  }
  throw new Error('expected the report to be rejected');
}

test('a valid report parses, severities are normalised to lower case, unknown extra keys are ignored', () => {
  const report = parseReviewReport(
    JSON.stringify({ ...VALID, severity: 'HIGH', tool: 'reviewer 1.2', issues: [{ ...VALID.issues[0], id: 'X1' }] }),
  );
  expect(report.severity).toBe('high');
  expect(report.issues).toEqual([VALID.issues[0]]);
  expect(report.recommendations).toEqual(VALID.recommendations);
  expect(report.filesAnalyzed).toBe(42);
});

test('a wrong line names issues[2].line and quotes what was given', () => {
  const issues = VALID.issues.map((issue, index) => (index === 2 ? { ...issue, line: 'x' } : issue));
  expect(errorFor({ ...VALID, issues })).toContain('issues[2].line: expected a positive integer, got "x"');
});

test.each([
  [{ ...VALID, timestamp: 'yesterday' }, 'timestamp: expected an ISO-8601 date-time such as 2025-01-31T12:00:00Z, got "yesterday"'],
  [{ ...VALID, filesAnalyzed: -1 }, 'filesAnalyzed: expected a non-negative integer, got -1'],
  [{ ...VALID, linesOfCode: 1.5 }, 'linesOfCode: expected a non-negative integer, got 1.5'],
  [{ ...VALID, severity: 'urgent' }, 'severity: expected one of critical, high, medium, low, info, got "urgent"'],
  [{ ...VALID, issues: {} }, 'issues: expected a list of issues, got {}'],
  [{ ...VALID, issues: [5] }, 'issues[0]: expected an object, got 5'],
  [{ ...VALID, issues: [{ ...VALID.issues[0], line: 0 }] }, 'issues[0].line: expected a positive integer, got 0'],
  [{ ...VALID, issues: [{ ...VALID.issues[0], file: '' }] }, 'issues[0].file: expected a non-empty string, got ""'],
  [{ ...VALID, recommendations: ['ok', 7] }, 'recommendations[1]: expected a non-empty string, got 7'],
  [[], '(top level): expected an object, got []'],
])('rejects %j with the field at fault', (report, message) => {
  expect(errorFor(report)).toContain(`  - ${message}`);
});

test('missing fields are named as missing; every fault is listed, not just the first', () => {
  const { description: _d, ...noDescription } = VALID.issues[1]!;
  const { recommendations: _r, ...rest } = VALID;
  const message = errorFor({ ...rest, issues: [VALID.issues[0], noDescription] });
  expect(message).toMatch(/^report\.json is not a valid review report:/);
  expect(message).toContain('issues[1].description: missing: expected a non-empty string');
  expect(message).toContain('recommendations: missing: expected a list of strings');
});

test('invalid JSON says where, by line and column', () => {
  const message = errorFor('{\n  "timestamp": "2025-03-01T12:30:00Z",\n  "filesAnalyzed": ,\n}');
  expect(message).toBe('report.json is not valid JSON: line 3, column 20: expected a value, found ","');
});

test('a long list of faults is cut with a count of the rest', () => {
  const issues = Array.from({ length: 30 }, () => ({ line: 'x' }));
  const message = errorFor({ ...VALID, issues });
  expect(message.split('\n').filter((line) => line.startsWith('  - '))).toHaveLength(20);
  expect(message).toMatch(/…and \d+ more$/);
});

test('fieldPath writes list indexes in brackets', () => {
  expect(fieldPath(['issues', 2, 'line'])).toBe('issues[2].line');
  expect(fieldPath([3])).toBe('[3]');
  expect(fieldPath([])).toBe('(top level)');
});
