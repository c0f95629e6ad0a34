// The one configuration schema. Every key has a default, so an empty file (or none) runs the embedded default.
import { z } from 'zod';
import { SCOPES } from '../admission/scopes.js';
import { isValidTenant } from '../admission/tenant.js';
import { LEVEL_RANGE } from '../archiver/codec.js';
import { MAX_MANIFEST_CHARS } from '../archiver/object-format.js';
import { CODECS } from '../model.js';
import { given, durationField, fitsTimer, sizeField, TIMER_LIMIT_MESSAGE } from './unit-fields.js';
import { parseListen } from './units.js';
import { isWebhookUrl } from '../notify/webhook-url.js';
import { isTargetPattern } from '../api/replay-targets.js';
import { retentionSchema } from '../retention/retention-config.js';
import {
  MIN_PART_SIZE,
  S3_CHECKSUM_MODES,
  S3_DEFAULTS,
  S3_SSE_MODES,
  S3_STORAGE_CLASSES,
  isValidS3Prefix,
} from '../storage/s3-settings.js';

const DURATION_EXPECTED = 'expected a duration such as 60s, 5m or 1h30m';

const bytes = sizeField();
const duration = durationField(DURATION_EXPECTED);
// A duration that a timer waits for (a timeout, an interval, a backoff, a keepalive): Node's timers (ours and
// grpc-js') cannot wait longer than 2^31-1 ms and fire after 1 ms instead, so 30d would turn into a busy loop.
const timer = duration.refine(fitsTimer, TIMER_LIMIT_MESSAGE);

const DEFAULT_MAX_LAG_MS = 5 * 60_000;

// A request is at most 2 GiB: protobuf messages are smaller by definition, and what stores a request addresses at
// most 4 GiB (a spool record's and an archive block's lengths are u32, and a compressed block can be a little longer
// than its request). A larger receive limit would acknowledge requests that can never be archived.
const MAX_RECEIVE_BYTES = 2 ** 31;
const receiveBytes = (fallback: number) =>
  bytes
    .default(fallback)
    .refine((value) => value <= MAX_RECEIVE_BYTES, 'must be at most 2GiB (protobuf messages, and so OTLP requests, are smaller)');

// S3 multipart uploads have at most 10,000 parts: an object past partSize × 10,000 could never be completed.
const S3_MAX_PARTS = 10_000;

/** archiver.maxLag when not set: 5 minutes, or 5 minutes past maxObjectAge when objects are kept open longer. */
function defaultMaxLag(maxObjectAgeMs: number): number {
  return maxObjectAgeMs < DEFAULT_MAX_LAG_MS ? DEFAULT_MAX_LAG_MS : maxObjectAgeMs + DEFAULT_MAX_LAG_MS;
}

const listen = z.string().refine((value) => parseListen(value) !== null, {
  message: 'expected HOST:PORT such as 0.0.0.0:4317 or [::1]:4317',
});

const tenantName = z
  .string()
  .refine(isValidTenant, 'expected 1-63 characters of A-Z a-z 0-9 . _ - starting with a letter or digit, without ".."');

// A boolean that environment variables can set too ("true" / "false").
const flag = z
  .union([z.boolean(), z.enum(['true', 'false'])], { error: (issue) => `expected true or false, got ${given(issue.input)}` })
  .transform((value) => value === true || value === 'true');

const filePath = (what: string) =>
  z.string({ error: (issue) => (issue.input === undefined ? `required: ${what}` : `expected a file path (${what})`) }).min(1);

// TLS for both OTLP listeners (gRPC and HTTP), and the API listener unless it has its own. Mutual TLS:
// clientCaFile and requireClientCert together.
const tls = z
  .object({
    certFile: filePath('the PEM certificate (chain) the listeners present'),
    keyFile: filePath('the PEM private key of certFile'),
    clientCaFile: filePath('the PEM CA bundle client certificates must chain to').optional(),
    requireClientCert: flag.default(false),
    reloadInterval: timer.default(30_000),
  })
  .strict()
  .superRefine((value, ctx) => {
    if (value.requireClientCert && value.clientCaFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['clientCaFile'], message: 'required when requireClientCert is true (the CA client certificates must chain to)' });
    }
    if (!value.requireClientCert && value.clientCaFile !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['requireClientCert'],
        message: 'must be true when clientCaFile is set: client certificates are verified only when they are required',
      });
    }
  });

