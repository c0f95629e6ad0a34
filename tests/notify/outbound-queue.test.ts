// The bounded queue: a full queue drops the least urgent, oldest notification first — possibly the newcomer.
import type { Notification, Priority } from '../../src/notify/notifier.js';
import { OutboundQueue } from '../../src/notify/outbound-queue.js';

const n = (title: string, priority: Priority): Notification => ({ kind: 'alert', priority, title, text: '' });
const URGENT = (priority: Priority): boolean => priority === 'high' || priority === 'critical';

function add(queue: OutboundQueue, webhook: string, title: string, priority: Priority): string | null {
  return queue.add(webhook, n(title, priority), [], 0, URGENT(priority))?.notification.title ?? null;
}

test('never holds more than its bound; drops lowest priority, oldest first, across webhooks', () => {
  const queue = new OutboundQueue(3);
  expect(add(queue, 'a', 'low-1', 'low')).toBeNull();
  expect(add(queue, 'b', 'medium-1', 'medium')).toBeNull();
  expect(add(queue, 'a', 'low-2', 'low')).toBeNull();
  expect(add(queue, 'b', 'critical-1', 'critical')).toBe('low-1');
  expect(add(queue, 'a', 'high-1', 'high')).toBe('low-2');
  expect(add(queue, 'a', 'medium-2', 'medium')).toBe('medium-1');
  expect(queue.size).toBe(3);
  // Nothing less urgent than the newcomer: the newcomer is the one dropped.
  expect(add(queue, 'a', 'low-3', 'low')).toBe('low-3');
  expect(queue.size).toBe(3);
});

test('urgent items come out most urgent first; batched ones come out together and can be put back in order', () => {
  const queue = new OutboundQueue(10);
  add(queue, 'a', 'high-1', 'high');
  add(queue, 'a', 'critical-1', 'critical');
  add(queue, 'a', 'high-2', 'high');
  add(queue, 'a', 'low-1', 'low');
  add(queue, 'a', 'medium-1', 'medium');
  expect([1, 2, 3].map(() => queue.takeUrgent('a')?.notification.title)).toEqual(['critical-1', 'high-1', 'high-2']);
  expect(queue.takeUrgent('a')).toBeUndefined();
  const batch = queue.takeBatched('a');
  expect(batch.map((item) => item.notification.title)).toEqual(['low-1', 'medium-1']);
  expect(queue.size).toBe(0);
  add(queue, 'a', 'low-2', 'low');
  queue.putBack('a', batch.slice(1));
  expect(queue.takeBatched('a').map((item) => item.notification.title)).toEqual(['medium-1', 'low-2']);
});
