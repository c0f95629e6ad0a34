// `serve`'s operational alerts: on an interval, look at the server, notify while a condition holds (the
// notifier's dedup turns that into one message per window, with a repeat count) and once when it clears.
import os from 'node:os';
import type { Logger } from '../telemetry/logger.js';
import {
  ArchiverStalledRule,
  IndexLagRule,
  QuarantineRule,
  RejectionsRule,
  SpoolFillRule,
  UploadFailingRule,
  type AlertRule,
  type AlertSnapshot,
  type AlertThresholds,
  type Firing,
} from './alert-rules.js';
import { formatDuration } from '../util/human-units.js';
import { steadyEpochMs } from '../util/monotonic.js';
import { priorityRank, type Notification, type Notifier, type Priority } from './notifier.js';

export interface AlertSources {
  snapshot(nowMs: number): Promise<AlertSnapshot>;
}

export interface OperationalAlertsOptions extends AlertThresholds {
  intervalMs: number;
  /** Names this server in messages (several replicas may post to one channel). Default: the host name. */
  instance?: string;
}

interface Active {
  firing: Firing;
  /** On check()'s clock (monotonic by default), for how long it lasted. */
  sinceMs: number;
  /** Wall clock, for saying when it began. */
  beganAtMs: number;
  /** The most urgent priority this alert reached, where its all-clear goes. */
  topPriority: Priority;
}

export class OperationalAlerts {
  private readonly rules: AlertRule[];
  private readonly active = new Map<string, Active>();
  private readonly instance: string;
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<unknown> | null = null;

  constructor(
    private readonly options: OperationalAlertsOptions,
    private readonly deps: { notifier: Notifier; sources: AlertSources; logger: Logger },
  ) {
    this.instance = options.instance ?? os.hostname();
    this.rules = [
      new SpoolFillRule(options.spoolPercent),
      new UploadFailingRule(options.uploadFailingForMs),
      new IndexLagRule(options.indexLagMs),
      new RejectionsRule(options.rejectedPerInterval),
      new ArchiverStalledRule(),
      new QuarantineRule(),
    ];
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      // A slow check (a busy event loop) is skipped rather than stacked.
      if (this.checking) return;
      this.checking = this.check()
        .catch((error: unknown) => {
          this.deps.logger.warn({ reason: error instanceof Error ? error.message : String(error) }, 'operational alert check failed');
        })
        .finally(() => {
          this.checking = null;
        });
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.checking;
  }

  /**
   * One look at the server; returns the ids of the conditions that hold now. `nowMs` only measures how long
   * conditions last, so by default it is monotonic: a step of the wall clock must not make an alert fire an hour
   * early or late.
   */
  async check(nowMs: number = steadyEpochMs()): Promise<string[]> {
    const snapshot = await this.deps.sources.snapshot(nowMs);
    for (const rule of this.rules) {
      const firing = rule.evaluate(snapshot);
      const was = this.active.get(rule.id);
      if (firing) {
        if (!was) this.deps.logger.warn({ alert: rule.id, title: firing.title }, 'operational alert');
        const topPriority =
          was && priorityRank(was.topPriority) > priorityRank(firing.priority) ? was.topPriority : firing.priority;
        this.active.set(rule.id, { firing, sinceMs: was?.sinceMs ?? nowMs, beganAtMs: was?.beganAtMs ?? Date.now(), topPriority });
        this.deps.notifier.notify(this.alertNotification(rule, firing));
      } else if (was) {
        this.active.delete(rule.id);
        this.deps.logger.info({ alert: rule.id, lastedMs: nowMs - was.sinceMs }, 'operational alert resolved');
        this.deps.notifier.notify(this.resolvedNotification(rule, was, snapshot));
      }
    }
    return [...this.active.keys()];
  }

  private alertNotification(rule: AlertRule, firing: Firing): Notification {
    return {
      kind: 'alert',
      priority: firing.priority,
      title: `${firing.title} (${this.instance})`,
      text: `${firing.text}\n_otlp-capture on ${this.instance}; alert \`${rule.id}\`_`,
      dedupKey: this.dedupKey(rule),
    };
  }

  private resolvedNotification(rule: AlertRule, was: Active, snapshot: AlertSnapshot): Notification {
    return {
      kind: 'alert',
      // The alert's own priority, so the all-clear lands in the same channel just as promptly.
      priority: was.topPriority,
      title: `Resolved: ${was.firing.title} (${this.instance})`,
      text:
        `${rule.resolvedText(snapshot)} The alert began ${new Date(was.beganAtMs).toISOString()} and lasted ` +
        `${formatDuration(snapshot.nowMs - was.sinceMs)}.\n_otlp-capture on ${this.instance}; alert \`${rule.id}\`_`,
      dedupKey: this.dedupKey(rule),
      resolved: true,
    };
  }

  private dedupKey(rule: AlertRule): string {
    return `alert:${rule.id}:${this.instance}`;
  }
}