// Bearer tokens: each inline or from a file (a mounted Secret), optionally bound to one tenant. Messages about these
// entries never quote a value: they are secrets.
const bearerToken = z
  .object({
    token: z.string().min(1).optional(),
    tokenFile: z.string().min(1).optional(),
    tenant: tenantName.optional(),
    scopes: z
      .array(z.enum(SCOPES, { error: `expected one of ${SCOPES.join(', ')}` }))
      .min(1, 'name at least one scope: ingest, read or replay')
      .default(['ingest']),
  })
  .strict()
  .refine((value) => (value.token === undefined) !== (value.tokenFile === undefined), 'set exactly one of token or tokenFile')
  .refine((value) => !value.scopes.includes('replay') || value.scopes.includes('read'), {
    path: ['scopes'],
    message: 'replay needs read too (a replay reads what it sends): use [read, replay]',
  });

// Connection and stream limits of a gRPC (HTTP/2) listener. Transport-neutral names: whatever serves the listener
// reads them through src/transport/http2-limits.ts. A duration of 0 turns that limit off.
interface Http2Defaults {
  maxReceiveBytes: number;
  maxConcurrentStreams: number;
  maxConnections: number;
  maxConnectionAge: number;
  maxConnectionAgeGrace: number;
}
const http2ListenerFields = (defaults: Http2Defaults) => ({
  maxReceiveBytes: receiveBytes(defaults.maxReceiveBytes),
  maxConcurrentStreams: z.number().int().min(1).max(2 ** 31 - 1).default(defaults.maxConcurrentStreams),
  maxConnections: z.number().int().min(1).default(defaults.maxConnections),
  keepaliveTime: timer.default(60_000),
  keepaliveTimeout: timer.default(20_000),
  minPingInterval: timer.default(5_000),
  permitPingsWithoutCalls: flag.default(true),
  maxConnectionIdle: timer.default(5 * 60_000),
  maxConnectionAge: timer.default(defaults.maxConnectionAge),
  maxConnectionAgeGrace: timer.default(defaults.maxConnectionAgeGrace),
});

// The control-plane listener (CaptureService). Loopback by default; on any other address it needs tokens, unless
// allowUnauthenticated says otherwise (checked at serve's start, src/api/exposure.ts).
const api = z
  .object({
    listen: listen.default('127.0.0.1:4319'),
    tls: tls.optional(),
    allowUnauthenticated: flag.default(false),
    ...http2ListenerFields({
      maxReceiveBytes: 2 ** 20,
      maxConcurrentStreams: 16,
      maxConnections: 64,
      // Off: a long Replay stream must not be cut to rebalance a control plane.
      maxConnectionAge: 0,
      maxConnectionAgeGrace: 0,
    }),
    maxConcurrentReads: z.number().int().min(1).max(1024).default(4),
    maxConcurrentReplays: z.number().int().min(1).max(1024).default(2),
    maxFindTraceBytes: bytes.default(16 * 2 ** 20),
    // GetRequest as OTLP/JSON decodes the whole request into objects (~1.4 KiB of heap per message): bounded by size.
    maxJsonViewBytes: bytes.default(16 * 2 ** 20),
    tailBuffer: z.number().int().min(1).max(1_000_000).default(1000),
  })
  .strict()
  .prefault({});

const http = z
  .object({
    listen: listen.default('0.0.0.0:4318'),
    maxReceiveBytes: receiveBytes(64 * 2 ** 20),
    // OTLP/JSON is converted on the event loop at 12-25 bytes of memory per byte of text (see otlp-http.ts).
    maxJsonBytes: receiveBytes(8 * 2 ** 20),
    headersTimeout: timer.default(10_000),
    requestTimeout: timer.default(60_000),
    keepAliveTimeout: timer.default(30_000),
    maxConnections: z.number().int().min(1).default(4096),
  })
  .strict()
  .superRefine((value, ctx) => {
    // Node refuses a header timeout longer than the whole-request timeout.
    if (value.requestTimeout > 0 && (value.headersTimeout === 0 || value.headersTimeout > value.requestTimeout)) {
      ctx.addIssue({ code: 'custom', path: ['headersTimeout'], message: 'must be at most requestTimeout (and not 0 while requestTimeout is set)' });
    }
  })
  .prefault({});

