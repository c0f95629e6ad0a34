// A valid review report, as a review tool would write it.

export const VALID = {
  timestamp: '2025-03-01T12:30:00Z',
  filesAnalyzed: 42,
  linesOfCode: 12345,
  severity: 'high',
  issues: [
    { category: 'security', severity: 'critical', description: 'SQL built from user input', file: 'src/db.ts', line: 17 },
    { category: 'style', severity: 'low', description: 'long function', file: 'src/app.ts', line: 3 },
    { category: 'bug', severity: 'high', description: 'off by one', file: 'src/loop.ts', line: 99 },
  ],
  recommendations: ['Use parameterised queries', 'Split app.ts'],
};
