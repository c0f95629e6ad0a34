// Multipart uploads that never completed keep their parts (and their cost) on the server until aborted. A failed or
// aborted write aborts its own upload; a crash leaves it behind, so start-up sweeps old ones under the prefix.
// Not every server can do either (s3rver has neither ListMultipartUploads nor AbortMultipartUpload): that is said
// once, clearly, and is never a failure.
import type { S3Client } from '@aws-sdk/client-s3';
import { s3Sdk } from './aws-sdk.js';
import type { Logger } from '../telemetry/logger.js';
import { briefS3Error, isS3NotFound, isS3Unsupported } from './s3-errors.js';
import { describeS3Location, type S3Settings } from './s3-settings.js';

const { AbortMultipartUploadCommand, ListMultipartUploadsCommand } = s3Sdk;

const LIFECYCLE_HINT =
  'on AWS or MinIO a bucket lifecycle rule (AbortIncompleteMultipartUpload) removes such parts';

export class MultipartCleanup {
  private abortUnsupportedSaid = false;

  constructor(
    private readonly client: S3Client,
    private readonly settings: S3Settings,
    private readonly logger: Logger,
  ) {}

  /**
   * Aborts one multipart upload (full S3 key; in the store's bucket unless another is named). Never throws: leftover
   * parts cost storage, not correctness.
   */
  async abort(objectKey: string, uploadId: string, bucket: string = this.settings.bucket): Promise<boolean> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: objectKey, UploadId: uploadId }));
      return true;
    } catch (error) {
      if (isS3NotFound(error)) return true; // NoSuchUpload: already gone
      if (isS3Unsupported(error)) {
        if (!this.abortUnsupportedSaid) {
          this.abortUnsupportedSaid = true;
          this.logger.warn(
            { store: describeS3Location(this.settings), error: briefS3Error(error) },
            `this S3 server does not support AbortMultipartUpload: parts of failed uploads stay on it (${LIFECYCLE_HINT})`,
          );
        }
        return false;
      }
      this.logger.warn(
        { key: objectKey, uploadId, error: briefS3Error(error) },
        'could not abort a multipart upload; its parts stay on the server until a later start-up sweeps them',
      );
      return false;
    }
  }

  /** Aborts multipart uploads under the prefix initiated before `olderThanMs` ago. Never throws. */
  async sweep(olderThanMs: number, nowMs: number = Date.now()): Promise<{ supported: boolean; aborted: number }> {
    const store = describeS3Location(this.settings);
    let aborted = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.settings.bucket,
            ...(this.settings.prefix === '' ? {} : { Prefix: this.settings.prefix }),
            ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker }),
            ...(uploadIdMarker === undefined ? {} : { UploadIdMarker: uploadIdMarker }),
          }),
        );
      } catch (error) {
        if (isS3Unsupported(error)) {
          this.logger.info(
            { store, error: briefS3Error(error) },
            `this S3 server cannot list multipart uploads, so uploads left by a crash are not cleaned up at start (${LIFECYCLE_HINT})`,
          );
          return { supported: false, aborted };
        }
        this.logger.warn({ store, error: briefS3Error(error) }, 'could not list stale multipart uploads; trying again at the next start');
        return { supported: true, aborted };
      }
      for (const upload of page.Uploads ?? []) {
        if (upload.Key === undefined || upload.UploadId === undefined || upload.Initiated === undefined) continue;
        if (!upload.Key.startsWith(this.settings.prefix)) continue;
        if (nowMs - upload.Initiated.getTime() < olderThanMs) continue; // may belong to a writer that is still running
        if (await this.abort(upload.Key, upload.UploadId)) aborted += 1;
      }
      const more =
        page.IsTruncated === true &&
        page.NextKeyMarker !== undefined &&
        (page.NextKeyMarker !== keyMarker || page.NextUploadIdMarker !== uploadIdMarker); // a page that does not advance ends it
      keyMarker = more ? page.NextKeyMarker : undefined;
      uploadIdMarker = more ? page.NextUploadIdMarker : undefined;
    } while (keyMarker !== undefined);
    if (aborted > 0) this.logger.info({ store, aborted }, 'aborted stale multipart uploads');
    return { supported: true, aborted };
  }
}
