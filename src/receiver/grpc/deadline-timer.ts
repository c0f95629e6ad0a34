// A timer for a call's deadline (from grpc-timeout, which allows up to 99999999 hours). setTimeout cannot wait longer
// than 2^31-1 ms (~24.8 days): a longer delay fires after 1 ms instead, so a client's 30-day deadline ("2592000S",
// as grpc-go writes it) would end its call at once. Longer waits are taken in steps.
import { monotonicMs } from '../../util/monotonic.js';

/** setTimeout's longest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `fire` once `deadline`, on the monotonic clock (util/monotonic.ts), has passed (at once, asynchronously, when it already has). The timer
 * does not keep the process alive. Returns the function that cancels it.
 */
export function onDeadline(deadline: number, fire: () => void): () => void {
  let timer: NodeJS.Timeout | null = null;
  const arm = (): void => {
    const left = deadline - monotonicMs();
    timer = setTimeout(left > MAX_TIMER_MS ? arm : fire, Math.min(MAX_TIMER_MS, Math.max(0, left)));
    timer.unref();
  };
  arm();
  return () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
}
