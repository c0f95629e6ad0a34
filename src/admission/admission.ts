// Admission decides, before any work, whether a request may enter the data path: budget and spool room.
// Refusals are OverloadedError (retryable, with a delay hint) so clients back off instead of dropping data.
//
// Two ways in. OTLP/HTTP asks at once (beginReceive, then admit with the real size) and is refused when the budget
// is full. OTLP/gRPC waits: HTTP/2 lets a request sit at its headers with its body held back by flow control, so
// waitForRoom queues it (FIFO per connection, connections served in turn) until the budget has room for its size,
// and refuses only when the waiting room is full or the wait is over. A storm of retries then queues instead of
// churning through refusals, and a flooded connection cannot push an honest one to the back.
import { OverloadedError } from '../errors.js';
import type { BudgetLease, ResizableLease } from './budget.js';
import { ByteBudget } from './budget.js';
import { FairQueue } from './fair-queue.js';
import { monotonicMs } from '../util/monotonic.js';

export interface AdmissionOptions {
  maxInFlightBytes: number;
  retryAfterMs: number;
  /** Whether the spool can take this many more bytes. */
  spoolHasRoomFor: (bytes: number) => boolean;
  /** Waiting room: the sizes of queued requests add up to at most this (default maxInFlightBytes). */
  maxQueuedBytes?: number | undefined;
  /** Waiting room: at most this many queued requests (default 256). */
  maxQueuedRequests?: number | undefined;
  /** Told how long each request that had to wait waited before its turn came. */
  onWaited?: ((ms: number) => void) | undefined;
}

export interface WaitOptions {
  /** Who is asking (a client connection): waiters are served FIFO per key and round-robin across keys. */
  queue: object;
  /** Longest the request may wait for room; 0 refuses at once when there is none. */
  maxWaitMs: number;
  /** Aborting (the client went away) takes the request out of the queue; the promise then rejects with its reason. */
  signal?: AbortSignal | undefined;
}

const DEFAULT_MAX_QUEUED_REQUESTS = 256;

interface Waiter {
  bytes: number;
  since: number;
  grant(lease: ResizableLease): void;
  refuse(error: unknown): void;
}

/**
 * Size assumed for a body not yet read, until the first admitted request tells the real size. Deliberately large
 * (gRPC's customary 4 MiB message limit, about a Collector batch): with a small guess, the burst of connections at
 * start-up was let in all at once (128 clients × 1 MiB against a 64 MiB budget: ~250 MiB of bodies and their
 * receive buffers), which set the process's peak memory. Too large a guess only slows that first burst.
 */
const INITIAL_EXPECTED_BYTES = 4 * 1024 * 1024;

export class Admission {
  private readonly budget: ByteBudget;
  /** Bodies being read right now (admitted at their headers, not yet admitted by size). */
  private receiving = 0;
  /** Moving average of admitted request sizes: what a body still on its way is expected to weigh. */
  private expectedBytes = INITIAL_EXPECTED_BYTES;
  private sizeSeen = false;

  /** noteReceiving(): bodies awaited by requests whose room waitForRoom decides (not part of beginReceive's guess). */
  private receivingElsewhere = 0;
  private readonly waiting = new FairQueue<Waiter>();
  private queuedBytes = 0;
  /** Requests that found the waiting room full, held until their wait is over and then refused. */
  private readonly held = new Set<{ refuse(error: unknown): void }>();
  private readonly maxQueuedBytes: number;
  private readonly maxQueuedRequests: number;

  constructor(private readonly options: AdmissionOptions) {
    this.budget = new ByteBudget(options.maxInFlightBytes);
    this.maxQueuedBytes = options.maxQueuedBytes ?? options.maxInFlightBytes;
    this.maxQueuedRequests = options.maxQueuedRequests ?? DEFAULT_MAX_QUEUED_REQUESTS;
  }