const replayTargetPattern = z
  .string()
  .refine(isTargetPattern, 'expected HOST:PORT, with * allowed in the host part, such as collector.staging.svc:4317 or *.staging.svc:4317');

// ClickHouse index (index.type clickhouse). The password is never part of an error message or a log line.
const clickhouseIndex = z
  .object({
    url: z
      .string()
      .refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), {
        message: 'expected an http(s) URL such as http://127.0.0.1:8123',
      })
      .default('http://127.0.0.1:8123'),
    user: z.string().default(''),
    password: z.string().default(''),
    database: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'expected 1-63 of A-Z a-z 0-9 _, not starting with a digit')
      .default('otlp_capture'),
    // A cluster from the servers' remote_servers: the schema is created ON CLUSTER (Replicated + Distributed tables).
    cluster: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'expected a cluster name from remote_servers: 1-63 of A-Z a-z 0-9 _, not starting with a digit')
      .optional(),
    batchRows: z.number().int().min(1).max(100_000).default(1000),
    batchInterval: timer.default(1000),
    outboxPath: z.string().min(1).optional(),
    outboxMaxBytes: bytes.default(2 ** 30).refine((value) => value >= 2 ** 20, 'must be at least 1MiB'),
  })
  .strict()
  .prefault({});

// S3 or an S3-compatible server. Credentials are never quoted in messages (zod's own messages do not quote values).
const s3Storage = z
  .object({
    endpoint: z.url({ error: 'expected a URL such as http://127.0.0.1:9000' }).optional(),
    region: z.string().min(1).default(S3_DEFAULTS.region),
    bucket: z.string().min(1).optional(),
    prefix: z
      .string()
      .refine(isValidS3Prefix, 'expected a key prefix such as otlp/archive: no empty, "." or ".." segments, NUL or backslash')
      .default(S3_DEFAULTS.prefix),
    forcePathStyle: flag.default(S3_DEFAULTS.forcePathStyle),
    accessKeyId: z.string().min(1).optional(),
    secretAccessKey: z.string().min(1).optional(),
    storageClass: z.enum(S3_STORAGE_CLASSES).optional(),
    serverSideEncryption: z.enum(S3_SSE_MODES).optional(),
    kmsKeyId: z.string().min(1).optional(),
    partSize: bytes
      .default(S3_DEFAULTS.partSize)
      .refine((value) => value >= MIN_PART_SIZE, 'must be at least 5MiB (the smallest part S3 accepts)')
      .refine((value) => value <= 5 * 2 ** 30, 'must be at most 5GiB (the largest part S3 accepts)'),
    uploadQueueSize: z.number().int().min(1).max(64).default(S3_DEFAULTS.uploadQueueSize),
    checksums: z.string().toLowerCase().pipe(z.enum(S3_CHECKSUM_MODES)).default(S3_DEFAULTS.checksums),
    connectTimeout: timer.default(S3_DEFAULTS.connectTimeoutMs),
    idleTimeout: timer.default(S3_DEFAULTS.idleTimeoutMs),
  })
  .strict()
  .superRefine((value, ctx) => {
    if ((value.accessKeyId === undefined) !== (value.secretAccessKey === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [value.accessKeyId === undefined ? 'accessKeyId' : 'secretAccessKey'],
        message: 'set accessKeyId and secretAccessKey together, or neither to use the AWS default credential chain',
      });
    }
    if (value.kmsKeyId !== undefined && value.serverSideEncryption !== 'aws:kms') {
      ctx.addIssue({ code: 'custom', path: ['kmsKeyId'], message: 'only applies with serverSideEncryption: aws:kms' });
    }
  });

// Notifications (Slack incoming webhooks) and serve's operational alerts. Webhook URLs are secrets: no message
// here ever repeats the value given.
const webhookUrl = z
  .string({ error: 'expected a webhook URL (https://hooks.slack.com/services/…); the value is a secret and is not shown' })
  .refine(isWebhookUrl, 'expected an http(s) webhook URL such as https://hooks.slack.com/services/…; the value is a secret and is not shown');
