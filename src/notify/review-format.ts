// A review report as a readable Slack message: scope, overall severity, issue counts, every issue with its
// severity marker, file:line and category, then the recommendations; cut to Slack's limits with "…and N more".
import { formatCount } from '../util/human-units.js';
import type { MessageBlock, Notification, Priority } from './notifier.js';
import { REVIEW_SEVERITIES, type ReviewIssue, type ReviewReport, type ReviewSeverity } from './review-report.js';
import { SLACK_LIMITS, contextBlock, escapeMrkdwn, fieldsBlock, headerBlock, joinWithin, packLines, truncate } from './slack-format.js';

export const SEVERITY_MARKERS: Record<ReviewSeverity, string> = {
  critical: '🔴',
  high: '🟠',
  medium: '🟡',
  low: '🔵',
  info: '⚪',
};

const PRIORITY_OF_SEVERITY: Record<ReviewSeverity, Priority> = {
  critical: 'critical',
  high: 'high',
  medium: 'medium',
  low: 'low',
  info: 'low',
};

/** Each issue's description in the blocks is cut to this, so one essay does not push every other issue out. */
const DESCRIPTION_CHARS = 500;
/** Sections kept for recommendations at most; the issues get the rest. */
const MAX_RECOMMENDATION_SECTIONS = 8;

/** The default priority of a review: its overall severity (info counts as low). */
export function reviewPriority(severity: ReviewSeverity): Priority {
  return PRIORITY_OF_SEVERITY[severity];
}

export function reviewNotification(report: ReviewReport, options: { priority?: Priority } = {}): Notification {
  const issues = [...report.issues].sort(bySeverityThenPlace);
  const title = `Code review: ${report.severity} severity, ${plural(issues.length, 'issue')} in ${plural(report.filesAnalyzed, 'file')}`;
  const scope = `${plural(report.filesAnalyzed, 'file')}, ${plural(report.linesOfCode, 'line')} of code`;
  const counts = severityCounts(issues);
  const issueLines = issues.map((issue) => issueLine(issue, DESCRIPTION_CHARS));
  const recommendationLines = report.recommendations.map((recommendation) => `• ${escapeMrkdwn(recommendation)}`);

  const recommendations = packLines(
    recommendationLines.length > 0 ? ['*Recommendations*', ...recommendationLines] : [],
    MAX_RECOMMENDATION_SECTIONS,
  );
  // Header, fields, divider; then issues and their "more" line; a divider, the recommendations and their "more" line.
  const fixed = 3 + 1 + 1 + 1;
  const issueBlocks = packLines(issueLines, SLACK_LIMITS.blocks - fixed - recommendations.blocks.length);
  const blocks: MessageBlock[] = [
    headerBlock(`🔍 ${title}`),
    fieldsBlock([
      `*Scope*\n${scope}`,
      `*Overall severity*\n${SEVERITY_MARKERS[report.severity]} ${report.severity}`,
      `*Issues*\n${counts || 'none'}`,
      `*Reviewed*\n${escapeMrkdwn(report.timestamp)}`,
    ]),
    { type: 'divider' },
    ...(issues.length === 0 ? [contextBlock('✅ No issues found.')] : issueBlocks.blocks),
  ];
  if (issueBlocks.omitted > 0) blocks.push(contextBlock(`…and ${issueBlocks.omitted} more ${issueBlocks.omitted === 1 ? 'issue' : 'issues'}`));
  if (recommendations.blocks.length > 0) {
    blocks.push({ type: 'divider' }, ...recommendations.blocks);
    if (recommendations.omitted > 0) blocks.push(contextBlock(`…and ${recommendations.omitted} more recommendations`));
  }

  const head = [`Scope: ${scope}`, `Overall severity: ${SEVERITY_MARKERS[report.severity]} ${report.severity}`, `Issues: ${counts || 'none'}`];
  const textBudget = SLACK_LIMITS.textChars - 500;
  const issuesText = joinWithin(issues.map((issue) => issueLine(issue, 2 * DESCRIPTION_CHARS)), textBudget / 2, 'issues');
  const recommendationsText =
    recommendationLines.length > 0 ? `*Recommendations*\n${joinWithin(recommendationLines, textBudget / 2 - 200, 'recommendations')}` : '';
  const text = truncate([...head, issuesText, recommendationsText].filter((part) => part !== '').join('\n'), textBudget);

  return { kind: 'review', priority: options.priority ?? reviewPriority(report.severity), title, text, blocks };
}

function issueLine(issue: ReviewIssue, descriptionChars: number): string {
  // A backtick inside the file name would end the code span early.
  const place = `${issue.file.replace(/`/g, "'")}:${issue.line}`;
  return (
    `${SEVERITY_MARKERS[issue.severity]} *${issue.severity}* \`${escapeMrkdwn(place)}\` _${escapeMrkdwn(issue.category)}_ — ` +
    escapeMrkdwn(truncate(issue.description.replace(/\s+/g, ' ').trim(), descriptionChars))
  );
}

function severityCounts(issues: readonly ReviewIssue[]): string {
  return REVIEW_SEVERITIES.map((severity) => [severity, issues.filter((issue) => issue.severity === severity).length] as const)
    .filter(([, n]) => n > 0)
    .map(([severity, n]) => `${SEVERITY_MARKERS[severity]} ${n} ${severity}`)
    .join(' · ');
}

function bySeverityThenPlace(a: ReviewIssue, b: ReviewIssue): number {
  const bySeverity = REVIEW_SEVERITIES.indexOf(a.severity) - REVIEW_SEVERITIES.indexOf(b.severity);
  if (bySeverity !== 0) return bySeverity;
  return a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1;
}

function plural(n: number, noun: string): string {
  return `${formatCount(n)} ${noun}${n === 1 ? '' : 's'}`;
}
