// For one-shot commands (`notify test`, `retention run` as a CronJob): post notifications and wait for the verdict
// before the process exits. A process that exits right after notify() would lose what is still queued.
import type { FlushResult, Notification, Notifier } from './notifier.js';

/** Starts the notifier, posts, waits until delivered, given up on, or `timeoutMs`; then closes the notifier. */
export async function deliverOnce(notifier: Notifier, notifications: readonly Notification[], timeoutMs: number): Promise<FlushResult> {
  notifier.start();
  try {
    for (const notification of notifications) notifier.notify(notification);
    return await notifier.flush(Date.now() + timeoutMs);
  } finally {
    await notifier.close();
  }
}
