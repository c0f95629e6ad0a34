// CaptureService.Tail: requests as this instance acknowledges them, streamed to the caller. Ingest never waits for a
// subscriber: the follower reads the spool on its own (tail-follower.ts), and what it finds goes into a bounded
// per-call buffer. When the caller reads slower than requests arrive (its HTTP/2 window is full and the buffer too),
// the oldest unsent requests are dropped and counted; the next event the caller gets says how many it missed.
import * as grpc from '@grpc/grpc-js';
import type { ArchivedRequest, RequestFilter } from '../model.js';
import type { TailObserver } from '../query/hot-tier-metrics.js';
import type { QueryService } from '../query/query-service.js';
import { readArchivedRequest } from '../query/read-archived.js';
import type { SpoolHotTier } from '../query/spool-hot-tier.js';
import { tailRequests } from '../query/tail-follower.js';
import { isTieredIndex } from '../query/tiered-index.js';
import { toGrpcError } from '../grpc/grpc-errors.js';
import type { Logger } from '../telemetry/logger.js';
import { timestampNs, type Timestamp } from './timestamp-field.js';

export const DEFAULT_TAIL_BUFFER = 1000;

export interface TailRequest {
  signal?: string | number;
  service?: string;
  tenant?: string;
  since?: Timestamp | null;
  withPayload?: boolean;
}

export interface TailDeps {
  query: QueryService;
  hot: SpoolHotTier;
  callerTenant(metadata: grpc.Metadata, asked: string | undefined): string | undefined;
  toMessage(request: ArchivedRequest): Record<string, unknown>;
  toFilter(request: { signal?: string | number; service?: string }): RequestFilter;
  /** Requests held for one caller at most (server.api.tailBuffer). */
  bufferRequests: number;
  pollMs?: number;
  observer?: TailObserver;
  logger: Logger;
}

export function tailHandler(deps: TailDeps): grpc.handleServerStreamingCall<TailRequest, unknown> {
  return (call) => {
    let filter: RequestFilter;
    let sinceMs: number | undefined;
    try {
      const tenant = deps.callerTenant(call.metadata, call.request.tenant);
      filter = deps.toFilter({ signal: call.request.signal ?? 'SIGNAL_UNSPECIFIED', service: call.request.service ?? '' });
      if (tenant !== undefined) filter.tenant = tenant;
      const since = call.request.since;
      sinceMs = since ? Number(timestampNs(since, 'since') / 1_000_000n) : undefined;
    } catch (error) {
      const mapped = toGrpcError(error, 1000);
      if (mapped.unexpected) deps.logger.error({ err: error, ref: mapped.ref }, 'Tail call refused');
      call.emit('error', mapped.status);
      return;
    }
    void new TailCall(call, deps, filter, sinceMs).run();
  };
}

class TailCall {
  private readonly abort = new AbortController();
  private readonly buffer: ArchivedRequest[] = [];
  private missed = 0;
  private wake: (() => void) | null = null;

  constructor(
    private readonly call: grpc.ServerWritableStream<TailRequest, unknown>,
    private readonly deps: TailDeps,
    private readonly filter: RequestFilter,
    private readonly sinceMs: number | undefined,
  ) {
    const stop = (): void => {
      this.abort.abort();
      this.notify();
    };
    call.on('cancelled', stop);
    call.on('close', stop);
    call.on('error', stop);
  }

  async run(): Promise<void> {
    this.deps.observer?.subscribed();
    try {
      await Promise.all([this.follow(), this.send()]);
    } catch (error) {
      this.abort.abort();
      this.notify();
      const mapped = toGrpcError(error, 1000);
      if (mapped.unexpected) this.deps.logger.error({ err: error, ref: mapped.ref }, 'Tail call failed');
      if (!this.call.cancelled) this.call.emit('error', mapped.status);
      return;
    } finally {
      this.deps.observer?.unsubscribed();
    }
    if (!this.call.cancelled) this.call.end();
  }

  private async follow(): Promise<void> {
    const index = this.deps.query.index;
    const archive = isTieredIndex(index) ? index.archive : index;
    const requests = tailRequests(this.deps.hot, archive, {
      selection: this.filter,
      ...(this.sinceMs === undefined ? {} : { sinceMs: this.sinceMs }),
      ...(this.deps.pollMs === undefined ? {} : { pollMs: this.deps.pollMs }),
      abort: this.abort.signal,
    });
    for await (const request of requests) {
      if (this.abort.signal.aborted) break;
      if (this.buffer.length >= this.deps.bufferRequests) {
        this.buffer.shift();
        this.missed += 1;
        this.deps.observer?.missed(1);
      }
      this.buffer.push(request);
      this.notify();
    }
  }

  private async send(): Promise<void> {
    while (!this.abort.signal.aborted) {
      const request = this.buffer.shift();
      if (request === undefined) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      if (this.missed > 0) {
        const missed = this.missed;
        this.missed = 0;
        await this.write({ missed: String(missed) });
      }
      const event: Record<string, unknown> = { request: this.deps.toMessage(request) };
      if (this.wantsPayload()) {
        try {
          event.payload = await readArchivedRequest(this.deps.query.index, this.deps.query.blobs, request);
        } catch (error) {
          // Quarantined or unreadable: the summary still goes out; the caller can `get` it for the reason.
          this.deps.logger.warn({ err: error, request: request.id }, 'Tail: a request could not be read');
        }
      }
      await this.write(event);
    }
  }

  private wantsPayload(): boolean {
    return this.call.request.withPayload === true;
  }

  /** Waits while the caller's window is full (the buffer fills meanwhile, and drops its oldest when full). */
  private async write(event: Record<string, unknown>): Promise<void> {
    if (this.abort.signal.aborted) return;
    if (this.call.write(event)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.call.off('drain', done);
        this.abort.signal.removeEventListener('abort', done);
        resolve();
      };
      this.call.once('drain', done);
      this.abort.signal.addEventListener('abort', done, { once: true });
    });
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
