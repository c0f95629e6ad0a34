// A gRPC server on node:http2, written for the OTLP ingest hot path: routes by :path to raw routes (OTLP Export,
// which reads bodies only once admitted) or to grpc-js service implementations (health, reflection).
// Plaintext (h2c) or TLS with ALPN h2, certificates following TlsFiles (reloaded without a restart), mutual TLS.
import http2 from 'node:http2';
import type { TlsOptions as NodeTlsOptions } from 'node:tls';
import type * as grpc from '@grpc/grpc-js';
import { formatListen } from '../../config/units.js';
import { ConfigError } from '../../errors.js';
import type { Logger } from '../../telemetry/logger.js';
import type { Http2ListenerLimits } from '../../transport/http2-limits.js';
import { policePings } from '../../transport/ping-policy.js';
import type { TlsFiles, TlsMaterial } from '../../transport/tls.js';
import type { Route } from './call-context.js';
import { ConnectionLifetime } from './connection-lifetime.js';
import { Status } from './grpc-protocol.js';
import { sendTrailersOnly } from './grpc-response.js';
import { checkGrpcRequest } from './request-check.js';
import { serviceRoute } from './service-call.js';
import { monotonicMs } from '../../util/monotonic.js';

export interface GrpcTransportOptions extends Http2ListenerLimits {
  /**
   * SETTINGS_INITIAL_WINDOW_SIZE: what a stream may send before it is read. A request waiting for admission holds at
   * most this much; larger windows move bodies with fewer round trips (less CPU, more speed over long links).
   */
  initialWindowSize: number;
}

export interface Http2GrpcServerOptions {
  /** For messages and logs: "OTLP/gRPC". */
  name: string;
  transport: GrpcTransportOptions;
  /** Null: plaintext (h2c). */
  tls: TlsFiles | null;
  logger: Logger;
}

/**
 * Connection receive window. Node gives received bytes back to the connection window at once (a stream's own
 * window is what holds back unread data), so this only has to be large enough never to be the limit.
 */
const CONNECTION_WINDOW_BYTES = 16 * 2 ** 20;
/** Request header block (names + values): grpc's default is 8 KiB; tokens and tenants need far less. */
const MAX_HEADER_LIST_BYTES = 16 * 1024;
const MAX_HEADER_PAIRS = 128;
/**
 * nghttp2 bookkeeping per connection, in MB: stream states, header compression tables, responses and pings queued
 * to be sent. Request bodies are not counted (flow control and admission bound them). Above it, new streams are
 * refused with ENHANCE_YOUR_CALM; Node's default of 10 MB is ample for thousands of open streams, so it stays.
 */
const MAX_SESSION_MEMORY_MB = 10;
/**
 * Flood protection: a connection sending this many invalid frames (Node counts them over its whole life, including
 * streams refused for exceeding the concurrent-stream limit before the client saw it), or having this many streams
 * refused in a row, is closed. Node's defaults.
 */
const MAX_SESSION_INVALID_FRAMES = 1000;
const MAX_SESSION_REJECTED_STREAMS = 100;
/** At most one "connection refused: too many" line per listener this often. */
const DROP_LOG_INTERVAL_MS = 60_000;

export class Http2GrpcServer {
  private readonly routes = new Map<string, Route>();
  private readonly connections = new Map<http2.ServerHttp2Session, ConnectionLifetime>();
  private readonly server: http2.Http2Server | http2.Http2SecureServer;
  private unsubscribeTls: (() => void) | null = null;
  private boundPort = 0;
  private closing = false;
  // Monotonic; -Infinity so the first drop is logged even in the first interval after start.
  private lastDropLogMs = -Infinity;

