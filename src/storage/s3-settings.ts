// What the S3 adapter needs to know, independent of where it came from (YAML, environment, a test).
import { ConfigError } from '../errors.js';

/**
 * `when_supported` (the AWS SDK's default) adds flexible checksums to every request that allows them: right for AWS
 * and MinIO. `when_required` sends them only where the API demands it: needed for servers that store a streamed
 * body's aws-chunked framing instead of the body (s3rver).
 */
export type S3ChecksumMode = 'when_supported' | 'when_required';

export const S3_CHECKSUM_MODES = ['when_supported', 'when_required'] as const;
export const S3_SSE_MODES = ['AES256', 'aws:kms'] as const;
/**
 * Storage classes whose objects can be read at once. GLACIER and DEEP_ARCHIVE are left out on purpose: their objects
 * need a restore before any byte range can be read, so `get` would fail on everything archived.
 */
export const S3_STORAGE_CLASSES = [
  'STANDARD',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'GLACIER_IR',
  'REDUCED_REDUNDANCY',
  'EXPRESS_ONEZONE',
] as const;

export interface S3Settings {
  /** Custom endpoint (MinIO, s3rver, another S3-compatible service); AWS's own when omitted. */
  endpoint?: string | undefined;
  region: string;
  bucket: string;
  /** Every key is stored under this prefix ('' or ending in '/'); list() results are relative to it. */
  prefix: string;
  /** Path-style URLs (http://host/bucket/key), which MinIO and s3rver need. */
  forcePathStyle: boolean;
  /** Static credentials; the AWS default credential chain when omitted. */
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  storageClass?: (typeof S3_STORAGE_CLASSES)[number] | undefined;
  serverSideEncryption?: (typeof S3_SSE_MODES)[number] | undefined;
  kmsKeyId?: string | undefined;
  /** Multipart part size in bytes (S3's minimum is 5 MiB). */
  partSize: number;
  /** Parts of one upload in flight at once; an upload holds at most about partSize × (this + 2) bytes. */
  uploadQueueSize: number;
  checksums: S3ChecksumMode;
  /** Abandon a connection attempt after this long. */
  connectTimeoutMs: number;
  /** Fail a request whose socket has been silent this long (a hung server must not hang an upload). */
  idleTimeoutMs: number;
}

export const MIN_PART_SIZE = 5 * 2 ** 20;

export const S3_DEFAULTS = {
  region: 'us-east-1',
  prefix: '',
  forcePathStyle: false,
  partSize: 8 * 2 ** 20,
  uploadQueueSize: 4,
  checksums: 'when_supported',
  connectTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
} as const satisfies Partial<S3Settings>;

/**
 * The key prefix as stored: no leading '/', exactly one trailing '/' unless empty, and no segment that could
 * confuse a path-minded reader ('.', '..', empty).
 */
export function normalizeS3Prefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  if (trimmed.includes('\0') || trimmed.includes('\\')) {
    throw new ConfigError(`invalid S3 key prefix ${JSON.stringify(prefix)}: it contains NUL or a backslash`);
  }
  for (const segment of trimmed.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw new ConfigError(`invalid S3 key prefix ${JSON.stringify(prefix)}: it has an empty, "." or ".." segment`);
    }
  }
  return `${trimmed}/`;
}

export function isValidS3Prefix(prefix: string): boolean {
  try {
    normalizeS3Prefix(prefix);
    return true;
  } catch {
    return false;
  }
}

/** Checks what the schema cannot express on its own; throws ConfigError with a message for a person. */
export function checkS3Settings(settings: S3Settings): void {
  if (!settings.bucket) throw new ConfigError('storage.s3.bucket (S3_BUCKET) is required for the s3 blob store');
  if ((settings.accessKeyId === undefined) !== (settings.secretAccessKey === undefined)) {
    throw new ConfigError(
      'storage.s3.accessKeyId and storage.s3.secretAccessKey (S3_ACCESS_KEY, S3_SECRET_KEY) must be set together, ' +
        'or both left out to use the AWS default credential chain',
    );
  }
  if (settings.kmsKeyId !== undefined && settings.serverSideEncryption !== 'aws:kms') {
    throw new ConfigError('storage.s3.kmsKeyId only applies with storage.s3.serverSideEncryption: aws:kms');
  }
  if (!Number.isSafeInteger(settings.partSize) || settings.partSize < MIN_PART_SIZE) {
    throw new ConfigError(`storage.s3.partSize must be at least 5MiB (S3's minimum part size), got ${settings.partSize}`);
  }
  if (!Number.isInteger(settings.uploadQueueSize) || settings.uploadQueueSize < 1) {
    throw new ConfigError(`storage.s3.uploadQueueSize must be a positive integer, got ${settings.uploadQueueSize}`);
  }
  if (settings.endpoint !== undefined) {
    try {
      new URL(settings.endpoint);
    } catch {
      throw new ConfigError(`storage.s3.endpoint (S3_ENDPOINT) must be a URL such as http://127.0.0.1:9000`);
    }
  }
}

/** The endpoint for messages and logs: never user:password@ from a URL, never a query string. */
export function displayEndpoint(settings: Pick<S3Settings, 'endpoint' | 'region'>): string {
  if (settings.endpoint === undefined) return `AWS S3 (${settings.region})`;
  try {
    const url = new URL(settings.endpoint);
    return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
  } catch {
    return '(invalid endpoint)';
  }
}

/** `s3://bucket/prefix at endpoint`: what describe() and every error message say about where. */
export function describeS3Location(settings: Pick<S3Settings, 'endpoint' | 'region' | 'bucket' | 'prefix'>): string {
  return `s3://${settings.bucket}/${settings.prefix} at ${displayEndpoint(settings)}`;
}
