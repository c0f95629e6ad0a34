// Admin HTTP: /healthz (the process is alive), /readyz (it can take traffic), /metrics (Prometheus; who may read it:
// metrics-access.ts).
import http from 'node:http';
import type net from 'node:net';
import { ConfigError } from '../errors.js';
import type { MetricsGate } from './metrics-access.js';
import type { Metrics } from './metrics.js';
import type { NotReady } from './readiness-metrics.js';

export interface Readiness {
  /** Null when ready. */
  notReady(): NotReady | null;
}

/**
 * The admin listener is reachable from the network and shares the process's file descriptors with ingest: connections
 * are bounded per peer address and in total, and one that sends no complete request in time is closed. The per-peer
 * bound keeps one caller from taking every connection away from the probes and the scraper.
 */
export interface AdminLimits {
  maxConnections: number;
  maxConnectionsPerPeer: number;
  /** Time for a whole request (headers included) to arrive. */
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

export const ADMIN_LIMITS: AdminLimits = { maxConnections: 256, maxConnectionsPerPeer: 16, requestTimeoutMs: 10_000, keepAliveTimeoutMs: 5_000 };

export class AdminServer {
  private readonly server: http.Server;
  private readonly perPeer = new Map<string, number>();

  constructor(
    private readonly metrics: Metrics,
    private readonly readiness: Readiness,
    private readonly gate: MetricsGate,
    limits: AdminLimits = ADMIN_LIMITS,
  ) {
    this.server = http.createServer(
      {
        headersTimeout: limits.requestTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        // Node checks the timeouts above only this often (30 s by default).
        connectionsCheckingInterval: Math.max(50, Math.min(1000, limits.requestTimeoutMs / 4)),
      },
      (request, response) => {
        this.handle(request, response).catch((error: unknown) => {
          response.writeHead(500, { 'content-type': 'text/plain' }).end(`error: ${String(error)}\n`);
        });
      },
    );
    // The total is Node's own bound (connections past it are dropped before they get here); the per-peer one is ours.
    this.server.maxConnections = limits.maxConnections;
    this.server.on('connection', (socket: net.Socket) => {
      const peer = socket.remoteAddress ?? '';
      const fromPeer = this.perPeer.get(peer) ?? 0;
      if (fromPeer >= limits.maxConnectionsPerPeer) {
        socket.destroy();
        return;
      }
      this.perPeer.set(peer, fromPeer + 1);
      socket.once('close', () => {
        const left = (this.perPeer.get(peer) ?? 1) - 1;
        if (left === 0) this.perPeer.delete(peer);
        else this.perPeer.set(peer, left);
      });
    });
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    switch (path) {
      case '/healthz':
        response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      case '/readyz': {
        const notReady = this.readiness.notReady();
        if (notReady === null) {
          response.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
          return;
        }
        // Probes come from the network without a token and need only the status. The words can name backend
        // endpoints, buckets and paths, so they go to whoever may read /metrics (loopback, or a metrics token).
        const detailed = this.gate.check(request.socket.remoteAddress, request.headers.authorization).allowed;
        const body = detailed
          ? `not ready: ${notReady.message}\n`
          : `not ready: ${notReady.reason} (the log says why; so does /readyz from loopback or with a token that has the "metrics" scope)\n`;
        response.writeHead(503, { 'content-type': 'text/plain' }).end(body);
        return;
      }
      case '/metrics': {
        const access = this.gate.check(request.socket.remoteAddress, request.headers.authorization);
        if (!access.allowed) {
          const headers: http.OutgoingHttpHeaders = { 'content-type': 'text/plain' };
          if (access.status === 401) headers['www-authenticate'] = 'Bearer';
          response.writeHead(access.status, headers).end(`${access.message}\n`);
          return;
        }
        const body = await this.metrics.render();
        response.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(body);
        return;
      }
      default:
        response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz, /readyz or /metrics\n');
    }
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        reject(new ConfigError(`cannot listen for admin HTTP on ${host}:${port}: ${error.code ?? error.message}`));
      };
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        const address = this.server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}
