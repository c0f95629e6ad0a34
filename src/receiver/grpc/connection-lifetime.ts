// The life of one client connection: keepalive pings that find dead peers, GOAWAY after a while without calls
// (max connection idle) or at a fixed age (max connection age, so clients behind a load balancer spread out again),
// with a grace period for the calls still running, and the same graceful retirement at shutdown.
import http2 from 'node:http2';
import type { Logger } from '../../telemetry/logger.js';
import type { Http2ListenerLimits } from '../../transport/http2-limits.js';
import { onDeadline } from './deadline-timer.js';
import { monotonicMs } from '../../util/monotonic.js';

/** The limits this class applies (src/transport/http2-limits.ts); durations in ms, 0 turns one off. */
export type ConnectionLimits = Pick<
  Http2ListenerLimits,
  'keepaliveTimeMs' | 'keepaliveTimeoutMs' | 'maxConnectionIdleMs' | 'maxConnectionAgeMs' | 'maxConnectionAgeGraceMs'
>;

/** The highest stream id: a GOAWAY carrying it says "stop opening streams" without refusing any already sent. */
const MAX_STREAM_ID = 2 ** 31 - 1;
/** How long the two-step GOAWAY waits for the client's ping answer before naming the last stream taken. */
const GOAWAY_PING_WAIT_MS = 1000;

export class ConnectionLifetime {
  private openStreams = 0;
  /** Pending timers, as the functions that cancel them. */
  private readonly timers = new Set<() => void>();
  private idleTimer: (() => void) | null = null;
  private retiring = false;

  constructor(
    private readonly session: http2.ServerHttp2Session,
    private readonly limits: ConnectionLimits,
    private readonly logger: Logger,
  ) {
    session.once('close', () => this.dispose());
    if (limits.keepaliveTimeMs > 0) this.schedulePing();
    if (limits.maxConnectionAgeMs > 0) {
      const jitter = 1 + (Math.random() * 0.2 - 0.1);
      this.later(limits.maxConnectionAgeMs * jitter, () => this.retire('max connection age', limits.maxConnectionAgeGraceMs));
    }
    this.armIdle();
  }

  streamOpened(): void {
    this.openStreams += 1;
    this.idleTimer?.();
    this.idleTimer = null;
  }

  streamClosed(): void {
    this.openStreams -= 1;
    this.armIdle();
  }

  /**
   * Graceful close: a GOAWAY that stops new streams, a ping round trip for streams already on their way, then the
   * final GOAWAY naming the last stream taken. Running calls finish; after `graceMs` (0: no limit) the connection is
   * cut. Resolves when the connection is closed.
   */
  retire(reason: string, graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      if (this.session.closed || this.session.destroyed) resolve();
      else this.session.once('close', () => resolve());
    });
    if (this.retiring || this.session.closed || this.session.destroyed) return closed;
    this.retiring = true;
    this.logger.debug({ reason, openStreams: this.openStreams }, 'closing a gRPC connection');
    const closeGracefully = (): void => {
      if (!this.session.closed && !this.session.destroyed) this.session.close();
    };
    try {
      this.session.goaway(http2.constants.NGHTTP2_NO_ERROR, MAX_STREAM_ID);
      const answered = this.session.ping(() => closeGracefully());
      if (!answered) closeGracefully();
      else this.later(GOAWAY_PING_WAIT_MS, closeGracefully);
    } catch {
      closeGracefully();
    }
    if (graceMs > 0) this.later(graceMs, () => this.session.destroy());
    return closed;
  }

  /** Cuts the connection now. */
  destroy(): void {
    this.session.destroy();
  }

  private armIdle(): void {
    if (this.limits.maxConnectionIdleMs <= 0 || this.openStreams > 0 || this.retiring || this.idleTimer) return;
    this.idleTimer = this.later(this.limits.maxConnectionIdleMs, () => {
      this.idleTimer = null;
      this.retire('max connection idle', 0);
    });
  }

  private schedulePing(): void {
    this.later(this.limits.keepaliveTimeMs, () => {
      if (this.session.closed || this.session.destroyed) return;
      const deadline =
        this.limits.keepaliveTimeoutMs > 0
          ? this.later(this.limits.keepaliveTimeoutMs, () => {
              this.logger.debug({ timeoutMs: this.limits.keepaliveTimeoutMs }, 'keepalive ping not answered: closing the connection');
              this.session.destroy();
            })
          : null;
      const stopWaiting = (): void => deadline?.();
      const sent = this.session.ping((error) => {
        stopWaiting();
        if (error === null) this.schedulePing();
      });
      if (!sent) {
        stopWaiting();
        this.schedulePing();
      }
    });
  }

  /**
   * Runs `run` after `ms` (unref'd); returns the function that cancels it. Limits are durations from configuration
   * and may pass setTimeout's longest delay (~24.8 days), which would otherwise fire after 1 ms: onDeadline waits
   * in steps.
   */
  private later(ms: number, run: () => void): () => void {
    const stop = (): void => {
      cancel();
      this.timers.delete(stop);
    };
    const cancel = onDeadline(monotonicMs() + ms, () => {
      this.timers.delete(stop);
      run();
    });
    this.timers.add(stop);
    return stop;
  }

  private dispose(): void {
    for (const stop of [...this.timers]) stop();
    this.idleTimer = null;
  }
}