const atLeast = (minMs: number) => timer.refine((ms) => ms >= minMs, `must be at least ${minMs} ms`);
const notify = z
  .object({
    slack: z
      .object({
        webhooks: z
          .object(
            {
              default: webhookUrl.optional(),
              critical: webhookUrl.optional(),
              high: webhookUrl.optional(),
              medium: webhookUrl.optional(),
              low: webhookUrl.optional(),
            },
            { error: 'expected a mapping of default, critical, high, medium, low to webhook URLs (the value given is not shown)' },
          )
          .strict()
          .prefault({}),
        digestInterval: atLeast(100).default(5 * 60_000),
        dedupWindow: duration.default(15 * 60_000),
        maxQueue: z.number().int().min(1).max(1_000_000).default(1000),
        timeout: atLeast(100).default(10_000),
        maxAttempts: z.number().int().min(1).max(100).default(5),
        retryInitialBackoff: timer.default(1000),
        retryMaxBackoff: timer.default(60_000),
      })
      .strict()
      .prefault({}),
    alerts: z
      .object({
        enabled: flag.default(true),
        interval: atLeast(100).default(30_000),
        spoolPercent: z.number().gt(0).max(100).default(80),
        uploadFailingFor: duration.default(5 * 60_000),
        indexLag: duration.default(10 * 60_000),
        rejectedPerInterval: z.number().int().min(1).default(100),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

export const configSchema = z
  .object({
    dataDir: z.string().min(1).default('./data'),
    server: z
      .object({
        grpc: z
          .object({
            listen: listen.default('0.0.0.0:4317'),
            // Collectors behind a Kubernetes Service keep one connection for as long as it lives: a bounded age
            // (with a grace period for calls in flight) makes them reconnect, and so spread over new replicas.
            ...http2ListenerFields({
              maxReceiveBytes: 64 * 2 ** 20,
              maxConcurrentStreams: 100,
              maxConnections: 4096,
              maxConnectionAge: 10 * 60_000,
              maxConnectionAgeGrace: 30_000,
            }),
            // The OTLP listener's own HTTP/2 server reads this (src/receiver/grpc/); the API listener (grpc-js) has none.
            initialWindowSize: bytes
              .default(64 * 1024)
              .refine((value) => value >= 65_535 && value <= 2 ** 31 - 1, 'must be between 65535 bytes (HTTP/2 default) and 2GiB'),
          })
          .strict()
          .prefault({}),
        // Health on every address (probes); /metrics to loopback or a token with the metrics scope, unless
        // allowUnauthenticatedMetrics (src/telemetry/metrics-access.ts).
        admin: z
          .object({ listen: listen.default('0.0.0.0:8888'), allowUnauthenticatedMetrics: flag.default(false) })
          .strict()
          .prefault({}),
        http,
        api,
        tls: tls.optional(),
      })
      .strict()
      .prefault({}),
    auth: z.object({ bearerTokens: z.array(bearerToken).default([]) }).strict().prefault({}),
    admission: z
      .object({
        maxInFlightBytes: bytes.default(256 * 2 ** 20),
        tenantHeader: z.string().min(1).toLowerCase().default('x-scope-orgid'),
        defaultTenant: tenantName.default('default'),
        retryAfter: timer.default(1000),
        // gRPC: an Export waits this long at its headers for room in the budget before it is refused.
        maxWait: timer.default(2000),
        // gRPC: the waiting room; its requests' sizes add up to at most waitQueueBytes (default maxInFlightBytes).
        waitQueueBytes: bytes.optional(),
        waitQueueRequests: z.number().int().min(0).max(100_000).default(256),
        // Each distinct trace id costs a few hundred bytes on its way to the index, outside the byte budget.
        // At most 5 M: a request's trace ids are listed in its archive object's manifest, whose JSON has a bounded
        // length (MAX_MANIFEST_CHARS, 256 Mi characters; 35 per trace id); one request must always fit.
        maxTraceIdsPerRequest: z
          .number()
          .int()
          .min(1)
          .max(5_000_000, 'must be at most 5000000 (an archive object manifest lists every trace id of a request)')
          .default(100_000),
        // Each distinct service.name is in the request's spool header (at most 1 MiB) and index row.
        maxServicesPerRequest: z.number().int().min(1).max(20_000).default(10_000),
      })
      .strict()
      .prefault({}),
    spool: z
      .object({
        dir: z.string().min(1).optional(),
        maxBytes: bytes.default(4 * 2 ** 30),
        segmentBytes: bytes.default(64 * 2 ** 20),
        durability: z.enum(['fsync', 'none']).default('fsync'),
        handoverBytes: bytes.default(16 * 2 ** 20),
      })
      .strict()
      .prefault({}),
    archiver: z
      .object({
        maxObjectBytes: bytes.default(64 * 2 ** 20),
        maxObjectAge: duration.default(60_000),
        codec: z.enum(CODECS).default('zstd'),
        level: z.number().int().min(0).max(22).optional(),
        uploadConcurrency: z.number().int().min(1).max(64).default(4),
        maxOpenObjects: z.number().int().min(1).max(1024).default(32),
        maxOpenTraceIds: z.number().int().min(1).max(100_000_000).default(250_000),
        retryInitialBackoff: timer.default(500),
        retryMaxBackoff: timer.default(30_000),
        maxLag: duration.optional(),
        keepClientBlocks: z.boolean().default(true),
      })
      .strict()
      .superRefine((value, ctx) => {
        const [min, max] = LEVEL_RANGE[value.codec];
        if (value.level !== undefined && (value.level < min || value.level > max)) {
          ctx.addIssue({ code: 'custom', path: ['level'], message: `${value.codec} levels are ${min} to ${max}, got ${value.level}` });
        }
        // Requests of a quiet tenant wait up to maxObjectAge in an open object: that is not a stall.
        if (value.maxLag !== undefined && value.maxLag <= value.maxObjectAge) {
          ctx.addIssue({ code: 'custom', path: ['maxLag'], message: `must be longer than archiver.maxObjectAge (${value.maxObjectAge} ms)` });
        }
      })
      .transform((value) => ({ ...value, maxLag: value.maxLag ?? defaultMaxLag(value.maxObjectAge) }))
      .prefault({}),
    storage: z
      .object({
        type: z.enum(['filesystem', 's3']).default('filesystem'),
        filesystem: z.object({ dir: z.string().min(1).optional() }).strict().prefault({}),
        s3: s3Storage.prefault({}),
      })
      .strict()
      .superRefine((value, ctx) => {
        if (value.type === 's3' && value.s3.bucket === undefined) {
          ctx.addIssue({ code: 'custom', path: ['s3', 'bucket'], message: 'required when storage.type is s3 (or set S3_BUCKET)' });
        }
      })
      .prefault({}),
    index: z
      .object({
        type: z.enum(['sqlite', 'clickhouse']).default('sqlite'),
        sqlite: z.object({ path: z.string().min(1).optional() }).strict().prefault({}),
        clickhouse: clickhouseIndex,
      })
      .strict()
      .prefault({}),
    notify,
    // Where the Replay RPC may send. Empty: nowhere. (The CLI's replay runs with the operator's own rights.)
    replay: z.object({ allowedTargets: z.array(replayTargetPattern).default([]) }).strict().prefault({}),
    // Distinct requests (src/query/dedup.ts): twins received within this window of each other show once; 0 = off.
    dedup: z.object({ window: duration.default(15 * 60_000) }).strict().prefault({}),
    /** Absent: retention never runs (src/retention/retention-config.ts). */
    retention: retentionSchema.optional(),
    shutdown: z.object({ gracePeriod: timer.default(30_000) }).strict().prefault({}),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.storage.type !== 's3') return;
    // An object outgrows maxObjectBytes by at most one request, plus its manifest (MAX_MANIFEST_CHARS of JSON,
    // gzip-stored, ≤ 3 bytes a character in the worst case) and framing.
    const largest = Math.max(config.server.grpc.maxReceiveBytes, config.server.http.maxReceiveBytes);
    const worst = config.archiver.maxObjectBytes + largest + 3 * MAX_MANIFEST_CHARS + 2 ** 20;
    const most = config.storage.s3.partSize * S3_MAX_PARTS;
    if (worst > most) {
      ctx.addIssue({
        code: 'custom',
        path: ['archiver', 'maxObjectBytes'],
        message:
          `an archive object can reach ${worst} bytes (maxObjectBytes, one more request of up to maxReceiveBytes, ` +
          `the manifest), more than S3 stores in 10000 parts of storage.s3.partSize (${most} bytes): ` +
          `lower maxObjectBytes or raise partSize`,
      });
    }
  });

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
