// The notifier used when no webhook is configured: everything is accepted and counted as unrouted.
import { PRIORITIES, type Notification, type Notifier, type NotifierStats, type FlushResult, type Priority } from './notifier.js';

export class NoopNotifier implements Notifier {
  readonly enabled = false;
  private unrouted = 0;

  notify(_notification: Notification): void {
    this.unrouted += 1;
  }

  start(): void {}

  async flush(_deadlineMs: number): Promise<FlushResult> {
    return { sent: 0, failures: [], pending: 0 };
  }

  async close(): Promise<void> {}

  describeRoutes(): Record<Priority, string | null> {
    return Object.fromEntries(PRIORITIES.map((priority) => [priority, null])) as Record<Priority, string | null>;
  }

  stats(): NotifierStats {
    return { queued: 0, sentMessages: 0, sentNotifications: 0, failedMessages: 0, dropped: 0, suppressed: 0, unrouted: this.unrouted, lastError: null };
  }
}
