// The Notifier port: what the rest of otlp-capture (serve's alerts, retention, the CLI) uses to tell people things.
// Adapters (Slack; a no-op when nothing is configured) live beside it; callers never know which one they have.

export const PRIORITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Priority = (typeof PRIORITIES)[number];

export function isPriority(value: unknown): value is Priority {
  return typeof value === 'string' && (PRIORITIES as readonly string[]).includes(value);
}

/** Higher is more urgent: low 0 … critical 3. */
export function priorityRank(priority: Priority): number {
  return PRIORITIES.indexOf(priority);
}

export type NotificationKind = 'review' | 'retention' | 'alert' | 'test';

/**
 * Rich layout, in the shape of Slack Block Kit (the adapter we have) but only the few block types we use, so that
 * another adapter can render them too. `text` is always the complete message; blocks are a nicer view of it.
 */
export type MessageBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string; emoji?: boolean } }
  /** Slack needs `text`, `fields` or both. */
  | { type: 'section'; text?: { type: 'mrkdwn'; text: string }; fields?: { type: 'mrkdwn'; text: string }[] }
  | { type: 'context'; elements: { type: 'mrkdwn'; text: string }[] }
  | { type: 'divider' };

export interface Notification {
  kind: NotificationKind;
  priority: Priority;
  /** One line, plain text: the header and the digest entry. */
  title: string;
  /** The whole message in Slack mrkdwn (escape user text with escapeMrkdwn). Used where blocks are not shown. */
  text: string;
  blocks?: MessageBlock[];
  /**
   * Repeats with the same key inside the dedup window are not sent again; they are counted and the count is
   * mentioned in the next message with that key. A higher priority than the last one sent always goes out.
   */
  dedupKey?: string;
  /**
   * Marks the all-clear for `dedupKey`: it is sent once (repeats are dropped) and ends the key's window, so the
   * condition firing again is reported at once.
   */
  resolved?: boolean;
}

export interface DeliveryFailure {
  /** The webhook's route names and a redacted form of its URL, never the URL itself. */
  webhook: string;
  title: string;
  reason: string;
}

export interface FlushResult {
  /** Messages (a digest counts as one) the receiver accepted during this flush. */
  sent: number;
  /** Messages given up on during this flush, with the reason. */
  failures: DeliveryFailure[];
  /** Notifications still queued when the deadline came. */
  pending: number;
}

export interface NotifierStats {
  queued: number;
  sentMessages: number;
  sentNotifications: number;
  failedMessages: number;
  dropped: number;
  suppressed: number;
  /** Notifications whose priority no webhook takes. */
  unrouted: number;
  /** The most recent failed POST to any webhook (redacted), retried or not; null if none failed yet. */
  lastError: { webhook: string; reason: string } | null;
}

export interface Notifier {
  /** Queues a notification. Never blocks and never throws: a full queue drops the oldest least urgent one. */
  notify(notification: Notification): void;
  /** Starts delivery and the digest timer. Notifications given before start() wait for it. */
  start(): void;
  /**
   * Sends everything queued now, digests included, and waits until it is delivered or given up on, or until
   * `deadlineMs` (epoch ms). For a CLI that must know the outcome, and for a graceful stop.
   */
  flush(deadlineMs: number): Promise<FlushResult>;
  /** Stops timers and aborts requests in flight; what is still queued is abandoned (and logged). */
  close(): Promise<void>;
  /** True when at least one priority is routed somewhere. */
  readonly enabled: boolean;
  /** Where each priority goes, redacted, for logs and `notify test`. */
  describeRoutes(): Record<Priority, string | null>;
  stats(): NotifierStats;
}
