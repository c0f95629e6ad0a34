// BlobStore on S3 or an S3-compatible server (MinIO, s3rver). Keys live under the configured prefix; list() strips
// it again. Writes stream into multipart uploads (s3-writer.ts); reads are absolute byte ranges.
//
// Only what real S3 guarantees is relied on, and what some servers get wrong is checked rather than trusted:
// - ranges are always absolute (`bytes=a-b`, never the suffix form s3rver mis-serves), and a reply that starts
//   elsewhere or is longer than asked (s3rver answers `bytes=0-0` with the whole object) is cut to what was asked;
// - after an upload completes, HeadObject confirms the stored size, so a server that kept the request's
//   aws-chunked framing instead of the bytes is caught (and the object removed) rather than indexed;
// - each listing page is put in byte order (S3 lists that way already; s3rver lists in directory order), and a
//   listing that claims to be truncated is never taken as finished (s3-listing.ts);
// - an upload the server calls complete must be there when HeadObject asks.
import type { S3Client } from '@aws-sdk/client-s3';
import { s3Sdk } from './aws-sdk.js';
import { ARCHIVE_KEY_PREFIX, type ArchiveTarget, type BlobInfo, type BlobStore, type BlobWriter, type WriteOptions } from './blob-store.js';
import { validateBlobKey, validateBlobPrefix } from './blob-key.js';
import { createS3Client } from './s3-client.js';
import { briefS3Error, isS3InvalidRange, isS3NotFound, s3OperationError, s3StartupError } from './s3-errors.js';
import { MultipartCleanup } from './s3-multipart-cleanup.js';
import { checkS3Settings, describeS3Location, normalizeS3Prefix, type S3Settings } from './s3-settings.js';
import { S3BlobWriter } from './s3-writer.js';
import { compareKeys, listObjectPages } from './s3-listing.js';

const { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand } = s3Sdk;
import { BackendUnavailableError, ConfigError, CorruptDataError, InvalidArgumentError, NotFoundError } from '../errors.js';
import { silentLogger, type Logger } from '../telemetry/logger.js';

/** Multipart uploads older than this at start-up were left by a crash: no live writer takes an hour per object. */
const STALE_UPLOAD_AGE_MS = 60 * 60 * 1000;
/** Keys of archived objects: `_archive/s3/<bucket>/<full key in that bucket>`, wherever the store's own prefix is. */
const S3_ARCHIVE_PREFIX = `${ARCHIVE_KEY_PREFIX}s3/`;
/** CopyObject's limit for a single copy; larger objects would need UploadPartCopy. */
const MAX_SINGLE_COPY_BYTES = 5 * 2 ** 30;
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Bucket and full S3 key of a store key. */
interface S3Location {
  Bucket: string;
  Key: string;
}

export interface S3BlobStoreOptions {
  logger?: Logger;
  /** Keys per ListObjectsV2 page (S3's maximum and default is 1000); small values exercise paging in tests. */
  listPageSize?: number;
  staleUploadAgeMs?: number;
}

export class S3BlobStore implements BlobStore {
  readonly settings: S3Settings;
  private readonly client: S3Client;
  private readonly logger: Logger;
  private readonly cleanup: MultipartCleanup;
  private readonly listPageSize: number | undefined;
  private readonly staleUploadAgeMs: number;

  constructor(settings: S3Settings, options: S3BlobStoreOptions = {}) {
    checkS3Settings(settings);
    this.settings = { ...settings, prefix: normalizeS3Prefix(settings.prefix) };
    this.client = createS3Client(this.settings);
    this.logger = options.logger ?? silentLogger();
    this.cleanup = new MultipartCleanup(this.client, this.settings, this.logger);
    this.listPageSize = options.listPageSize;
    this.staleUploadAgeMs = options.staleUploadAgeMs ?? STALE_UPLOAD_AGE_MS;
  }

