// The Slack adapter of the Notifier port (incoming webhooks). notify() only queues; one delivery loop per webhook
// posts, so a slow, rate-limited or dead webhook delays its own channel and nothing else, and never the caller.
import { Backoff, sleep } from '../archiver/backoff.js';
import type { Logger } from '../telemetry/logger.js';
import { Deduplicator } from './dedup.js';
import { buildDigest } from './digest.js';
import {
  PRIORITIES,
  priorityRank,
  type DeliveryFailure,
  type FlushResult,
  type Notification,
  type Notifier,
  type NotifierStats,
  type Priority,
} from './notifier.js';
import { OutboundQueue, type QueuedItem } from './outbound-queue.js';
import { notificationPayload, type SlackPayload } from './slack-format.js';
import { postToWebhook } from './slack-post.js';
import { routeWebhooks, type Webhook, type WebhookUrls } from './slack-routing.js';
import { monotonicMs } from '../util/monotonic.js';

export interface SlackNotifierOptions {
  webhooks: WebhookUrls;
  /** How often low and medium notifications are posted, as one digest per webhook. */
  digestIntervalMs: number;
  /** Repeats of a dedupKey within this long after one was sent are counted, not sent. */
  dedupWindowMs: number;
  /** Notifications queued at most, over all webhooks. */
  maxQueue: number;
  /** Per POST, until the answer's body is read. */
  timeoutMs: number;
  /** POSTs of one message before giving up on it (429s included). */
  maxAttempts: number;
  retryInitialBackoffMs: number;
  retryMaxBackoffMs: number;
}

interface WebhookState {
  webhook: Webhook;
  digestDue: boolean;
  /** The delivery loop, while it runs. */
  pumping: Promise<void> | null;
  /** Notifications in the message being posted. */
  inFlight: number;
  /**
   * Set by a 429: no request to this webhook before then. Monotonic (util/monotonic.ts): on the wall clock a
   * backward step would hold every post to the webhook for the length of the step.
   */
  notBeforeMs: number;
}

interface OutgoingMessage {
  title: string;
  notifications: number;
  payload: SlackPayload;
  /** Dropped notifications this message reports; reported again by a later message if this one fails. */
  reportsDropped: number;
}

interface FlushTracker {
  sent: number;
  failures: DeliveryFailure[];
}

const URGENT_RANK = priorityRank('high');

export class SlackNotifier implements Notifier {
  readonly enabled: boolean;
  private readonly logger: Logger;
  private readonly routes: Map<Priority, Webhook>;
  private readonly states = new Map<string, WebhookState>();
  private readonly queue: OutboundQueue;
  private readonly dedup: Deduplicator;
  private readonly closing = new AbortController();
  private readonly trackers = new Set<FlushTracker>();
  private idleWaiters: (() => void)[] = [];
  private digestTimer: NodeJS.Timeout | null = null;
  private started = false;
  private closed = false;
  private readonly counts = { sentMessages: 0, sentNotifications: 0, failedMessages: 0, dropped: 0, unrouted: 0 };
  /** Dropped notifications not yet mentioned in a delivered message. */
  private droppedUnreported = 0;
  /** One warning per episode of drops, not one per drop. */
  private dropEpisodeLogged = false;
  private lastError: { webhook: string; reason: string } | null = null;

  constructor(private readonly options: SlackNotifierOptions, deps: { logger: Logger }) {
    this.logger = deps.logger.child({ component: 'notify' });
    this.routes = routeWebhooks(options.webhooks);
    for (const webhook of this.routes.values()) {
      if (!this.states.has(webhook.url)) this.states.set(webhook.url, { webhook, digestDue: false, pumping: null, inFlight: 0, notBeforeMs: 0 });
    }
    this.enabled = this.routes.size > 0;
    this.queue = new OutboundQueue(options.maxQueue);
    this.dedup = new Deduplicator(options.dedupWindowMs);
  }

