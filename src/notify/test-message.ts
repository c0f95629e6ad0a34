// The message `otlp-capture notify test` posts, to prove a webhook works and show where a priority goes.
import os from 'node:os';
import type { Notification, Priority } from './notifier.js';

export function testNotification(priority: Priority, route: string, nowMs: number = Date.now()): Notification {
  return {
    kind: 'test',
    priority,
    title: `otlp-capture test notification (${priority})`,
    text:
      `If you can read this, otlp-capture on ${os.hostname()} can post here. ` +
      `Notifications of priority *${priority}* go to webhook ${route}.\n_Sent ${new Date(nowMs).toISOString()}._`,
  };
}
