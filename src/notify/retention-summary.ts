// A retention run's summary as a notification. The retention module fills RetentionRunSummary at the end of a run
// and calls `notifier.notify(retentionSummaryNotification(summary))`.
import { formatBytes, formatCount, formatDuration } from '../util/human-units.js';
import type { MessageBlock, Notification, Priority } from './notifier.js';
import { contextBlock, escapeMrkdwn, fieldsBlock, headerBlock, joinWithin, packLines, SLACK_LIMITS, truncate } from './slack-format.js';

export interface RetentionCounts {
  processed: number;
  succeeded: number;
  failed: number;
}

export interface RetentionPolicySummary {
  /** The policy's `name` from config. */
  policy: string;
  /** Its action type: delete, archive, compress or dedup. */
  action: string;
  /** Archive objects the policy acted on. */
  objects: RetentionCounts;
  /** Captured requests inside those objects. */
  requests: RetentionCounts;
  /** Stored bytes of the objects before the run, and after it (0 for delete; the estimate for a dry run). */
  bytesBefore: number;
  bytesAfter: number;
  /** dedup: requests dropped as exact duplicates of earlier ones (a dry run: that would be). */
  dropped?: number;
  /** A few failure messages (the first ones), shown as examples. */
  errors?: string[];
}

export interface RetentionRunSummary {
  startedAtMs: number;
  finishedAtMs: number;
  dryRun: boolean;
  /** The `--as-of` time the run judged ages by, when not "now" (ISO-8601). */
  asOf?: string;
  policies: RetentionPolicySummary[];
}

const MAX_ERRORS_SHOWN = 5;

/**
 * Priority: `high` when anything failed (someone should look), else `low` (it goes into the digest). Pass
 * `options.priority` to override.
 */
export function retentionSummaryNotification(summary: RetentionRunSummary, options: { priority?: Priority } = {}): Notification {
  const total = totals(summary.policies);
  const failed = total.objects.failed + total.requests.failed;
  const dry = summary.dryRun ? ' (dry run)' : '';
  const title =
    `Retention run${dry}: ${plural(total.objects.processed, 'object')}, ${formatBytes(total.bytesBefore)} → ${formatBytes(total.bytesAfter)}` +
    (failed > 0 ? `, ${formatCount(total.objects.failed)} failed` : '');
  const overview = [
    `*Objects*\n${counts(total.objects)}`,
    `*Requests*\n${counts(total.requests)}`,
    `*Stored bytes*\n${bytesChange(total.bytesBefore, total.bytesAfter)}`,
    `*Took*\n${formatDuration(summary.finishedAtMs - summary.startedAtMs)}` + (summary.asOf ? ` (as of ${escapeMrkdwn(summary.asOf)})` : ''),
  ];
  const policyLines = summary.policies.map(policyLine);
  const errors = summary.policies.flatMap((policy) =>
    (policy.errors ?? []).map((error) => `${escapeMrkdwn(policy.policy)}: ${escapeMrkdwn(truncate(error.replace(/\s+/g, ' '), 300))}`),
  );
  const shownErrors = errors.slice(0, MAX_ERRORS_SHOWN);
  const errorsText =
    shownErrors.length > 0
      ? `*Failures*\n${shownErrors.map((line) => `• ${line}`).join('\n')}${errors.length > shownErrors.length ? `\n…and ${errors.length - shownErrors.length} more` : ''}`
      : '';
  const note = summary.dryRun ? '_Dry run: nothing was changed; the numbers say what a real run would do._' : '';

  const policies = packLines(policyLines.length > 0 ? policyLines : ['No policy matched anything.'], SLACK_LIMITS.blocks - 8);
  const blocks: MessageBlock[] = [headerBlock(`🧹 ${title}`), fieldsBlock(overview), { type: 'divider' }, ...policies.blocks];
  if (policies.omitted > 0) blocks.push(contextBlock(`…and ${policies.omitted} more policies`));
  if (errorsText) blocks.push(...packLines(errorsText.split('\n'), 1).blocks);
  if (note) blocks.push(contextBlock(note));

  const text = truncate(
    [overview.map((line) => line.replace('\n', ': ')).join('\n'), joinWithin(policyLines, SLACK_LIMITS.textChars / 2, 'policies'), errorsText, note]
      .filter((part) => part !== '')
      .join('\n'),
    SLACK_LIMITS.textChars - 500,
  );
  return { kind: 'retention', priority: options.priority ?? (failed > 0 ? 'high' : 'low'), title, text, blocks };
}

function policyLine(policy: RetentionPolicySummary): string {
  const marker = policy.objects.failed + policy.requests.failed > 0 ? '⚠️' : '✅';
  return (
    `${marker} *${escapeMrkdwn(policy.policy)}* (${escapeMrkdwn(policy.action)}): objects ${counts(policy.objects)}; ` +
    `requests ${counts(policy.requests)}${policy.dropped === undefined ? '' : `, ${formatCount(policy.dropped)} duplicates dropped`}; ` +
    `${bytesChange(policy.bytesBefore, policy.bytesAfter)}`
  );
}

function counts(c: RetentionCounts): string {
  return `${formatCount(c.processed)} processed, ${formatCount(c.succeeded)} succeeded, ${formatCount(c.failed)} failed`;
}

function bytesChange(before: number, after: number): string {
  const change = before > 0 ? ` (${after <= before ? '−' : '+'}${Math.abs(Math.round((100 * (before - after)) / before))}%)` : '';
  return `${formatBytes(before)} → ${formatBytes(after)}${change}`;
}

function totals(policies: readonly RetentionPolicySummary[]): {
  objects: RetentionCounts;
  requests: RetentionCounts;
  bytesBefore: number;
  bytesAfter: number;
} {
  const zero = (): RetentionCounts => ({ processed: 0, succeeded: 0, failed: 0 });
  const out = { objects: zero(), requests: zero(), bytesBefore: 0, bytesAfter: 0 };
  for (const policy of policies) {
    for (const key of ['processed', 'succeeded', 'failed'] as const) {
      out.objects[key] += policy.objects[key];
      out.requests[key] += policy.requests[key];
    }
    out.bytesBefore += policy.bytesBefore;
    out.bytesAfter += policy.bytesAfter;
  }
  return out;
}

function plural(n: number, noun: string): string {
  return `${formatCount(n)} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * A retention run that failed as a whole. Its error can be a whole S3 or ClickHouse answer (XML, keys with `<` and
 * `>`): collapsed, cut to a readable length before escaping (no escape cut in half), and escaped, so Slack shows it as
 * text rather than links, and the header alone carries the title.
 */
export function retentionFailureNotification(message: string): Notification {
  return {
    kind: 'alert',
    priority: 'high',
    title: 'Retention run failed',
    text: escapeMrkdwn(truncate(message.replace(/\s+/g, ' ').trim(), FAILURE_MESSAGE_CHARS)),
    dedupKey: 'retention-run-failed',
  };
}

const FAILURE_MESSAGE_CHARS = 1_000;