  async start(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.settings.bucket }));
    } catch (error) {
      throw s3StartupError(this.settings, error);
    }
    await this.cleanup.sweep(this.staleUploadAgeMs);
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  describe(): string {
    return describeS3Location(this.settings);
  }

  createWriter(key: string, options: WriteOptions = {}): BlobWriter {
    validateBlobKey(key);
    const { Bucket, Key: objectKey } = this.locate(key);
    const storageClass = options.storageClass ?? this.settings.storageClass;
    return new S3BlobWriter({
      client: this.client,
      key,
      params: {
        Bucket,
        Key: objectKey,
        ContentType: 'application/octet-stream',
        ...(storageClass === undefined ? {} : { StorageClass: storageClass as S3Settings['storageClass'] }),
        ...(this.settings.serverSideEncryption === undefined
          ? {}
          : { ServerSideEncryption: this.settings.serverSideEncryption }),
        ...(this.settings.kmsKeyId === undefined ? {} : { SSEKMSKeyId: this.settings.kmsKeyId }),
      },
      partSize: this.settings.partSize,
      queueSize: this.settings.uploadQueueSize,
      toError: (action, error) => s3OperationError(action, key, this.settings, error),
      discardUpload: async (uploadId) => {
        await this.cleanup.abort(objectKey, uploadId, Bucket);
      },
      verifyStored: (size) => this.verifyStored(key, size),
    });
  }

  async readRange(key: string, offset: number, length: number): Promise<Buffer> {
    validateBlobKey(key);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new InvalidArgumentError(`invalid range ${offset}+${length} for ${key}`);
    }
    if (length === 0) {
      // HTTP cannot ask for zero bytes; the object's size says whether the (empty) range exists.
      const info = await this.stat(key);
      if (info === null) throw this.missing(key);
      if (offset > info.size) throw pastTheEnd(key, offset, length, info.size);
      return Buffer.alloc(0);
    }
    let response;
    try {
      response = await this.client.send(
        new GetObjectCommand({
          ...this.locate(key),
          Range: `bytes=${offset}-${offset + length - 1}`,
        }),
      );
    } catch (error) {
      if (isS3InvalidRange(error)) throw pastTheEnd(key, offset, length);
      if (isS3NotFound(error)) throw this.missing(key);
      throw s3OperationError('read', key, this.settings, error);
    }
    const range = parseContentRange(response.ContentRange);
    if (range === null && response.$metadata.httpStatusCode === 206) {
      // Partial content without a readable Content-Range: where the bytes start is unknown, and assuming 0 would
      // return the wrong bytes for any offset.
      (response.Body as { destroy?: () => void } | undefined)?.destroy?.();
      throw new BackendUnavailableError(
        `S3 answered a read of ${key} at ${offset} with partial content but no usable Content-Range ` +
          `(${JSON.stringify(response.ContentRange ?? null)}) in ${this.describe()}`,
      );
    }
    // Without Content-Range the server sent the whole object (a 200 to a range request is allowed).
    const bodyStart = range?.start ?? 0;
    if (bodyStart > offset) {
      throw new CorruptDataError(
        `S3 answered a read of ${key} at ${offset} with bytes from ${bodyStart} (${response.ContentRange}) in ${this.describe()}`,
      );
    }
    if (range?.size !== undefined && offset + length > range.size) {
      // Known to be short before reading (s3rver even announces a byte it never sends for an empty object).
      (response.Body as { destroy?: () => void } | undefined)?.destroy?.();
      throw pastTheEnd(key, offset, length, range.size);
    }
    let slice: Buffer;
    try {
      slice = await readSlice(response.Body as AsyncIterable<Uint8Array>, offset - bodyStart, length);
    } catch (error) {
      throw s3OperationError('read', key, this.settings, error);
    }
    if (slice.length < length) {
      if (range?.size !== undefined) {
        // The object holds the whole range (checked above), so the answer was cut short: a transport problem to
        // retry, not a missing range.
        throw new BackendUnavailableError(
          `S3 sent ${slice.length} of the ${length} bytes asked for at ${offset} of ${key} (${range.size} bytes) in ${this.describe()}`,
        );
      }
      throw pastTheEnd(key, offset, length, bodyStart + slice.length);
    }
    return slice;
  }

  async stat(key: string): Promise<BlobInfo | null> {
    validateBlobKey(key);
    try {
      const head = await this.client.send(new HeadObjectCommand(this.locate(key)));
      return { key, size: head.ContentLength ?? 0, ...(head.StorageClass === undefined ? {} : { storageClass: head.StorageClass }) };
    } catch (error) {
      if (isS3NotFound(error)) return null;
      throw s3OperationError('stat', key, this.settings, error);
    }
  }

  /**
   * Keys under the store's prefix; with an archive prefix (`_archive/s3/<bucket>/…`, bucket named whole), the
   * archived keys in that bucket instead — never the store's own objects, which are listed under their own keys.
   */
  async *list(prefix: string): AsyncIterable<BlobInfo> {
    validateBlobPrefix(prefix);
    if (prefix.startsWith(S3_ARCHIVE_PREFIX)) {
      const rest = prefix.slice(S3_ARCHIVE_PREFIX.length);
      const slash = rest.indexOf('/');
      if (slash <= 0) {
        throw new InvalidArgumentError(`list prefix ${JSON.stringify(prefix)} must name an archive bucket whole (${S3_ARCHIVE_PREFIX}<bucket>/)`);
      }
      const bucket = rest.slice(0, slash);
      const own = this.settings.prefix;
      const reserved = `${own}${ARCHIVE_KEY_PREFIX}`;
      const ours = (key: string): boolean => bucket === this.settings.bucket && key.startsWith(own) && !key.startsWith(reserved);
      yield* this.listBucket(bucket, '', rest.slice(slash + 1), (key) => (ours(key) ? null : `${S3_ARCHIVE_PREFIX}${bucket}/${key}`));
      return;
    }
    // Archived objects under the reserved prefix are listed under their archive keys' own locations, not here.
    yield* this.listBucket(this.settings.bucket, this.settings.prefix, prefix, (key) => (key.startsWith(ARCHIVE_KEY_PREFIX) ? null : key));
  }

  /** Objects of `bucket` under `storePrefix + prefix`, named by `keyOf(key without storePrefix)` (null: skipped). */
  private async *listBucket(
    bucket: string,
    storePrefix: string,
    prefix: string,
    keyOf: (key: string) => string | null,
  ): AsyncIterable<BlobInfo> {
    const pages = listObjectPages(
      this.client,
      {
        Bucket: bucket,
        ...(storePrefix + prefix === '' ? {} : { Prefix: storePrefix + prefix }),
        ...(this.listPageSize === undefined ? {} : { MaxKeys: this.listPageSize }),
      },
      `s3://${bucket}/${storePrefix}${prefix}`,
      (error) => s3OperationError('list', `keys under ${JSON.stringify(prefix)}`, this.settings, error),
    );
    for await (const page of pages) {
      const items: BlobInfo[] = [];
      for (const object of page) {
        if (object.Key === undefined || !object.Key.startsWith(storePrefix)) continue;
        const key = keyOf(object.Key.slice(storePrefix.length));
        // Not every object in a shared bucket is ours to read (e.g. "folder/" markers made by consoles).
        if (key === null || !isValidKey(key)) continue;
        items.push({ key, size: object.Size ?? 0 });
      }
      items.sort((a, b) => compareKeys(a.key, b.key));
      yield* items;
    }
  }

  async delete(key: string): Promise<void> {
    validateBlobKey(key);
    try {
      await this.client.send(new DeleteObjectCommand(this.locate(key)));
    } catch (error) {
      if (isS3NotFound(error)) return;
      throw s3OperationError('delete', key, this.settings, error);
    }
  }

  archiveKey(key: string, target: ArchiveTarget): string {
    validateBlobKey(key);
    if (target.dir !== undefined) throw new ConfigError('archive dir is for the filesystem blob store; on S3 use bucket, prefix and storageClass');
    if (key.startsWith(ARCHIVE_KEY_PREFIX)) throw new InvalidArgumentError(`${key} is archived already`);
    const bucket = target.bucket ?? this.settings.bucket;
    if (!BUCKET_NAME.test(bucket)) throw new ConfigError(`archive bucket ${JSON.stringify(bucket)} is not an S3 bucket name`);
    const reserved = `${this.settings.prefix}${ARCHIVE_KEY_PREFIX}`;
    const prefix = normalizeS3Prefix(target.prefix ?? reserved);
    // In the store's own bucket, an archive must not be where list() (and so reindex) looks, except the reserved
    // `<prefix>_archive/`, which list() skips: an object must never be indexed twice.
    const own = this.settings.prefix;
    if (bucket === this.settings.bucket && !prefix.startsWith(reserved) && (prefix.startsWith(own) || own.startsWith(prefix))) {
      throw new ConfigError(
        `archive location s3://${bucket}/${prefix} overlaps the store's s3://${bucket}/${own}: use another bucket, a prefix ` +
          `outside it, or one under ${reserved}`,
      );
    }
    const archived = `${S3_ARCHIVE_PREFIX}${bucket}/${prefix}${key}`;
    validateBlobKey(archived);
    return archived;
  }

  /** Server-side CopyObject (nothing passes through this process), then HeadObject checks the copy's size. */
  async copy(from: string, to: string, options: WriteOptions = {}): Promise<BlobInfo> {
    const source = await this.stat(from);
    if (source === null) throw this.missing(from);
    if (source.size > MAX_SINGLE_COPY_BYTES) {
      throw new InvalidArgumentError(`${from} is ${source.size} bytes, more than one S3 CopyObject can copy (5 GiB)`);
    }
    validateBlobKey(to);
    const src = this.locate(from);
    const dst = this.locate(to);
    // S3 refuses to copy an object onto itself unchanged; the copy is already there.
    if (src.Bucket === dst.Bucket && src.Key === dst.Key && options.storageClass === undefined) return source;
    const storageClass = options.storageClass ?? this.settings.storageClass;
    try {
      await this.client.send(
        new CopyObjectCommand({
          ...dst,
          CopySource: `${src.Bucket}/${src.Key.split('/').map(encodeURIComponent).join('/')}`,
          ...(storageClass === undefined ? {} : { StorageClass: storageClass as S3Settings['storageClass'] }),
          ...(this.settings.serverSideEncryption === undefined ? {} : { ServerSideEncryption: this.settings.serverSideEncryption }),
          ...(this.settings.kmsKeyId === undefined ? {} : { SSEKMSKeyId: this.settings.kmsKeyId }),
        }),
      );
    } catch (error) {
      if (isS3NotFound(error)) throw this.missing(from);
      throw s3OperationError('copy', `${from} to ${to}`, this.settings, error);
    }
    const copied = await this.stat(to);
    if (copied === null || copied.size !== source.size) {
      throw new CorruptDataError(`S3 holds ${copied?.size ?? 'no'} bytes for the copy ${to} of ${from} (${source.size} bytes)`);
    }
    return copied;
  }

  /** The store's bucket and prefix, or the bucket and full key an archive key names. */
  private locate(key: string): S3Location {
    if (key.startsWith(S3_ARCHIVE_PREFIX)) {
      const rest = key.slice(S3_ARCHIVE_PREFIX.length);
      const slash = rest.indexOf('/');
      if (slash > 0) return { Bucket: rest.slice(0, slash), Key: rest.slice(slash + 1) };
    }
    return { Bucket: this.settings.bucket, Key: this.settings.prefix + key };
  }

  private missing(key: string): NotFoundError {
    return new NotFoundError(`object ${key} does not exist in ${this.describe()}`);
  }

  /** Called once an upload completed: the object must hold exactly the bytes written. */
  private async verifyStored(key: string, size: number): Promise<void> {
    let stored: number | undefined;
    try {
      const head = await this.client.send(new HeadObjectCommand(this.locate(key)));
      stored = head.ContentLength;
    } catch (error) {
      if (isS3NotFound(error)) {
        // The server said the upload completed, yet there is no object: CompleteMultipartUpload can answer 200 with
        // an <Error> body, which the SDK misses when anything (a newline) follows </Error>. Trusting it would index
        // an object that does not exist and release its spooled data; failing makes the archiver write it again.
        throw new BackendUnavailableError(
          `S3 reported the upload of ${key} complete, but HeadObject finds no object there (${this.describe()})`,
          { cause: error },
        );
      }
      // The upload itself succeeded; a failed check is not a reason to write the object again under a new key.
      this.logger.warn({ key, error: briefS3Error(error) }, 'uploaded object could not be verified with HeadObject');
      return;
    }
    if (stored === size) return;
    await this.delete(key).catch(() => undefined);
    throw new CorruptDataError(
      `S3 stored ${stored ?? 'an unknown number of'} bytes for ${key} but ${size} were sent, so it was removed again ` +
        `(${this.describe()}). A server that keeps the aws-chunked request framing does this: set ` +
        'storage.s3.checksums: when_required (S3_CHECKSUMS=when_required) for it.',
    );
  }
}

