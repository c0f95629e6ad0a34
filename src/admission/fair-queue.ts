// A FIFO per key (one per client connection), served round-robin across keys: a connection with a hundred queued
// requests gets one turn, then the next connection gets one. So a client that floods its connection with streams
// delays an honest connection by at most one request per turn, not by its whole backlog.

export class FairQueue<T> {
  private readonly queues = new Map<object, T[]>();
  /** Keys with queued items, in turn order; `turn` indexes the one served next. */
  private readonly ring: object[] = [];
  private turn = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Whether `key` has anything queued. */
  has(key: object): boolean {
    return this.queues.has(key);
  }

  push(key: object, item: T): void {
    let queue = this.queues.get(key);
    if (queue === undefined) {
      queue = [];
      this.queues.set(key, queue);
      // A new key joins just before the one whose turn it is: it waits a full round, as if it had been there.
      this.ring.splice(this.turn, 0, key);
      this.turn += 1;
      if (this.turn >= this.ring.length) this.turn = 0;
    }
    queue.push(item);
    this.count += 1;
  }

  /** The item served next, without taking it. */
  peek(): T | undefined {
    const key = this.ring[this.turn];
    return key === undefined ? undefined : this.queues.get(key)?.[0];
  }

  /** Takes the item peek() shows and passes the turn to the next key. */
  shift(): T | undefined {
    const key = this.ring[this.turn];
    if (key === undefined) return undefined;
    const queue = this.queues.get(key)!;
    const item = queue.shift();
    this.count -= 1;
    if (queue.length === 0) {
      this.dropKey(this.turn);
    } else {
      this.turn = (this.turn + 1) % this.ring.length;
    }
    return item;
  }

  /** Takes `item` out wherever it is (a waiter that gave up); false when it is not queued. */
  remove(key: object, item: T): boolean {
    const queue = this.queues.get(key);
    const at = queue?.indexOf(item) ?? -1;
    if (queue === undefined || at < 0) return false;
    queue.splice(at, 1);
    this.count -= 1;
    if (queue.length === 0) this.dropKey(this.ring.indexOf(key));
    return true;
  }

  /** Empties the queue, returning every item in no particular order. */
  clear(): T[] {
    const all = [...this.queues.values()].flat();
    this.queues.clear();
    this.ring.length = 0;
    this.turn = 0;
    this.count = 0;
    return all;
  }

  private dropKey(index: number): void {
    const key = this.ring[index];
    if (key === undefined) return;
    this.queues.delete(key);
    this.ring.splice(index, 1);
    // The key after the removed one moved into its index: it is next when the turn was there or later.
    if (index < this.turn) this.turn -= 1;
    if (this.turn >= this.ring.length) this.turn = 0;
  }
}
