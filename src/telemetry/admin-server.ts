// Admin HTTP: /healthz (the process is alive), /readyz (it can take traffic), /metrics (Prometheus; who may read it:
// metrics-access.ts).
import http from 'node:http';
import { ConfigError } from '../errors.js';
import type { MetricsGate } from './metrics-access.js';
import type { Metrics } from './metrics.js';

export interface Readiness {
  /** Null when ready; otherwise why not, in words. */
  notReadyReason(): string | null;
}

export class AdminServer {
  private readonly server: http.Server;

  constructor(private readonly metrics: Metrics, private readonly readiness: Readiness, private readonly gate: MetricsGate) {
    this.server = http.createServer((request, response) => {
      this.handle(request, response).catch((error: unknown) => {
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`error: ${String(error)}\n`);
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
        const reason = this.readiness.notReadyReason();
        if (reason === null) response.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
        else response.writeHead(503, { 'content-type': 'text/plain' }).end(`not ready: ${reason}\n`);
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
