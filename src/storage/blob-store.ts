// The BlobStore port: where archive objects live. Adapters: filesystem (embedded default) and S3.
// Nothing outside storage/ knows which adapter it has.

/** A streamed write of one object. Nothing is visible under the key until complete() resolves. */
export interface BlobWriter {
  write(chunk: Buffer): Promise<void>;
  /** Makes the object durable and visible; resolves with its final size. */
  complete(): Promise<{ size: number }>;
  /** Drops everything written so far; safe to call after a failed write or twice. */
  abort(): Promise<void>;
}

export interface BlobInfo {
  key: string;
  size: number;
  /** S3: the object's storage class when the server reports one. */
  storageClass?: string;
}

export interface WriteOptions {
  /** S3: storage class of the new object (the store's configured class otherwise). Ignored by the filesystem. */
  storageClass?: string;
}

/**
 * Where retention's archive action puts objects: another bucket, key prefix and/or storage class (S3), or another
 * directory (filesystem). Each adapter accepts only its own fields.
 */
export interface ArchiveTarget {
  bucket?: string;
  prefix?: string;
  storageClass?: string;
  dir?: string;
}

/**
 * Keys of archived objects start with this. They name their location completely (bucket and key, or directory),
 * so they are read, written and deleted like any other key, with no configuration, and never collide with the
 * keys the archiver makes (a tenant never starts with '_').
 */
export const ARCHIVE_KEY_PREFIX = '_archive/';

export interface BlobStore {
  /** Checks the backend is reachable and usable; throws a BackendUnavailableError with a clear message otherwise. */
  start(): Promise<void>;
  close(): Promise<void>;
  createWriter(key: string, options?: WriteOptions): BlobWriter;
  /** Exactly `length` bytes from `offset`; throws NotFoundError for a missing key or range past the end. */
  readRange(key: string, offset: number, length: number): Promise<Buffer>;
  /** Size of an object, or null if it does not exist. */
  stat(key: string): Promise<BlobInfo | null>;
  list(prefix: string): AsyncIterable<BlobInfo>;
  /** Idempotent: deleting a missing key succeeds. */
  delete(key: string): Promise<void>;
  /**
   * The key an object gets when archived to `target`; no I/O. Deterministic: the same key and target always give
   * the same archive key. Throws ConfigError when the target does not suit this adapter.
   */
  archiveKey(key: string, target: ArchiveTarget): string;
  /**
   * Copies an object to another key of this store (e.g. an archive key), durably; the new object appears whole or
   * not at all, and the source stays. Copying again replaces the copy. Throws NotFoundError when `from` is missing.
   */
  copy(from: string, to: string, options?: WriteOptions): Promise<BlobInfo>;
  /** Human-readable location for logs, without secrets. */
  describe(): string;
}
