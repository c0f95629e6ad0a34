// `otlp-capture notify test|review`: post to the configured Slack webhooks and say whether Slack accepted it.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { loadConfig, type ResolvedConfig } from '../../config/load.js';
import { durationHint, parseDuration } from '../../config/units.js';
import { BackendUnavailableError, ConfigError } from '../../errors.js';
import { formatDuration } from '../../util/human-units.js';
import { isPriority, PRIORITIES, type Notification, type Priority } from '../../notify/notifier.js';
import { reportAndExit, UsageError } from '../exit.js';

interface NotifyOptions {
  config?: string;
  priority?: string;
  timeout: string;
}

interface ReviewOptions extends NotifyOptions {
  dryRun?: boolean;
}

export function registerNotify(program: Command): void {
  const notify = program.command('notify').description('post to Slack: a test message, or a code review report');
  withCommonOptions(
    notify
      .command('test')
      .description('send a test message; exit 0 once Slack accepted it')
      .option('-p, --priority <priority>', `${PRIORITIES.join(', ')}: which webhook to test`, 'high'),
  ).action(async (options: NotifyOptions) => {
    try {
      const config = configOf(options);
      const priority = priorityOf(options.priority) ?? 'high';
      const { testNotification } = await import('../../notify/test-message.js');
      await send(config, (route) => testNotification(priority, route), priority, timeoutOf(options));
    } catch (error) {
      reportAndExit(error);
    }
  });
  withCommonOptions(
    notify
      .command('review')
      .description('post a review report (JSON: timestamp, filesAnalyzed, linesOfCode, severity, issues[], recommendations[])')
      .argument('<file>', 'the report, or - for standard input')
      .option('-p, --priority <priority>', `${PRIORITIES.join(', ')} (default: from the report's severity)`)
      .option('--dry-run', 'validate and print the Slack message (JSON) instead of sending it'),
  ).action(async (file: string, options: ReviewOptions) => {
    try {
      const priority = priorityOf(options.priority);
      const timeoutMs = timeoutOf(options);
      // The notify modules load only for this command, so the other commands start faster.
      const [{ parseReviewReport }, { reviewNotification }, { notificationPayload }] = await Promise.all([
        import('../../notify/review-report.js'),
        import('../../notify/review-format.js'),
        import('../../notify/slack-format.js'),
      ]);
      const report = parseReviewReport(await readInput(file), file === '-' ? 'standard input' : file);
      const notification = reviewNotification(report, priority ? { priority } : {});
      if (options.dryRun) {
        process.stdout.write(`${JSON.stringify({ priority: notification.priority, ...notificationPayload(notification) }, null, 2)}\n`);
        return;
      }
      await send(configOf(options), () => notification, notification.priority, timeoutMs);
    } catch (error) {
      reportAndExit(error);
    }
  });
}

function withCommonOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'YAML configuration file (same as serve); SLACK_WEBHOOK_URL sets the default webhook')
    .option('--timeout <duration>', 'give up when Slack has not accepted the message by then (retries and Retry-After included)', '60s');
}

function configOf(options: NotifyOptions): ResolvedConfig {
  return loadConfig(options.config ? { file: options.config } : {});
}

function priorityOf(value: string | undefined): Priority | undefined {
  if (value === undefined) return undefined;
  if (!isPriority(value)) throw new UsageError(`--priority must be one of ${PRIORITIES.join(', ')}, not ${JSON.stringify(value)}`);
  return value;
}

function timeoutOf(options: NotifyOptions): number {
  const ms = parseDuration(options.timeout);
  if (ms === null || ms <= 0) throw new UsageError(`--timeout must be a duration such as 30s or 2m, not ${JSON.stringify(options.timeout)}${durationHint(options.timeout)}`);
  return ms;
}

async function readInput(file: string): Promise<string> {
  try {
    if (file !== '-') return await readFile(file, 'utf8');
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

/** Posts one notification through the configured notifier and waits for Slack's verdict. */
async function send(config: ResolvedConfig, build: (route: string) => Notification, priority: Priority, timeoutMs: number): Promise<void> {
  // Quiet unless asked: the command's own last line says what happened; retries and rate limits show at debug.
  const level = ['debug', 'trace', 'silent'].includes(config.log.level) ? config.log.level : 'error';
  const [{ createNotifier }, { deliverOnce }, { createLogger }] = await Promise.all([
    import('../../app/components.js'),
    import('../../notify/deliver-once.js'),
    import('../../telemetry/logger.js'),
  ]);
  const notifier = createNotifier(config, createLogger(level, 'stderr'));
  if (!notifier.enabled) {
    throw new ConfigError('no Slack webhook configured: set SLACK_WEBHOOK_URL, or notify.slack.webhooks.default in the --config file');
  }
  const route = notifier.describeRoutes()[priority];
  if (route === null) {
    throw new ConfigError(`no webhook for priority ${priority}: set notify.slack.webhooks.${priority} or notify.slack.webhooks.default`);
  }
  const notification = build(route);
  const result = await deliverOnce(notifier, [notification], timeoutMs);
  const failure = result.failures[0];
  if (failure) throw new BackendUnavailableError(`Slack did not accept the message (webhook ${failure.webhook}): ${failure.reason}`);
  if (result.sent === 0) {
    const last = notifier.stats().lastError;
    throw new BackendUnavailableError(
      `Slack did not accept the message within ${formatDuration(timeoutMs)} (webhook ${route})${last ? `; last attempt: ${last.reason}` : ''}`,
    );
  }
  process.stdout.write(`sent "${notification.title}" (priority ${priority}) to webhook ${route}\n`);
}