  /**
   * Room in the budget for a request of `bytes` whose body has not been read: now, or when its turn comes within
   * `maxWaitMs`. The lease starts at `bytes`; resize it to what the request really holds (it may exceed the guess).
   * @throws OverloadedError at once when the spool is full; after maxWaitMs when there was no room by then or no
   * place in the waiting room (at once when too many are already held that way).
   */
  waitForRoom(bytes: number, options: WaitOptions): Promise<ResizableLease> {
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    if (!this.options.spoolHasRoomFor(bytes)) return Promise.reject(this.spoolFull());
    this.observeSize(bytes);
    if (this.waiting.size === 0 && this.fits(bytes)) return Promise.resolve(this.grant(bytes));
    if (options.maxWaitMs <= 0) return Promise.reject(this.overBudget());
    // A connection with nothing waiting gets a place even in a full room (up to twice its limits), so a flood of
    // streams on one connection cannot lock every other client out of the waiting room.
    const slack = this.waiting.has(options.queue) ? 1 : 2;
    if (this.waiting.size >= slack * this.maxQueuedRequests || this.queuedBytes + bytes > slack * this.maxQueuedBytes) {
      return this.refuseWhenWaitIsOver(options);
    }
    return new Promise<ResizableLease>((resolve, reject) => {
      const { signal, queue } = options;
      let timer: NodeJS.Timeout | null = null;
      const leave = (): boolean => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (!this.waiting.remove(queue, waiter)) return false;
        this.queuedBytes -= bytes;
        return true;
      };
      const onAbort = (): void => {
        if (leave()) {
          reject(signal?.reason);
          this.drain();
        }
      };
      const waiter: Waiter = {
        bytes,
        since: monotonicMs(),
        grant: (lease) => {
          if (timer) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(lease);
        },
        refuse: (error) => {
          if (timer) clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      timer = setTimeout(() => {
        if (leave()) {
          reject(this.overBudget(`: no room within ${options.maxWaitMs} ms`));
          this.drain();
        }
      }, options.maxWaitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(queue, waiter);
      this.queuedBytes += bytes;
    });
  }

  /**
   * No place in the waiting room: refused — but only when its wait is over, not at once. A client that retries at
   * once (ignoring RetryInfo) then comes back once per wait instead of turning each refusal straight into another
   * request; one that honours RetryInfo just hears it later. Only when too many are held like this is the answer
   * immediate.
   */
  private refuseWhenWaitIsOver(options: WaitOptions): Promise<never> {
    const refusal = this.overBudget(' and the waiting room is full');
    if (this.held.size >= this.maxQueuedRequests) return Promise.reject(refusal);
    return new Promise<never>((_resolve, reject) => {
      const { signal } = options;
      const done = (error: unknown): void => {
        if (!this.held.delete(entry)) return;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        reject(error);
      };
      const onAbort = (): void => done(signal?.reason);
      const entry = { refuse: done };
      const timer = setTimeout(() => done(refusal), options.maxWaitMs);
      this.held.add(entry);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Refuses every queued request with `error` (shutdown: nothing new is admitted). */
  refuseWaiting(error: unknown): void {
    for (const waiter of this.waiting.clear()) waiter.refuse(error);
    this.queuedBytes = 0;
    for (const entry of [...this.held]) entry.refuse(error);
  }

  /** Requests waiting for room and the bytes they will need; requests held to be refused when their wait is over. */
  get queued(): { requests: number; bytes: number; held: number } {
    return { requests: this.waiting.size, bytes: this.queuedBytes, held: this.held.size };
  }

  private fits(bytes: number): boolean {
    return this.budget.inUse === 0 || this.budget.inUse + bytes <= this.options.maxInFlightBytes;
  }

  /** Admits waiters in turn while the one whose turn it is fits (strictly: a large request is not overtaken). */
  private drain(): void {
    for (let next = this.waiting.peek(); next !== undefined && this.fits(next.bytes); next = this.waiting.peek()) {
      this.waiting.shift();
      this.queuedBytes -= next.bytes;
      this.options.onWaited?.(monotonicMs() - next.since);
      next.grant(this.grant(next.bytes));
    }
  }

  /** A lease whose release (or shrinking) lets waiters in. */
  private grant(bytes: number): ResizableLease {
    const lease = this.budget.reserve(bytes);
    return {
      get bytes() {
        return lease.bytes;
      },
      resize: (next: number) => {
        const shrinking = next < lease.bytes;
        lease.resize(next);
        if (shrinking) this.drain();
      },
      release: () => {
        lease.release();
        this.drain();
      },
    };
  }

  private observeSize(bytes: number): void {
    this.expectedBytes = this.sizeSeen ? Math.round(0.9 * this.expectedBytes + 0.1 * bytes) : bytes;
    this.sizeSeen = true;
  }

  /**
   * At a request's headers, before its body is read into memory: refuses when the bodies already in flight or on
   * their way would overrun the budget, so an overloaded server does not first buffer what it is about to refuse.
   * Returns the function that ends the reservation (call it when the body has arrived or the call ended).
   */
  beginReceive(): () => void {
    // Requests queued at their headers (gRPC) come first: their room is spoken for.
    const expected = (this.receiving + 1) * this.expectedBytes + this.queuedBytes;
    const busy = this.receiving > 0 || this.budget.inUse > 0;
    if (!this.options.spoolHasRoomFor(this.spoolExpectedBytes())) throw this.spoolFull();
    if (busy && this.budget.inUse + expected > this.options.maxInFlightBytes) throw this.overBudget();
    this.receiving += 1;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.receiving -= 1;
    };
  }

  /** @throws OverloadedError (spool_full) when a request of typical size would be refused for lack of spool room. */
  assertSpoolRoom(): void {
    if (this.spoolRefusing()) throw this.spoolFull();
  }

  /** True when a request of typical size would be refused for lack of spool room. */
  spoolRefusing(): boolean {
    return !this.options.spoolHasRoomFor(this.spoolExpectedBytes());
  }

  /**
   * The start-up guess is for pacing memory only: a small spool must not refuse (or report not ready) before any
   * request was seen. admit() checks the real size against the spool anyway.
   */
  private spoolExpectedBytes(): number {
    return this.sizeSeen ? this.expectedBytes : 0;
  }

  /** `heldBytes`: what this request already holds of the budget (see hold()). */
  admit(bytes: number, heldBytes = 0): BudgetLease {
    // The first real size replaces the guess outright; later ones move the average.
    this.observeSize(bytes);
    if (!this.options.spoolHasRoomFor(bytes)) throw this.spoolFull();
    const lease = this.budget.tryAcquire(bytes, heldBytes);
    if (lease === null) throw this.overBudget();
    return this.drainingOnRelease(lease);
  }

  /**
   * Takes `bytes` of the budget for work on a request before it is a request of known size (OTLP JSON to be parsed),
   * refusing when they do not fit — before the work is done. Not counted as a request: the size estimate and the
   * spool check are admit()'s, which the request then passes with `heldBytes` = these bytes.
   */
  hold(bytes: number): BudgetLease {
    const lease = this.budget.tryAcquire(bytes);
    if (lease === null) throw this.overBudget();
    return this.drainingOnRelease(lease);
  }

  /** Room given back lets waiting requests in. */
  private drainingOnRelease(lease: BudgetLease): BudgetLease {
    return {
      release: () => {
        lease.release();
        this.drain();
      },
    };
  }

  private spoolFull(): OverloadedError {
    return new OverloadedError(
      'spool is full: archiving is behind (is the blob store or index reachable?); retry later',
      this.options.retryAfterMs,
      'spool_full',
    );
  }

  private overBudget(why = ''): OverloadedError {
    return new OverloadedError(
      `too many bytes in flight (budget ${this.options.maxInFlightBytes} bytes)${why}; retry later`,
      this.options.retryAfterMs,
      'over_budget',
    );
  }

  get inFlightBytes(): number {
    return this.budget.inUse;
  }

  /**
   * Counts a request that was let in at its headers and whose body is awaited or arriving, but whose room is decided
   * apart from beginReceive (OTLP/gRPC: waitForRoom at its first 5 bytes). Returns the function that ends it.
   */
  noteReceiving(): () => void {
    this.receivingElsewhere += 1;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.receivingElsewhere -= 1;
    };
  }

  /** Requests let in at their headers whose body is still being received. */
  get receivingRequests(): number {
    return this.receiving + this.receivingElsewhere;
  }
}
