// How many admitted request bodies are read at once. HTTP/2 shares a connection's bandwidth among the streams being
// read, so reading all admitted bodies together makes them arrive together — and then be scanned and spooled
// together, while nothing is received: throughput in waves. Reading a few at a time (the rest stay paused, held
// back by flow control, their room in the budget already theirs) lets each body arrive at full speed and be spooled
// while the next ones arrive, and only the bodies being read take memory. Connections take turns for free slots,
// as they do for room in the budget.
import { FairQueue } from '../../admission/fair-queue.js';

export class ReadSlots {
  private active = 0;
  private readonly queue = new FairQueue<() => void>();

  constructor(private readonly slots: number) {}

  /**
   * Resolves with the release function once a slot is free (FIFO per `key`, keys in turn); aborting takes the
   * request out of line.
   */
  acquire(key: object, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.active < this.slots) {
      this.active += 1;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const turn = (): void => {
        signal?.removeEventListener('abort', onAbort);
        this.active += 1;
        resolve(this.releaser());
      };
      const onAbort = (): void => {
        this.queue.remove(key, turn);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(key, turn);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active -= 1;
      this.queue.shift()?.();
    };
  }
}
