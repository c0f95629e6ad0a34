// Deduplication of repeated notifications by `dedupKey`: within the window after one is sent, repeats are counted
// instead of sent, and the count rides along with the next message for that key.
import { priorityRank, type Notification } from './notifier.js';

export type DedupDecision = { send: false } | { send: true; notes: string[] };

interface KeyState {
  state: 'firing' | 'resolved';
  lastSentAtMs: number;
  lastRank: number;
  suppressed: number;
}

/** Keys remembered at most; the least recently sent are forgotten first (a forgotten key simply sends again). */
const MAX_KEYS = 10_000;

export class Deduplicator {
  private readonly keys = new Map<string, KeyState>();
  private suppressedTotal = 0;

  constructor(private readonly windowMs: number) {}

  get suppressed(): number {
    return this.suppressedTotal;
  }

  check(notification: Notification, nowMs: number): DedupDecision {
    const key = notification.dedupKey;
    if (key === undefined) return { send: true, notes: [] };
    const known = this.keys.get(key);
    const rank = priorityRank(notification.priority);
    if (notification.resolved) {
      if (known?.state === 'resolved') return this.suppress(known);
      this.remember(key, { state: 'resolved', lastSentAtMs: nowMs, lastRank: rank, suppressed: 0 });
      return { send: true, notes: repeatNote(known) };
    }
    const inWindow = known?.state === 'firing' && nowMs - known.lastSentAtMs < this.windowMs;
    if (known && inWindow && rank <= known.lastRank) return this.suppress(known);
    this.remember(key, { state: 'firing', lastSentAtMs: nowMs, lastRank: rank, suppressed: 0 });
    return { send: true, notes: known?.state === 'firing' ? repeatNote(known) : [] };
  }

  private suppress(known: KeyState): DedupDecision {
    known.suppressed += 1;
    this.suppressedTotal += 1;
    return { send: false };
  }

  private remember(key: string, state: KeyState): void {
    this.keys.delete(key);
    this.keys.set(key, state);
    if (this.keys.size > MAX_KEYS) {
      const oldest = this.keys.keys().next();
      if (!oldest.done) this.keys.delete(oldest.value);
    }
  }
}

function repeatNote(known: KeyState | undefined): string[] {
  if (!known || known.suppressed === 0) return [];
  const times = known.suppressed === 1 ? 'once more' : `${known.suppressed} more times`;
  return [`repeated ${times} since ${new Date(known.lastSentAtMs).toISOString()} (not sent again within the dedup window)`];
}
