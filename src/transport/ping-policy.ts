// Keepalive enforcement on the server side of an HTTP/2 connection, as gRPC servers do it (grpc-go's
// EnforcementPolicy, C-core's min_recv_ping_interval_without_data): a client may ping at most every
// `minPingIntervalMs` while it has calls open, and not at all without calls unless that is permitted. Each ping that
// breaks the rule is a strike; more than MAX_PING_STRIKES and the server sends GOAWAY with ENHANCE_YOUR_CALM and
// "too_many_pings" (clients then double their keepalive time) and closes the connection. A new call resets the
// count, so pings between real traffic are never held against a client.
//
// Works on any node:http2 server session, whatever gRPC server owns it.
import http2 from 'node:http2';

/** As gRPC's cores: the third early ping in a row ends the connection. */
export const MAX_PING_STRIKES = 2;
/** How long a client that keeps pinging after GOAWAY may keep its connection while calls finish. */
const CLOSE_AFTER_GOAWAY_MS = 1000;
/** Without calls (and not permitted), a ping is acceptable this rarely — gRPC's cores use two hours. */
const IDLE_PING_INTERVAL_MS = 2 * 60 * 60_000;

export interface PingPolicy {
  minPingIntervalMs: number;
  permitPingsWithoutCalls: boolean;
}

/** Called when a client is cut off for pinging too often. */
export type PingViolation = (session: http2.Http2Session) => void;

export function policePings(session: http2.Http2Session, policy: PingPolicy, onViolation?: PingViolation): void {
  let openStreams = 0;
  let strikes = 0;
  let lastPingAtMs = Number.NEGATIVE_INFINITY;
  let closing = false;
  session.on('stream', (stream: http2.Http2Stream) => {
    openStreams += 1;
    strikes = 0;
    stream.once('close', () => (openStreams -= 1));
  });
  session.on('ping', () => {
    if (closing) return;
    const now = performance.now();
    const minimum = openStreams > 0 || policy.permitPingsWithoutCalls ? policy.minPingIntervalMs : IDLE_PING_INTERVAL_MS;
    const early = now - lastPingAtMs < minimum;
    lastPingAtMs = now;
    if (!early) return;
    strikes += 1;
    if (strikes <= MAX_PING_STRIKES) return;
    closing = true;
    onViolation?.(session);
    try {
      // The calls it has open may finish (within CLOSE_AFTER_GOAWAY_MS); nothing after them is taken.
      session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, session.state.lastProcStreamID ?? 0, Buffer.from('too_many_pings'));
    } catch {
      // Already closed.
    }
    session.close();
    setTimeout(() => session.destroy(), CLOSE_AFTER_GOAWAY_MS).unref();
  });
}
