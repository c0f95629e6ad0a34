// A streamed write of one S3 object: chunks go through a PassThrough into a lib-storage Upload (multipart once the
// data outgrows one part), so an upload holds at most about partSize × (queueSize + 2) bytes, never the object.
//
// Nothing is visible under the key before complete(): a multipart upload becomes an object only at
// CompleteMultipartUpload, and a small object is sent as one PutObject only once the stream has ended.
// As with any Node stream, a chunk is held by reference until its part is sent: do not reuse a buffer once written.
//
// Failure handling, and why not Upload.abort(): Upload.abort() makes done() reject at once while parts already in
// flight keep uploading, and the multipart upload id can still appear after that — there is no moment at which the
// upload is known to be over. Instead the writer ends the stream with an error: the Upload stops taking data, its
// in-flight requests settle, done() rejects, and only then is the multipart upload aborted, by the store
// (leavePartsOnError: true), which knows how to say that a server cannot abort multipart uploads.
import { PassThrough } from 'node:stream';
import type { PutObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import type { Upload } from '@aws-sdk/lib-storage';
import { libStorage } from './aws-sdk.js';
import { SequentialBlobWriter } from './sequential-writer.js';
import type { OtlpCaptureError } from '../errors.js';

export interface S3WriterDeps {
  client: S3Client;
  /** The key as the caller named it (without the store's prefix), for messages. */
  key: string;
  /** Bucket, full key and object settings (storage class, encryption); Body is the writer's. */
  params: Omit<PutObjectCommandInput, 'Body'> & { Bucket: string; Key: string };
  partSize: number;
  queueSize: number;
  /** Turns any failure into the error callers see (names key and store). */
  toError(action: string, error: unknown): OtlpCaptureError;
  /** Aborts a multipart upload left by a failed or aborted write. Never throws. */
  discardUpload(uploadId: string): Promise<void>;
  /** Checks what the server stored after the upload completed; throws if it is not what was written. */
  verifyStored(size: number): Promise<void>;
}

/** Why the stream was ended under the Upload; never seen by callers (they get the failure or an "aborted" error). */
class StreamEnded extends Error {}

export class S3BlobWriter extends SequentialBlobWriter {
  private readonly body = new PassThrough();
  private readonly upload: Upload;
  /** Resolves (never rejects) once the Upload has settled and a failed one's parts have been discarded. */
  private readonly settled: Promise<boolean>;

  constructor(private readonly deps: S3WriterDeps) {
    super(deps.key);
    // The Upload reads the stream and sees its errors; this listener only keeps them from being "unhandled".
    this.body.on('error', () => undefined);
    this.upload = new (libStorage().Upload)({
      client: reportingFailures(deps.client, (error) => this.fail('upload', error)),
      params: { ...deps.params, Body: this.body },
      partSize: deps.partSize,
      queueSize: deps.queueSize,
      leavePartsOnError: true,
    });
    // Started now, so parts are uploaded while the object is still being written.
    this.settled = this.upload.done().then(
      () => true,
      async (error: unknown) => {
        if (this.state !== 'aborted') this.fail('upload', error);
        if (this.upload.uploadId !== undefined) await this.deps.discardUpload(this.upload.uploadId);
        return false;
      },
    );
  }

  protected async writeNow(chunk: Buffer): Promise<void> {
    if (this.stopped()) throw this.stateError('write to');
    if (chunk.length === 0) return;
    const hasRoom = this.body.write(chunk);
    this.size += chunk.length;
    // Backpressure: wait until the Upload has taken the data (all its part slots may be busy sending).
    if (!hasRoom) await this.roomOrEnd();
    if (this.stopped()) throw this.stateError('write to');
  }

  protected async finish(): Promise<void> {
    this.body.end();
    await this.settled;
    if (this.failure) throw this.failure;
    try {
      await this.deps.verifyStored(this.size);
    } catch (error) {
      throw this.deps.toError('verify', error);
    }
  }

  protected override stopSending(): void {
    this.body.destroy(new StreamEnded('aborted'));
  }

  /** The Upload has settled by now, and a failed one's multipart upload has been aborted. */
  protected async discard(): Promise<void> {
    await this.settled;
  }

  /** Records the first failure and stops the stream, so pending and later writes reject at once. */
  private fail(action: string, error: unknown): void {
    if (this.failure || this.state === 'aborted') return;
    this.failure = this.deps.toError(action, error);
    if (this.state === 'open') this.state = 'failed';
    this.body.destroy(new StreamEnded(this.failure.message));
  }

  /** Aborted or failed (also while an await was pending). */
  private stopped(): boolean {
    return this.state === 'aborted' || this.failure !== undefined;
  }

  private roomOrEnd(): Promise<void> {
    if (this.body.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.body.off('drain', done);
        this.body.off('close', done);
        resolve();
      };
      this.body.on('drain', done);
      this.body.on('close', done);
    });
  }
}

/**
 * The client as the Upload sees it, reporting each failed request at once. The Upload itself reports a failed part
 * only after every other part uploader has stopped too, which can take several more parts' worth of writes.
 */
function reportingFailures(client: S3Client, onFailure: (error: unknown) => void): S3Client {
  const send = (...args: unknown[]): Promise<unknown> =>
    (client.send as (...a: unknown[]) => Promise<unknown>).apply(client, args).catch((error: unknown) => {
      onFailure(error);
      throw error;
    });
  // Everything else (config, middleware) is the real client's, through the prototype.
  return Object.create(client, { send: { value: send } }) as S3Client;
}
