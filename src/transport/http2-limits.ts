// The connection and stream limits of one HTTP/2 (gRPC) listener, in names and units that do not depend on what
// serves it: grpc-js today (src/grpc/grpc-listener.ts maps them to its channel options), any other HTTP/2 server
// later. Durations are milliseconds; 0 turns a limit off.
export interface Http2ListenerLimits {
  /** Largest request message, after decompression. */
  maxReceiveBytes: number;
  /** Streams (calls) one connection may have open at once (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
  /** Open connections; more are closed as soon as they are accepted. */
  maxConnections: number;
  /** The server pings a connection this often, and closes it when no answer comes within keepaliveTimeoutMs. */
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  /** A client pinging more often than this (or at all without calls, unless permitted) is told to stop, then cut. */
  minPingIntervalMs: number;
  permitPingsWithoutCalls: boolean;
  /** A connection without calls this long is closed gracefully (GOAWAY). */
  maxConnectionIdleMs: number;
  /** A connection this old is closed gracefully, so clients reconnect (and spread over replicas)… */
  maxConnectionAgeMs: number;
  /** …and cut this long after, if calls are still running (0: wait for them). */
  maxConnectionAgeGraceMs: number;
}

/** The fields of a `server.grpc` / `server.api` configuration section. */
export interface Http2LimitsSection {
  maxReceiveBytes: number;
  maxConcurrentStreams: number;
  maxConnections: number;
  keepaliveTime: number;
  keepaliveTimeout: number;
  minPingInterval: number;
  permitPingsWithoutCalls: boolean;
  maxConnectionIdle: number;
  maxConnectionAge: number;
  maxConnectionAgeGrace: number;
}

export function http2ListenerLimits(section: Http2LimitsSection): Http2ListenerLimits {
  return {
    maxReceiveBytes: section.maxReceiveBytes,
    maxConcurrentStreams: section.maxConcurrentStreams,
    maxConnections: section.maxConnections,
    keepaliveTimeMs: section.keepaliveTime,
    keepaliveTimeoutMs: section.keepaliveTimeout,
    minPingIntervalMs: section.minPingInterval,
    permitPingsWithoutCalls: section.permitPingsWithoutCalls,
    maxConnectionIdleMs: section.maxConnectionIdle,
    maxConnectionAgeMs: section.maxConnectionAge,
    maxConnectionAgeGraceMs: section.maxConnectionAgeGrace,
  };
}
