// A plain node:http(s) OTLP/HTTP client that shows the exact response (status, headers, body), which the
// OpenTelemetry exporters hide behind retries; and a decoder for the google.rpc.Status bodies of error responses,
// built from the .proto files (independent of the server's own encoder).
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import protobuf from 'protobufjs';
import { PROTO_DIR } from '../../src/protos.js';

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface PostOptions {
  method?: string;
  /** TLS client options (ca, cert, key); the URL must then be https. */
  tls?: https.RequestOptions;
  /** Sent with Transfer-Encoding: chunked instead of a Content-Length. */
  chunked?: boolean;
}

export function post(url: string, body: Buffer | string, headers: Record<string, string> = {}, options: PostOptions = {}): Promise<HttpReply> {
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : http;
  const allHeaders: Record<string, string> = { ...headers };
  if (!options.chunked) allHeaders['content-length'] = String(payload.length);
  return new Promise((resolve, reject) => {
    const req = client.request(target, { method: options.method ?? 'POST', headers: allHeaders, agent: false, ...options.tls }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.chunked) {
      // Several writes, so the body really streams in chunks.
      const step = 64 * 1024;
      for (let at = 0; at < payload.length; at += step) req.write(payload.subarray(at, at + step));
      req.end();
    } else {
      req.end(payload);
    }
  });
}

export interface DecodedStatus {
  code: number;
  message: string;
  /** From a google.rpc.RetryInfo detail; null when there is none. */
  retryDelayMs: number | null;
}

let statusRoot: protobuf.Root | undefined;

function root(): protobuf.Root {
  if (!statusRoot) {
    const loaded = new protobuf.Root();
    loaded.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(PROTO_DIR, target));
    loaded.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto']);
    loaded.resolveAll();
    statusRoot = loaded;
  }
  return statusRoot;
}

const RETRY_INFO = 'type.googleapis.com/google.rpc.RetryInfo';

/** A google.rpc.Status response body, protobuf or proto3 JSON. */
export function decodeStatus(body: Buffer, encoding: 'protobuf' | 'json'): DecodedStatus {
  if (encoding === 'json') {
    const json = JSON.parse(body.toString('utf8')) as { code?: number; message?: string; details?: { '@type': string; retryDelay?: string }[] };
    const retry = json.details?.find((detail) => detail['@type'] === RETRY_INFO);
    return {
      code: json.code ?? 0,
      message: json.message ?? '',
      retryDelayMs: retry?.retryDelay === undefined ? null : Number(retry.retryDelay.replace(/s$/, '')) * 1000,
    };
  }
  const Status = root().lookupType('google.rpc.Status');
  const RetryInfo = root().lookupType('google.rpc.RetryInfo');
  const status = Status.toObject(Status.decode(body), { longs: Number, defaults: true }) as {
    code: number;
    message: string;
    details: { typeUrl?: string; type_url?: string; value: Uint8Array }[];
  };
  // protobufjs' built-in google.protobuf.Any keeps the snake_case field name.
  const detail = status.details.find((any) => (any.type_url ?? any.typeUrl) === RETRY_INFO);
  let retryDelayMs: number | null = null;
  if (detail) {
    const info = RetryInfo.toObject(RetryInfo.decode(detail.value), { longs: Number, defaults: true }) as {
      retryDelay?: { seconds: number; nanos: number };
    };
    retryDelayMs = info.retryDelay ? info.retryDelay.seconds * 1000 + info.retryDelay.nanos / 1e6 : 0;
  }
  return { code: status.code, message: status.message, retryDelayMs };
}

/** The OTLP/HTTP port a `serve` process reports in its startup log line. */
export function httpPortFrom(output: string): number {
  const match = /"http":"[^"]*:(\d+)"/.exec(output);
  if (!match) throw new Error(`no OTLP/HTTP address in the server output:\n${output}`);
  return Number(match[1]);
}