function isValidKey(key: string): boolean {
  try {
    validateBlobKey(key);
    return true;
  } catch {
    return false;
  }
}

function pastTheEnd(key: string, offset: number, length: number, size?: number): NotFoundError {
  return new NotFoundError(
    `range ${offset}+${length} is past the end of ${key}${size === undefined ? '' : ` (${size} bytes)`}`,
  );
}

/** `bytes 100-199/1000` → start 100, size 1000 (size undefined for `*`). */
export function parseContentRange(header: string | undefined): { start: number; size: number | undefined } | null {
  if (header === undefined) return null;
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/i.exec(header.trim());
  if (!match) return null;
  return { start: Number(match[1]), size: match[3] === '*' ? undefined : Number(match[3]) };
}

/**
 * `length` bytes of the body after skipping `skip`; shorter if the body ends first. Stops reading (and so closes
 * the response) as soon as it has enough, in case the server sends more than asked.
 */
async function readSlice(body: AsyncIterable<Uint8Array>, skip: number, length: number): Promise<Buffer> {
  const out = Buffer.alloc(length);
  let filled = 0;
  let toSkip = skip;
  for await (const raw of body) {
    let chunk = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    if (toSkip > 0) {
      if (chunk.length <= toSkip) {
        toSkip -= chunk.length;
        continue;
      }
      chunk = chunk.subarray(toSkip);
      toSkip = 0;
    }
    const take = Math.min(chunk.length, length - filled);
    chunk.copy(out, filled, 0, take);
    filled += take;
    if (filled === length) break;
  }
  return filled === length ? out : out.subarray(0, filled);
}
