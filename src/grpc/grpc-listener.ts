// One gRPC listener on grpc-js with the transport limits of src/transport/http2-limits.ts applied: receive and send
// limits, concurrent streams, server keepalive pings, idle and age limits (grpc-js channel options), and what grpc-js
// does not do itself — keepalive enforcement against pinging clients and a cap on open connections — on its HTTP/2
// server sessions.
import type http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { formatListen } from '../config/units.js';
import { ConfigError } from '../errors.js';
import type { Http2ListenerLimits } from '../transport/http2-limits.js';
import { policePings } from '../transport/ping-policy.js';
import type { Logger } from '../telemetry/logger.js';
import { monotonicMs } from '../util/monotonic.js';

export interface GrpcListenerOptions {
  /** For messages and logs: "OTLP/gRPC", "API". */
  name: string;
  host: string;
  port: number;
  limits: Http2ListenerLimits;
  /** Largest response message. */
  maxSendBytes: number;
  interceptors?: grpc.ServerInterceptor[];
  credentials: grpc.ServerCredentials;
  logger: Logger;
}

/** At most one "connection refused: too many" line per listener this often. */
const DROP_LOG_INTERVAL_MS = 60_000;

export class GrpcListener {
  readonly server: grpc.Server;
  private boundPort = 0;
  // Monotonic; -Infinity so the first drop is logged even in the first interval after start.
  private lastDropLogMs = -Infinity;

  constructor(private readonly options: GrpcListenerOptions) {
    this.server = new grpc.Server({ ...grpcJsServerOptions(options.limits, options.maxSendBytes), interceptors: options.interceptors ?? [] });
    onHttp2Server(this.server, (http2Server) => this.applyConnectionLimits(http2Server));
  }

  async listen(): Promise<number> {
    const address = formatListen(this.options.host, this.options.port);
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(address, this.options.credentials, (error, port) => {
        if (error) reject(new ConfigError(`cannot listen for ${this.options.name} on ${address}: ${error.message}`));
        else resolve(port);
      });
    });
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Stops taking calls, lets running calls finish until the deadline, then cuts them. */
  async shutdown(deadlineMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, Math.max(0, deadlineMs - Date.now()));
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private applyConnectionLimits(http2Server: http2.Http2Server | http2.Http2SecureServer): void {
    const { limits, logger, name } = this.options;
    http2Server.maxConnections = limits.maxConnections;
    http2Server.on('drop', (dropped?: { remoteAddress?: string }) => {
      const now = monotonicMs();
      if (now - this.lastDropLogMs < DROP_LOG_INTERVAL_MS) return;
      this.lastDropLogMs = now;
      logger.warn({ listener: name, maxConnections: limits.maxConnections, remoteAddress: dropped?.remoteAddress }, 'connection refused: the listener has its maximum of open connections');
    });
    http2Server.on('session', (session: http2.ServerHttp2Session) =>
      policePings(session, limits, () => logger.warn({ listener: name, remoteAddress: session.socket?.remoteAddress }, 'connection closed: the client pinged too often (GOAWAY too_many_pings)')),
    );
  }
}

/** grpc-js channel options for the limits it implements itself. */
export function grpcJsServerOptions(limits: Http2ListenerLimits, maxSendBytes: number): grpc.ServerOptions {
  return {
    // Decompressed size is checked against this too, which is what stops gzip bombs.
    'grpc.max_receive_message_length': limits.maxReceiveBytes,
    'grpc.max_send_message_length': maxSendBytes,
    'grpc.max_concurrent_streams': limits.maxConcurrentStreams,
    ...(limits.keepaliveTimeMs > 0
      ? { 'grpc.keepalive_time_ms': limits.keepaliveTimeMs, 'grpc.keepalive_timeout_ms': limits.keepaliveTimeoutMs }
      : {}),
    ...(limits.maxConnectionIdleMs > 0 ? { 'grpc.max_connection_idle_ms': limits.maxConnectionIdleMs } : {}),
    ...(limits.maxConnectionAgeMs > 0 ? { 'grpc.max_connection_age_ms': limits.maxConnectionAgeMs } : {}),
    ...(limits.maxConnectionAgeMs > 0 && limits.maxConnectionAgeGraceMs > 0
      ? { 'grpc.max_connection_age_grace_ms': limits.maxConnectionAgeGraceMs }
      : {}),
    // grpc-js' server ignores grpc.http2.min_ping_interval_without_data_ms and grpc.keepalive_permit_without_calls
    // (1.14 enforces neither): policePings does, on each session.
  };
}

type Http2ServerHook = (server: http2.Http2Server | http2.Http2SecureServer) => void;

/**
 * Calls `hook` with every HTTP/2 server grpc-js creates for `server` (one per bound address). grpc-js has no public
 * hook for its sessions; its (private) factory method is wrapped on this instance. If a grpc-js release renames it,
 * this throws at construction rather than serve without the limits (tests/grpc/transport-limits.int.test.ts).
 */
function onHttp2Server(server: grpc.Server, hook: Http2ServerHook): void {
  const internals = server as unknown as { createHttp2Server?: (credentials: grpc.ServerCredentials) => http2.Http2Server };
  const create = internals.createHttp2Server;
  if (typeof create !== 'function') {
    throw new Error('this @grpc/grpc-js has no Server.createHttp2Server: connection limits and keepalive enforcement cannot be applied');
  }
  internals.createHttp2Server = function (this: grpc.Server, credentials: grpc.ServerCredentials): http2.Http2Server {
    const http2Server = create.call(this, credentials);
    hook(http2Server);
    return http2Server;
  };
}