  constructor(private readonly options: Http2GrpcServerOptions) {
    const settings: http2.Settings = {
      maxConcurrentStreams: options.transport.maxConcurrentStreams,
      initialWindowSize: options.transport.initialWindowSize,
      maxHeaderListSize: MAX_HEADER_LIST_BYTES,
      enablePush: false,
    };
    const common: http2.ServerOptions = {
      settings,
      maxSessionMemory: MAX_SESSION_MEMORY_MB,
      maxHeaderListPairs: MAX_HEADER_PAIRS,
      maxSessionInvalidFrames: MAX_SESSION_INVALID_FRAMES,
      maxSessionRejectedStreams: MAX_SESSION_REJECTED_STREAMS,
    };
    const tls = options.tls;
    this.server = tls
      ? http2.createSecureServer({ ...common, ...secureOptions(tls.material), ...clientCertOptions(tls), ALPNProtocols: ['h2'], allowHTTP1: false })
      : http2.createServer(common);
    this.server.maxConnections = options.transport.maxConnections;
    this.server.on('drop', (dropped?: { remoteAddress?: string }) => this.onDrop(dropped));
    if (tls) {
      const secure = this.server as http2.Http2SecureServer;
      this.unsubscribeTls = tls.onChange((material) => secure.setSecureContext(secureOptions(material)));
    }
    this.server.on('session', (session: http2.ServerHttp2Session) => this.onSession(session));
    this.server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => this.onStream(stream, headers));
  }

  /** A route for one method path, e.g. "/opentelemetry.proto.collector.trace.v1.TraceService/Export". */
  addRoute(path: string, route: Route): void {
    if (this.routes.has(path)) throw new Error(`a handler for ${path} is already registered`);
    this.routes.set(path, route);
  }

  /** grpc-js' Server.addService: a service definition and its handlers (by method name or original name). */
  addService(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void {
    for (const [name, method] of Object.entries(service)) {
      const handler = (implementation[name] ?? (method.originalName ? implementation[method.originalName] : undefined)) as
        | ((...args: unknown[]) => void)
        | undefined;
      if (handler === undefined) continue;
      this.addRoute(method.path, serviceRoute(method as grpc.MethodDefinition<unknown, unknown>, handler, this.options.transport.maxReceiveBytes));
    }
  }

  async listen(host: string, port: number): Promise<number> {
    const address = formatListen(host, port);
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(new ConfigError(`cannot listen for ${this.options.name} on ${address}: ${error.message}`));
      this.server.once('error', onError);
      this.server.listen({ host, port }, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.server.on('error', (error) => this.options.logger.error({ err: error }, 'gRPC listener error'));
    const bound = this.server.address();
    this.boundPort = typeof bound === 'object' && bound !== null ? bound.port : port;
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Open client connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Stops taking connections, sends every connection a GOAWAY so running calls finish, and cuts what is still open
   * at the deadline (epoch ms).
   */
  async shutdown(deadlineMs: number): Promise<void> {
    this.closing = true;
    this.unsubscribeTls?.();
    this.unsubscribeTls = null;
    const serverClosed = new Promise<void>((resolve) => {
      if (!this.server.listening) resolve();
      else this.server.close(() => resolve());
    });
    const grace = Math.max(1, deadlineMs - Date.now());
    await Promise.all([...this.connections.values()].map((connection) => connection.retire('shutdown', grace)));
    for (const connection of this.connections.values()) connection.destroy();
    await serverClosed;
  }

  private onSession(session: http2.ServerHttp2Session): void {
    const { transport, logger, name } = this.options;
    const lifetime = new ConnectionLifetime(session, transport, logger);
    policePings(session, transport, () =>
      logger.warn({ listener: name, remoteAddress: session.socket?.remoteAddress }, 'connection closed: the client pinged too often (GOAWAY too_many_pings)'),
    );
    this.connections.set(session, lifetime);
    session.once('close', () => this.connections.delete(session));
    session.on('error', (error) => this.options.logger.debug({ err: error.message }, 'gRPC connection error'));
    try {
      session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
    } catch (error) {
      this.options.logger.debug({ err: (error as Error).message }, 'cannot enlarge the connection window');
    }
    if (this.closing) void lifetime.retire('shutdown', 1);
  }

  private onDrop(dropped?: { remoteAddress?: string }): void {
    const now = monotonicMs();
    if (now - this.lastDropLogMs < DROP_LOG_INTERVAL_MS) return;
    this.lastDropLogMs = now;
    const { logger, name, transport } = this.options;
    logger.warn({ listener: name, maxConnections: transport.maxConnections, remoteAddress: dropped?.remoteAddress }, 'connection refused: the listener has its maximum of open connections');
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    // Errors on a stream (a reset, a write after the client left) concern that call only.
    stream.on('error', () => undefined);
    const connection = stream.session as http2.ServerHttp2Session;
    const lifetime = this.connections.get(connection);
    lifetime?.streamOpened();
    stream.once('close', () => lifetime?.streamClosed());
    const check = checkGrpcRequest(headers);
    if (!check.ok) {
      sendTrailersOnly(stream, check.refusal.status, true, check.refusal.httpStatus);
      return;
    }
    const { request } = check;
    const route = this.routes.get(request.path);
    if (route === undefined) {
      sendTrailersOnly(stream, { code: Status.UNIMPLEMENTED, details: `unknown method ${JSON.stringify(request.path.slice(0, 200))}` }, true);
      return;
    }
    const deadline = request.timeoutMs === null ? null : monotonicMs() + request.timeoutMs;
    try {
      route({ stream, headers, request, connection, deadline });
    } catch (error) {
      this.options.logger.error({ err: error, path: request.path }, 'gRPC handler failed');
      sendTrailersOnly(stream, { code: Status.INTERNAL, details: 'internal error' }, true);
    }
  }
}

function secureOptions(material: TlsMaterial): NodeTlsOptions {
  return { cert: material.cert, key: material.key, ...(material.ca === undefined ? {} : { ca: material.ca }) };
}

/** Mutual TLS: client certificates asked for and checked against the client CA, a handshake without one fails. */
function clientCertOptions(tls: TlsFiles): NodeTlsOptions {
  return tls.verifiesClients ? { requestCert: true, rejectUnauthorized: tls.requireClientCert } : { requestCert: false };
}