  notify(notification: Notification): void {
    try {
      if (this.closed) {
        this.counts.dropped += 1;
        return;
      }
      const webhook = this.routes.get(notification.priority);
      if (!webhook) {
        this.counts.unrouted += 1;
        return;
      }
      const nowMs = Date.now();
      const decision = this.dedup.check(notification, nowMs);
      if (!decision.send) return;
      const urgent = priorityRank(notification.priority) >= URGENT_RANK;
      const dropped = this.queue.add(webhook.url, notification, decision.notes, nowMs, urgent);
      if (dropped) this.onDropped(dropped);
      if (urgent) this.pump(webhook.url);
    } catch (error) {
      // The contract is "never throws": a caller on the ingest or retention path must not fail because of us.
      this.logger.warn({ reason: error instanceof Error ? error.message : String(error) }, 'notification could not be queued');
    }
  }

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    const routes = this.describeRoutes();
    const unrouted = PRIORITIES.filter((priority) => routes[priority] === null);
    this.logger.info(
      { routes, ...(unrouted.length > 0 ? { notSent: unrouted } : {}) },
      unrouted.length > 0
        ? `Slack notifications on; priorities without a webhook (${unrouted.join(', ')}) are not sent`
        : 'Slack notifications on',
    );
    this.digestTimer = setInterval(() => this.digestTick(), this.options.digestIntervalMs);
    this.digestTimer.unref();
    for (const url of this.states.keys()) this.pump(url);
  }

  async flush(deadlineMs: number): Promise<FlushResult> {
    const tracker: FlushTracker = { sent: 0, failures: [] };
    this.trackers.add(tracker);
    try {
      if (this.started && !this.closed) {
        for (const [url, state] of this.states) {
          if (this.queue.hasBatched(url)) state.digestDue = true;
          this.pump(url);
        }
        await this.idleOrDeadline(deadlineMs);
      }
      return { sent: tracker.sent, failures: tracker.failures, pending: this.pending() };
    } finally {
      this.trackers.delete(tracker);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.digestTimer) clearInterval(this.digestTimer);
    this.closing.abort();
    await Promise.all([...this.states.values()].map((state) => state.pumping));
    const abandoned = this.queue.clear();
    if (abandoned > 0) this.logger.warn({ abandoned }, 'notifier closed with notifications still queued; they are not sent');
    this.wakeIdleWaiters();
  }

  describeRoutes(): Record<Priority, string | null> {
    return Object.fromEntries(PRIORITIES.map((priority) => [priority, this.routes.get(priority)?.label ?? null])) as Record<
      Priority,
      string | null
    >;
  }

  stats(): NotifierStats {
    return { queued: this.queue.size, ...this.counts, suppressed: this.dedup.suppressed, lastError: this.lastError };
  }

  private digestTick(): void {
    for (const [url, state] of this.states) {
      if (!this.queue.hasBatched(url)) continue;
      state.digestDue = true;
      this.pump(url);
    }
  }

  private pump(url: string): void {
    const state = this.states.get(url);
    if (!state || state.pumping || !this.started || this.closed) return;
    state.pumping = this.deliverAll(state)
      .catch((error: unknown) => {
        this.logger.error({ webhook: state.webhook.label, reason: error instanceof Error ? error.message : String(error) }, 'notification delivery loop failed');
      })
      .finally(() => {
        state.pumping = null;
        // Something may have been queued between the loop's last look and now.
        if (this.hasWork(state)) this.pump(url);
        else this.wakeIdleWaiters();
      });
  }

  private hasWork(state: WebhookState): boolean {
    const url = state.webhook.url;
    return !this.closed && (this.queue.hasUrgent(url) || (state.digestDue && this.queue.hasBatched(url)));
  }

  private async deliverAll(state: WebhookState): Promise<void> {
    for (;;) {
      if (this.closed) return;
      const message = this.nextMessage(state);
      if (!message) return;
      state.inFlight = message.notifications;
      try {
        await this.deliver(state, message);
      } finally {
        state.inFlight = 0;
      }
    }
  }

  private nextMessage(state: WebhookState): OutgoingMessage | null {
    const url = state.webhook.url;
    const urgent = this.queue.takeUrgent(url);
    if (urgent) {
      const dropNote = this.takeDropNote();
      return {
        title: urgent.notification.title,
        notifications: 1,
        payload: notificationPayload(urgent.notification, [...urgent.notes, ...dropNote.notes]),
        reportsDropped: dropNote.count,
      };
    }
    if (!state.digestDue || !this.queue.hasBatched(url)) return null;
    const items = this.queue.takeBatched(url);
    const dropNote = this.takeDropNote();
    const { payload, included } = buildDigest(
      items.map((item: QueuedItem) => ({ notification: item.notification, notes: item.notes })),
      dropNote.notes,
    );
    this.queue.putBack(url, items.slice(included));
    // What did not fit waits for the next interval, unless someone is flushing.
    state.digestDue = this.trackers.size > 0 && included < items.length;
    return { title: `digest of ${included}`, notifications: included, payload, reportsDropped: dropNote.count };
  }

  /** Posts one message with retries; records the outcome. Never throws. */
  private async deliver(state: WebhookState, message: OutgoingMessage): Promise<void> {
    const { webhook } = state;
    const backoff = new Backoff(this.options.retryInitialBackoffMs, this.options.retryMaxBackoffMs);
    let payload = message.payload;
    let triedTextOnly = false;
    let lastReason = 'not attempted';
    for (let attempt = 1; attempt <= this.options.maxAttempts; attempt++) {
      const wait = state.notBeforeMs - monotonicMs();
      if (wait > 0) await sleep(wait, this.closing.signal);
      if (this.closed) return this.abandon(message);
      const outcome = await postToWebhook(webhook.url, payload, { timeoutMs: this.options.timeoutMs, signal: this.closing.signal });
      if (this.closed && outcome.kind !== 'ok') return this.abandon(message);
      if (outcome.kind !== 'ok') this.lastError = { webhook: webhook.label, reason: outcome.reason };
      switch (outcome.kind) {
        case 'ok':
          return this.delivered(webhook, message);
        case 'rejected':
          if (outcome.status === 400 && payload.blocks && !triedTextOnly) {
            // A layout Slack refuses (invalid_blocks) should not cost the message: its text says it all.
            this.logger.warn({ webhook: webhook.label, title: message.title, reason: outcome.reason }, 'Slack refused the message layout; sending it as text only');
            payload = { text: payload.text };
            triedTextOnly = true;
            attempt -= 1;
            continue;
          }
          return this.failed(webhook, message, outcome.reason, attempt);
        case 'rate-limited': {
          const waitMs = outcome.retryAfterMs ?? backoff.next();
          // The pause applies to the webhook, so it holds for the next message too if this one gives up.
          state.notBeforeMs = monotonicMs() + waitMs;
          lastReason = `${outcome.reason} (rate limited; Retry-After ${waitMs} ms)`;
          this.logger.info({ webhook: webhook.label, retryAfterMs: waitMs, attempt }, 'Slack rate limit: waiting as Retry-After says');
          break;
        }
        case 'retryable': {
          lastReason = outcome.reason;
          const delayMs = backoff.next();
          this.logger.info({ webhook: webhook.label, attempt, reason: outcome.reason, retryInMs: delayMs }, 'Slack post failed; retrying');
          if (attempt < this.options.maxAttempts) await sleep(delayMs, this.closing.signal);
          break;
        }
      }
    }
    return this.failed(webhook, message, lastReason, this.options.maxAttempts);
  }

  private delivered(webhook: Webhook, message: OutgoingMessage): void {
    this.counts.sentMessages += 1;
    this.counts.sentNotifications += message.notifications;
    for (const tracker of this.trackers) tracker.sent += 1;
    if (message.reportsDropped > 0) {
      this.logger.info({ webhook: webhook.label, dropped: message.reportsDropped }, 'notification queue recovered; the drops were reported in Slack');
      this.dropEpisodeLogged = false;
    }
  }

  private failed(webhook: Webhook, message: OutgoingMessage, reason: string, attempts: number): void {
    this.counts.failedMessages += 1;
    this.droppedUnreported += message.reportsDropped;
    for (const tracker of this.trackers) tracker.failures.push({ webhook: webhook.label, title: message.title, reason });
    this.logger.warn({ webhook: webhook.label, title: message.title, attempts, reason }, 'Slack did not accept a notification; giving up on it');
  }

  private abandon(message: OutgoingMessage): void {
    this.droppedUnreported += message.reportsDropped;
  }

  private onDropped(item: QueuedItem): void {
    this.counts.dropped += 1;
    this.droppedUnreported += 1;
    if (this.dropEpisodeLogged) return;
    this.dropEpisodeLogged = true;
    this.logger.warn(
      { maxQueue: this.options.maxQueue, droppedPriority: item.notification.priority, droppedTitle: item.notification.title },
      'notification queue full (Slack slow or unreachable): dropping the least urgent, oldest notifications and counting them',
    );
  }

  private takeDropNote(): { notes: string[]; count: number } {
    const count = this.droppedUnreported;
    this.droppedUnreported = 0;
    if (count === 0) return { notes: [], count };
    const what = count === 1 ? '1 notification was' : `${count} notifications were`;
    return { notes: [`${what} dropped because the notification queue was full (Slack slow or unreachable)`], count };
  }

  private pending(): number {
    let inFlight = 0;
    for (const state of this.states.values()) inFlight += state.inFlight;
    return this.queue.size + inFlight;
  }

  private isIdle(): boolean {
    if (this.closed) return true;
    for (const state of this.states.values()) if (state.pumping || this.hasWork(state)) return false;
    return true;
  }

  private idleOrDeadline(deadlineMs: number): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.idleWaiters = this.idleWaiters.filter((waiter) => waiter !== done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, deadlineMs - Date.now()));
      this.idleWaiters.push(done);
    });
  }

  private wakeIdleWaiters(): void {
    if (!this.isIdle()) return;
    for (const waiter of [...this.idleWaiters]) waiter();
  }
}
