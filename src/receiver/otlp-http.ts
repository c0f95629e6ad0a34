// OTLP/HTTP (https://opentelemetry.io/docs/specs/otlp/#otlphttp) on its own port: POST /v1/traces, /v1/metrics and
// /v1/logs with protobuf or JSON bodies, optionally gzip/deflate/br-compressed. The same caller policy, admission,
// spool and acknowledgement rules as OTLP/gRPC apply: a JSON body is converted to the protobuf encoding first, and
// 200 is sent only once Ingest says the bytes are durable. Responses use the request's encoding.
import http from 'node:http';
import https from 'node:https';
import type { CallerPolicy } from '../admission/caller.js';
import { formatListen } from '../config/units.js';
import { ConfigError, PayloadTooLargeError } from '../errors.js';
import type { Signal } from '../model.js';
import { parseOtlpJsonOffThread } from '../otlp/json-workers.js';
import type { Logger } from '../telemetry/logger.js';
import type { WireBody } from '../model.js';
import { discardBody, readBody, RequestAbortedError } from './http-body.js';
import { HttpRefusal, retryAfterSeconds, toHttpError } from './http-errors.js';
import type { Ingest } from './ingest.js';
import { CONTENT_TYPES, encodingOf, statusBody, successBody, type BodyEncoding } from './otlp-http-encoding.js';
import type { TlsFiles } from '../transport/tls.js';

export interface OtlpHttpServerOptions {
  host: string;
  port: number;
  /** Largest request body, on the wire and after decompression. */
  maxReceiveBytes: number;
  /** Largest OTLP/JSON body (decompressed), when smaller than maxReceiveBytes. */
  maxJsonBytes: number;
  retryAfterMs: number;
  /** The request line and headers must arrive within this… */
  headersTimeoutMs: number;
  /** …and the whole request (body included) within this. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Open connections; more are closed as soon as they are accepted. */
  maxConnections: number;
}

export interface OtlpHttpDeps {
  ingest: Ingest;
  callers: CallerPolicy;
  /** Null: plain HTTP. */
  tls: TlsFiles | null;
  logger: Logger;
}

const PATHS: Readonly<Record<string, Signal>> = { '/v1/traces': 'traces', '/v1/metrics': 'metrics', '/v1/logs': 'logs' };

/** How much of a body that will not be used is still read after an early answer, so the client sees the answer. */
const DISCARD_LIMIT_BYTES = 4 * 2 ** 20;
/** The same for a caller refused for its credentials: it gets its 401/403 if its body is small, else a closed connection. */
const DISCARD_LIMIT_UNAUTHORIZED_BYTES = 64 * 1024;

export class OtlpHttpServer {
  private readonly server: http.Server;
  private readonly unwatchTls: (() => void) | undefined;
  private stopping = false;
  private boundPort = 0;

  constructor(private readonly options: OtlpHttpServerOptions, private readonly deps: OtlpHttpDeps) {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => void this.handle(req, res);
    const timeouts: http.ServerOptions = {
      headersTimeout: options.headersTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      // Node checks the two timeouts above only this often (30 s by default, longer than a short headersTimeout).
      connectionsCheckingInterval: checkingIntervalMs(options),
      keepAliveTimeout: options.keepAliveTimeoutMs,
    };
    const tls = deps.tls;
    if (tls) {
      const { cert, key, ca } = tls.material;
      const server = https.createServer(
        { ...timeouts, cert, key, ca, requestCert: tls.verifiesClients, rejectUnauthorized: tls.requireClientCert },
        handler,
      );
      this.unwatchTls = tls.onChange((material) =>
        server.setSecureContext({ cert: material.cert, key: material.key, ca: material.ca }),
      );
      this.server = server;
    } else {
      this.server = http.createServer(timeouts, handler);
    }
    this.server.maxConnections = options.maxConnections;
  }

  async listen(): Promise<number> {
    const address = formatListen(this.options.host, this.options.port);
    this.boundPort = await new Promise<number>((resolve, reject) => {
      const onError = (error: Error): void => reject(new ConfigError(`cannot listen for OTLP/HTTP on ${address}: ${error.message}`));
      this.server.once('error', onError);
      this.server.listen({ host: this.options.host, port: this.options.port }, () => {
        this.server.off('error', onError);
        const bound = this.server.address();
        resolve(typeof bound === 'object' && bound !== null ? bound.port : this.options.port);
      });
    });
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Stops taking connections, lets running requests finish until the deadline, then cuts every connection. */
  async shutdown(deadlineMs: number): Promise<void> {
    this.stopping = true;
    this.unwatchTls?.();
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.server.closeAllConnections(), Math.max(0, deadlineMs - Date.now()));
      this.server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      this.server.closeIdleConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = requestPath(req.url ?? '/');
    const signal = PATHS[path];
    const requestEncoding = encodingOf(req.headers['content-type']);
    try {
      if (signal === undefined) {
        throw new HttpRefusal(404, `no OTLP/HTTP endpoint at ${JSON.stringify(path.slice(0, 100))}: use POST /v1/traces, /v1/metrics or /v1/logs`);
      }
      if (req.method !== 'POST') throw new HttpRefusal(405, `${req.method} is not allowed on ${path}: use POST`, { allow: 'POST' });
      if (requestEncoding === null) {
        const given = JSON.stringify(String(req.headers['content-type'] ?? '').slice(0, 100));
        throw new HttpRefusal(415, `unsupported Content-Type ${given}: use ${CONTENT_TYPES.protobuf} or ${CONTENT_TYPES.json}`);
      }
      // Who, which tenant, and may they ingest — before the body: a refused caller costs no body reading.
      const { tenant } = this.deps.callers.authorize(
        { authorization: header(req, 'authorization'), tenant: header(req, this.deps.callers.tenantHeader) },
        'ingest',
      );
      // Overloaded: refused before the body is read into memory.
      const endReceive = this.deps.ingest.beginReceive();
      let body: Buffer;
      let wire: WireBody | undefined;
      try {
        // Only a protobuf body's wire form is the request as the archive stores it (JSON is converted).
        ({ body, wire } = await readBody(req, this.receiveLimit(requestEncoding), requestEncoding === 'protobuf'));
      } catch (error) {
        throw error instanceof PayloadTooLargeError && requestEncoding === 'json' ? this.jsonTooLarge() : error;
      } finally {
        endReceive();
      }
      if (requestEncoding === 'json') {
        // Parsing builds objects for every span: an overloaded server refuses before it parses, and the JSON body keeps
        // its place in the in-flight budget until its protobuf is durable.
        const lease = this.deps.ingest.reserve(body.length);
        try {
          // An empty body is an empty Export request in either encoding (as an empty protobuf body is), not bad JSON.
          const payload = body.length === 0 ? body : await parseOtlpJsonOffThread(signal, body);
          await this.deps.ingest.accept(signal, tenant, payload, body.length);
        } finally {
          lease.release();
        }
      } else {
        await this.deps.ingest.accept(signal, tenant, body, 0, wire);
      }
      this.reply(req, res, 200, requestEncoding, successBody(requestEncoding));
    } catch (error) {
      if (error instanceof RequestAbortedError) return;
      this.refuse(req, res, signal, requestEncoding ?? 'json', error);
    }
  }

