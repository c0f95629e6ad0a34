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
}

export interface BlobStore {
  /** Checks the backend is reachable and usable; throws a BackendUnavailableError with a clear message otherwise. */
  start(): Promise<void>;
  close(): Promise<void>;
  createWriter(key: string): BlobWriter;
  /** Exactly `length` bytes from `offset`; throws NotFoundError for a missing key or range past the end. */
  readRange(key: string, offset: number, length: number): Promise<Buffer>;
  /** Size of an object, or null if it does not exist. */
  stat(key: string): Promise<BlobInfo | null>;
  list(prefix: string): AsyncIterable<BlobInfo>;
  /** Idempotent: deleting a missing key succeeds. */
  delete(key: string): Promise<void>;
  /** Human-readable location for logs, without secrets. */
  describe(): string;
}
