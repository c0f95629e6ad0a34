// A BlobStore whose writers stage each file on local disk and upload it when it is complete. For an export to S3:
// many partition files are open at once, and an S3 multipart upload holds several parts in memory per open object,
// while a staged file costs a file descriptor. Completed files are uploaded one at a time, streamed from disk by the
// S3 adapter (multipart), so memory stays bounded whatever the number of open files.
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, unlink, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ArchiveTarget, BlobInfo, BlobStore, BlobWriter, WriteOptions } from '../storage/blob-store.js';

const UPLOAD_CHUNK = 2 ** 20;

export class StagedBlobStore implements BlobStore {
  private dir: string | undefined;
  /** Uploads run one after another (memory: one multipart upload's parts). */
  private uploads: Promise<unknown> = Promise.resolve();

  constructor(private readonly inner: BlobStore) {}

  async start(): Promise<void> {
    await this.inner.start();
    this.dir = await mkdtemp(path.join(os.tmpdir(), 'otlp-capture-export-'));
  }

  async close(): Promise<void> {
    await this.uploads.catch(() => undefined);
    if (this.dir !== undefined) await rm(this.dir, { recursive: true, force: true });
    await this.inner.close();
  }

  createWriter(key: string, options?: WriteOptions): BlobWriter {
    if (this.dir === undefined) throw new Error('StagedBlobStore used before start()');
    return new StagedWriter(path.join(this.dir, randomUUID()), (file) => this.upload(file, key, options));
  }

  private upload(file: string, key: string, options?: WriteOptions): Promise<void> {
    const run = this.uploads.catch(() => undefined).then(async () => {
      const writer = this.inner.createWriter(key, options);
      try {
        for await (const chunk of createReadStream(file, { highWaterMark: UPLOAD_CHUNK })) await writer.write(chunk as Buffer);
        await writer.complete();
      } catch (error) {
        await writer.abort();
        throw error;
      }
    });
    this.uploads = run;
    return run;
  }

  readRange(key: string, offset: number, length: number): Promise<Buffer> {
    return this.inner.readRange(key, offset, length);
  }
  stat(key: string): Promise<BlobInfo | null> {
    return this.inner.stat(key);
  }
  list(prefix: string): AsyncIterable<BlobInfo> {
    return this.inner.list(prefix);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  archiveKey(key: string, target: ArchiveTarget): string {
    return this.inner.archiveKey(key, target);
  }
  copy(from: string, to: string, options?: WriteOptions): Promise<BlobInfo> {
    return this.inner.copy(from, to, options);
  }
  describe(): string {
    return this.inner.describe();
  }
}

class StagedWriter implements BlobWriter {
  private handle: Promise<FileHandle>;
  private chain: Promise<unknown> = Promise.resolve();
  private size = 0;
  private state: 'open' | 'done' | 'aborted' = 'open';
  private failure: unknown = null;

  constructor(private readonly file: string, private readonly upload: (file: string) => Promise<void>) {
    this.handle = open(file, 'wx');
    this.handle.catch(() => undefined);
  }

  write(chunk: Buffer): Promise<void> {
    if (this.state !== 'open') return Promise.reject(new Error(`cannot write to a ${this.state} staged file`));
    const step = this.chain.then(async () => {
      const handle = await this.handle;
      await handle.write(chunk);
      this.size += chunk.length;
    });
    this.chain = step.catch((error: unknown) => {
      this.failure ??= error;
    });
    return step;
  }

  async complete(): Promise<{ size: number }> {
    if (this.state !== 'open') throw new Error(`cannot complete a ${this.state} staged file`);
    this.state = 'done';
    try {
      await this.chain;
      await (await this.handle).close();
      if (this.failure !== null) throw this.failure;
      await this.upload(this.file);
      return { size: this.size };
    } finally {
      await unlink(this.file).catch(() => undefined);
    }
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    await this.chain;
    await (await this.handle.catch(() => null))?.close().catch(() => undefined);
    await unlink(this.file).catch(() => undefined);
  }
}
