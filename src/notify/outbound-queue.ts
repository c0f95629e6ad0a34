// What waits to be posted, per webhook, within one global bound. When full, the least urgent and oldest
// notification goes first (it may be the one arriving), so a dead webhook costs memory that is capped, and
// critical alerts are the last thing lost.
import { priorityRank, type Notification } from './notifier.js';

export interface QueuedItem {
  notification: Notification;
  /** Notes for this notification alone (repeats suppressed by dedup). */
  notes: string[];
  enqueuedAtMs: number;
  /** Arrival order, across all webhooks. */
  seq: number;
}

interface Lanes {
  /** critical and high: posted as soon as the webhook is free, most urgent first. */
  urgent: QueuedItem[];
  /** low and medium: posted together as a digest. */
  batched: QueuedItem[];
}

export class OutboundQueue {
  private readonly lanes = new Map<string, Lanes>();
  private count = 0;
  private seq = 0;

  constructor(private readonly maxItems: number) {}

  get size(): number {
    return this.count;
  }

  /** Queues for `webhook`; returns the notification dropped to make room (possibly this one), or null. */
  add(webhook: string, notification: Notification, notes: string[], nowMs: number, urgent: boolean): QueuedItem | null {
    const item: QueuedItem = { notification, notes, enqueuedAtMs: nowMs, seq: this.seq++ };
    let dropped: QueuedItem | null = null;
    if (this.count >= this.maxItems) {
      const victim = this.leastValuable();
      if (!victim || compare(item, victim.item) < 0) return item;
      victim.list.splice(victim.index, 1);
      this.count -= 1;
      dropped = victim.item;
    }
    const lanes = this.lanesOf(webhook);
    (urgent ? lanes.urgent : lanes.batched).push(item);
    this.count += 1;
    return dropped;
  }

  /** The most urgent, then oldest, immediate notification for the webhook. */
  takeUrgent(webhook: string): QueuedItem | undefined {
    const urgent = this.lanes.get(webhook)?.urgent;
    if (!urgent || urgent.length === 0) return undefined;
    let best = 0;
    urgent.forEach((item, index) => {
      const current = urgent[best] as QueuedItem;
      if (priorityRank(item.notification.priority) > priorityRank(current.notification.priority)) best = index;
    });
    const [item] = urgent.splice(best, 1);
    this.count -= 1;
    return item;
  }

  /** Everything batched for the webhook, oldest first; give back what a digest could not hold with `putBack`. */
  takeBatched(webhook: string): QueuedItem[] {
    const lanes = this.lanes.get(webhook);
    if (!lanes) return [];
    const items = lanes.batched;
    lanes.batched = [];
    this.count -= items.length;
    return items;
  }

  putBack(webhook: string, items: readonly QueuedItem[]): void {
    if (items.length === 0) return;
    const lanes = this.lanesOf(webhook);
    lanes.batched = [...items, ...lanes.batched];
    this.count += items.length;
  }

  hasUrgent(webhook: string): boolean {
    return (this.lanes.get(webhook)?.urgent.length ?? 0) > 0;
  }

  hasBatched(webhook: string): boolean {
    return (this.lanes.get(webhook)?.batched.length ?? 0) > 0;
  }

  /** Empties the queue; returns how many notifications were in it. */
  clear(): number {
    const had = this.count;
    this.lanes.clear();
    this.count = 0;
    return had;
  }

  private lanesOf(webhook: string): Lanes {
    let lanes = this.lanes.get(webhook);
    if (!lanes) {
      lanes = { urgent: [], batched: [] };
      this.lanes.set(webhook, lanes);
    }
    return lanes;
  }

  private leastValuable(): { list: QueuedItem[]; index: number; item: QueuedItem } | undefined {
    let victim: { list: QueuedItem[]; index: number; item: QueuedItem } | undefined;
    for (const lanes of this.lanes.values()) {
      for (const list of [lanes.batched, lanes.urgent]) {
        list.forEach((item, index) => {
          if (!victim || compare(item, victim.item) < 0) victim = { list, index, item };
        });
      }
    }
    return victim;
  }
}

/** Negative when `a` is less valuable than `b`: lower priority, or the same priority and older. */
function compare(a: QueuedItem, b: QueuedItem): number {
  const byPriority = priorityRank(a.notification.priority) - priorityRank(b.notification.priority);
  return byPriority !== 0 ? byPriority : a.seq - b.seq;
}
