// Reading AWS SDK errors: what kind of failure it was, and a short description for a person. Messages name the
// endpoint, bucket and key, never credentials.
import { BackendUnavailableError, OtlpCaptureError } from '../errors.js';
import { describeS3Location, displayEndpoint, type S3Settings } from './s3-settings.js';
import { isNetworkErrorCode } from '../util/network-errors.js';

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}


function shape(error: unknown): SdkErrorShape {
  return typeof error === 'object' && error !== null ? (error as SdkErrorShape) : {};
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function s3Status(error: unknown): number | undefined {
  const status = shape(error).$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

export function s3ErrorName(error: unknown): string | undefined {
  return text(shape(error).name);
}

/** The key (or, for HEAD requests, which carry no error body, whatever was asked for) does not exist. */
export function isS3NotFound(error: unknown): boolean {
  const name = s3ErrorName(error);
  if (name === 'NoSuchBucket') return false; // the bucket vanished: a backend problem, not a missing object
  return name === 'NoSuchKey' || name === 'NotFound' || s3Status(error) === 404;
}

export function isS3InvalidRange(error: unknown): boolean {
  return s3ErrorName(error) === 'InvalidRange' || s3Status(error) === 416;
}

/** The server does not implement the operation (s3rver: ListMultipartUploads, AbortMultipartUpload). */
export function isS3Unsupported(error: unknown): boolean {
  const name = s3ErrorName(error);
  const status = s3Status(error);
  return name === 'NotImplemented' || name === 'MethodNotAllowed' || status === 501 || status === 405;
}

/** ECONNREFUSED, TimeoutError, …: the request got no answer from S3 at all; undefined otherwise. */
export function networkFailure(error: unknown): string | undefined {
  const code = text(shape(error).code);
  if (isNetworkErrorCode(code)) return code;
  if (s3ErrorName(error) === 'TimeoutError') return 'TimeoutError';
  // The SDK turns an error it does not recognise as an Error (one from another realm, e.g. under a test runner's
  // VM) into "AWS SDK error wrapper for Error: connect ECONNREFUSED …": the code survives only in the text.
  const wrapped = /^AWS SDK error wrapper for (.*)$/s.exec(text(shape(error).message) ?? '');
  if (wrapped) {
    const found = /\b(E[A-Z]+|TimeoutError)\b/.exec(wrapped[1]!);
    if (found && (isNetworkErrorCode(found[1]) || found[1] === 'TimeoutError')) return found[1];
  }
  return undefined;
}

export function isNetworkError(error: unknown): boolean {
  return networkFailure(error) !== undefined;
}

/** One short phrase: `ECONNREFUSED`, `NoSuchBucket (HTTP 404): The specified bucket does not exist`. */
export function briefS3Error(error: unknown): string {
  const network = networkFailure(error);
  if (network !== undefined) return network;
  const { message } = shape(error);
  const name = s3ErrorName(error) ?? 'Error';
  const status = s3Status(error);
  const detail = text(message);
  return (
    name +
    (status === undefined ? '' : ` (HTTP ${status})`) +
    (detail === undefined || detail === name || detail === 'UnknownError' ? '' : `: ${detail.split('\n')[0]}`)
  );
}

/**
 * The server refused the flexible-checksum headers that the AWS SDK sends by default since 2025
 * (`x-amz-checksum-crc32`, `x-amz-sdk-checksum-algorithm`, `x-amz-checksum-algorithm` on CreateMultipartUpload):
 * some S3-compatible services answer 400 or 501 naming the header. HeadBucket at start sends none, so such a server
 * passes start-up and then fails every upload; the error has to say which setting fixes it.
 */
export function isS3ChecksumRefusal(error: unknown): boolean {
  const status = s3Status(error);
  if (status !== 400 && status !== 501) return false;
  const name = s3ErrorName(error) ?? '';
  const message = text(shape(error).message) ?? '';
  // A checksum that did not match (BadDigest, XAmzContentChecksumMismatch) is damage in transit, not a refusal.
  if (/digest|mismatch/i.test(name) || /match/i.test(message)) return false;
  return /checksum/i.test(`${message} ${name}`);
}

const CHECKSUM_HINT =
  'this server seems not to accept the AWS SDK\'s default request checksums: set storage.s3.checksums: when_required ' +
  '(S3_CHECKSUMS=when_required)';

/** An operation on one key failed: a BackendUnavailableError naming the key and the store. */
export function s3OperationError(action: string, key: string, settings: S3Settings, error: unknown): OtlpCaptureError {
  if (error instanceof OtlpCaptureError) return error;
  const hint = settings.checksums === 'when_supported' && isS3ChecksumRefusal(error) ? ` (${CHECKSUM_HINT})` : '';
  return new BackendUnavailableError(
    `cannot ${action} object ${key} in ${describeS3Location(settings)}: ${briefS3Error(error)}${hint}`,
    { cause: error },
  );
}

/** Why HeadBucket failed at start-up, worded for whoever has to fix it. */
export function s3StartupError(settings: S3Settings, error: unknown): BackendUnavailableError {
  const where = displayEndpoint(settings);
  const bucket = JSON.stringify(settings.bucket);
  const status = s3Status(error);
  const name = s3ErrorName(error);
  let message: string;
  if (name === 'CredentialsProviderError') {
    message =
      'no AWS credentials found: set storage.s3.accessKeyId and storage.s3.secretAccessKey (S3_ACCESS_KEY, ' +
      'S3_SECRET_KEY), or configure the AWS default credential chain (AWS_PROFILE, AWS_ACCESS_KEY_ID, an instance role)';
  } else if (isNetworkError(error) && networkFailure(error) === 'ENOTFOUND' && settings.endpoint !== undefined && !settings.forcePathStyle) {
    // Virtual-hosted addressing puts the bucket in the host name (bucket.localhost, bucket.minio): the endpoint
    // named in the message may resolve fine while that name does not.
    message =
      `cannot reach S3 at ${where} (ENOTFOUND): with virtual-hosted addressing the bucket is part of the host name ` +
      `(${settings.bucket}.<endpoint host>), which does not resolve; MinIO and most self-hosted servers need ` +
      'storage.s3.forcePathStyle: true (S3_FORCE_PATH_STYLE=true), otherwise check storage.s3.endpoint (S3_ENDPOINT)';
  } else if (isNetworkError(error)) {
    message =
      `cannot reach S3 at ${where} (${briefS3Error(error)}): is the server running, ` +
      'and are storage.s3.endpoint (S3_ENDPOINT) and the network right?';
  } else if (status === 404 || name === 'NoSuchBucket' || name === 'NotFound') {
    message = `S3 bucket ${bucket} does not exist at ${where}: create it, or fix storage.s3.bucket (S3_BUCKET)`;
  } else if (status === 401 || status === 403) {
    message =
      `S3 at ${where} refused access to bucket ${bucket} (HTTP ${status}): check the credentials ` +
      '(storage.s3.accessKeyId/secretAccessKey, S3_ACCESS_KEY/S3_SECRET_KEY, or the AWS credential chain) ' +
      'and that they may use this bucket';
  } else if (status === 301 || name === 'PermanentRedirect' || name === 'AuthorizationHeaderMalformed') {
    message =
      `S3 bucket ${bucket} at ${where} is not in region ${settings.region}: set storage.s3.region (S3_REGION) ` +
      'to the bucket\'s region';
  } else {
    message = `S3 bucket ${bucket} at ${where} is not usable: ${briefS3Error(error)}`;
  }
  return new BackendUnavailableError(message, { cause: error });
}