  /**
   * JSON has a limit of its own: it is converted to protobuf in one synchronous step (JSON.parse, then the message
   * objects) that holds its thread (the JSON worker, src/otlp/json-workers.ts) ~0.1 s per MiB and takes 12-25 bytes of
   * memory per byte of text, so 64 MiB of valid OTLP/JSON would keep the worker for seconds and need ~1 GB. 8 MiB
   * costs about what the largest protobuf body does.
   */
  private receiveLimit(encoding: BodyEncoding): number {
    return encoding === 'json' ? Math.min(this.options.maxReceiveBytes, this.options.maxJsonBytes) : this.options.maxReceiveBytes;
  }

  private jsonTooLarge(): PayloadTooLargeError {
    const limit = this.receiveLimit('json');
    const binding = limit < this.options.maxReceiveBytes ? 'server.http.maxJsonBytes' : 'server.http.maxReceiveBytes';
    return new PayloadTooLargeError(
      `OTLP/JSON request body is larger than the limit of ${limit} bytes (${binding}, after decompression): send smaller ` +
        `batches, or protobuf (application/x-protobuf, up to ${this.options.maxReceiveBytes} bytes)`,
    );
  }

  private refuse(req: http.IncomingMessage, res: http.ServerResponse, signal: Signal | undefined, encoding: BodyEncoding, error: unknown): void {
    const mapped = toHttpError(error, this.options.retryAfterMs);
    if (signal !== undefined) this.deps.ingest.recordRejection(signal, mapped.reason);
    if (mapped.unexpected) this.deps.logger.error({ err: error, signal, ref: mapped.ref }, 'OTLP/HTTP export failed');
    else this.deps.logger.debug({ signal, status: mapped.httpStatus, reason: mapped.reason, message: mapped.message }, 'OTLP/HTTP export refused');
    const headers: Record<string, string> = error instanceof HttpRefusal ? { ...error.headers } : {};
    if (mapped.retryAfterMs !== null) headers['retry-after'] = retryAfterSeconds(mapped.retryAfterMs);
    if (mapped.httpStatus === 401) headers['www-authenticate'] = 'Bearer';
    const discardLimit = mapped.httpStatus === 401 || mapped.httpStatus === 403 ? DISCARD_LIMIT_UNAUTHORIZED_BYTES : DISCARD_LIMIT_BYTES;
    this.reply(req, res, mapped.httpStatus, encoding, statusBody(encoding, mapped.code, mapped.message, mapped.retryAfterMs), headers, discardLimit);
  }

  private reply(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    status: number,
    encoding: BodyEncoding,
    body: Buffer,
    headers: Record<string, string> = {},
    discardLimit: number = DISCARD_LIMIT_BYTES,
  ): void {
    if (res.headersSent || res.destroyed) return;
    // Answered before the whole body arrived: this connection cannot be reused, and what is still coming is dropped
    // (never kept), up to a limit.
    const early = !req.complete;
    if (early || this.stopping) headers.connection = 'close';
    res.writeHead(status, { ...headers, 'content-type': CONTENT_TYPES[encoding], 'content-length': body.length });
    res.end(body);
    if (early) discardBody(req, discardLimit);
  }
}

/** Often enough that a short header timeout is enforced close to its value; never more than Node's default. */
function checkingIntervalMs(options: OtlpHttpServerOptions): number {
  const shortest = Math.min(...[options.headersTimeoutMs, options.requestTimeoutMs].filter((ms) => ms > 0));
  return Number.isFinite(shortest) ? Math.min(30_000, Math.max(100, Math.floor(shortest / 4))) : 30_000;
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The path of a request target: origin-form ("/v1/traces?x") or absolute-form ("http://host:4318/v1/traces"), which
 * HTTP/1.1 servers must accept (RFC 9112 §3.2.2) and a client configured with a forward proxy sends.
 */
export function requestPath(target: string): string {
  if (!target.startsWith('/') && /^https?:\/\//i.test(target)) {
    try {
      return new URL(target).pathname;
    } catch {
      return target;
    }
  }
  return target.split('?')[0] ?? '/';
}
