// The cap on expensive API calls: at most `limit` at once, the next refused at once (retryable), slots given back
// whether the work succeeds or fails.
import { WorkLimiter } from '../../src/api/work-limiter.js';
import { OverloadedError } from '../../src/errors.js';

test('refuses beyond the limit with a retryable error naming the key; frees the slot after success and failure', async () => {
  const limiter = new WorkLimiter('replays', 2, 'server.api.maxConcurrentReplays', 1500);
  const releases: (() => void)[] = [];
  const held = [0, 1].map(() => limiter.run(() => new Promise<string>((resolve) => releases.push(() => resolve('done')))));
  expect(limiter.active).toBe(2);
  const refused = await limiter.run(async () => 'ran').catch((error: unknown) => error);
  expect(refused).toBeInstanceOf(OverloadedError);
  expect((refused as OverloadedError).message).toBe('too many replays at once: at most 2 run at a time on this listener (server.api.maxConcurrentReplays); retry later');
  expect((refused as OverloadedError).retryAfterMs).toBe(1500);
  releases.forEach((release) => release());
  expect(await Promise.all(held)).toEqual(['done', 'done']);
  expect(limiter.active).toBe(0);
  await expect(limiter.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  expect(limiter.active).toBe(0);
  expect(await limiter.run(async () => 'again')).toBe('again');
});
