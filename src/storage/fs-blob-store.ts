// BlobStore on a local directory: the embedded default. Keys map to files under the root ('/' = subdirectory).
//
// A write streams into `<root>/.tmp/<unique>`; complete() fsyncs the file, renames it into place and fsyncs the
// directories whose entries changed, so an object is either absent or whole and durable — a crash or abort before
// complete() leaves at most a temp file, which a later start() sweeps away once it is an hour old.

import { randomUUID } from 'node:crypto';
import { statSync, type Dirent } from 'node:fs';
import { copyFile, link, lstat, mkdir, open, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ARCHIVE_KEY_PREFIX, type ArchiveTarget, type BlobInfo, type BlobStore, type BlobWriter } from './blob-store.js';
import { SequentialBlobWriter } from './sequential-writer.js';
import { RESERVED_TOP_SEGMENT, validateBlobKey, validateBlobPrefix } from './blob-key.js';
import { BackendUnavailableError, ConfigError, InvalidArgumentError, NotFoundError, OtlpCaptureError } from '../errors.js';

const STALE_TEMP_AGE_MS = 60 * 60 * 1000;
/** Keys of objects archived to another directory: `_archive/fs/<absolute directory>/<original key>`. */
const FS_ARCHIVE_PREFIX = `${ARCHIVE_KEY_PREFIX}fs/`;
/** How often an entry is placed again in a directory that a concurrent delete() pruned in between. */
const PRUNE_RACE_ATTEMPTS = 8;
/** Unfinished writes and copies in an archive directory (`.<uuid>.part`, see tempPathFor). */
const TEMP_NAME = /^\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.part$/;

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function isMissing(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * Makes `dir` and runs `place`, which creates an entry in it. delete() prunes the directories it empties, so `dir`
 * (or a parent, in the middle of a recursive mkdir) can vanish before `place` runs: ENOENT then means "make the
 * directory again" as long as `stillPossible` says the ENOENT was not about the entry's own source. Returns the
 * topmost directory any attempt created, whose parent must be synced for the new entry to be durable.
 */
async function placeInDirectory<T>(
  dir: string,
  place: () => Promise<T>,
  stillPossible: () => Promise<boolean> = async () => true,
): Promise<{ result: T; firstCreated: string | undefined }> {
  let firstCreated: string | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      const created = await mkdir(dir, { recursive: true });
      if (created !== undefined && (firstCreated === undefined || created.length < firstCreated.length)) firstCreated = created;
      return { result: await place(), firstCreated };
    } catch (error) {
      const code = errorCode(error);
      const raced = code === 'ENOENT' || (code === 'ENOTDIR' && !(await hasFileOnPath(dir)));
      if (raced && attempt < PRUNE_RACE_ATTEMPTS && (await stillPossible())) continue;
      throw error;
    }
  }
}

/**
 * Whether `dir` or one of its ancestors is something other than a directory: a real key clash. A recursive mkdir
 * also answers ENOTDIR when a component it found existing is pruned before it checks its type, which is a race to retry.
 */
async function hasFileOnPath(dir: string): Promise<boolean> {
  for (let d = dir; ; d = path.dirname(d)) {
    try {
      if (!(await lstat(d)).isDirectory()) return true;
    } catch {
      // missing (pruned or never made): look further up
    }
    if (path.dirname(d) === d) return false;
  }
}

/** The directories whose entries changed when a file was placed in `dir`, which created `firstCreated` and below. */
function directoriesToSync(dir: string, firstCreated: string | undefined): string[] {
  const toSync = [dir];
  if (firstCreated !== undefined) {
    for (let d = dir; d !== path.dirname(firstCreated); d = path.dirname(d)) toSync.push(path.dirname(d));
  }
  return [...new Set(toSync)];
}

const exists = (file: string): Promise<boolean> =>
  stat(file).then(
    () => true,
    () => false,
  );

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Byte order of the UTF-8 keys: the order S3 lists in, so every adapter lists alike. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export interface FsBlobStoreOptions {
  /** Temp files older than this are removed at start(). Default one hour. */
  staleTempAgeMs?: number;
}

export class FsBlobStore implements BlobStore {
  readonly root: string;
  private readonly tmpDir: string;
  private readonly staleTempAgeMs: number;

  constructor(root: string, options: FsBlobStoreOptions = {}) {
    this.root = path.resolve(root);
    this.tmpDir = path.join(this.root, RESERVED_TOP_SEGMENT);
    this.staleTempAgeMs = options.staleTempAgeMs ?? STALE_TEMP_AGE_MS;
  }

  async start(): Promise<void> {
    try {
      await mkdir(this.tmpDir, { recursive: true });
      const probe = path.join(this.tmpDir, `probe-${randomUUID()}`);
      const handle = await open(probe, 'wx');
      await handle.close();
      await unlink(probe);
    } catch (error) {
      throw new BackendUnavailableError(
        `data directory ${this.root} is not writable: ${errorCode(error) ?? (error as Error).message}`,
        { cause: error },
      );
    }
    await this.removeStaleTemps();
  }

  async close(): Promise<void> {
    // Nothing is held open between calls.
  }

  describe(): string {
    return `filesystem ${this.root}`;
  }

  createWriter(key: string): BlobWriter {
    validateBlobKey(key);
    return new FsBlobWriter(this, key, this.tempPathFor(key));
  }

  /** Absolute path of a (validated) key. */
  pathOf(key: string): string {
    if (key.startsWith(FS_ARCHIVE_PREFIX)) return path.join(path.sep, ...key.slice(FS_ARCHIVE_PREFIX.length).split('/'));
    return path.join(this.root, ...key.split('/'));
  }

  /** Beside the final file for archive keys (another directory may be another filesystem, where rename fails). */
  private tempPathFor(key: string): string {
    if (key.startsWith(FS_ARCHIVE_PREFIX)) return path.join(path.dirname(this.pathOf(key)), `.${randomUUID()}.part`);
    return path.join(this.tmpDir, `${randomUUID()}.part`);
  }

  archiveKey(key: string, target: ArchiveTarget): string {
    validateBlobKey(key);
    if (target.bucket !== undefined || target.prefix !== undefined || target.storageClass !== undefined) {
      throw new ConfigError('archive bucket, prefix and storageClass are for the S3 blob store; the filesystem store archives to a dir');
    }
    if (target.dir === undefined || !path.isAbsolute(target.dir)) {
      throw new ConfigError(`archive dir must be an absolute directory, got ${JSON.stringify(target.dir)}`);
    }
    if (key.startsWith(ARCHIVE_KEY_PREFIX)) throw new InvalidArgumentError(`${key} is archived already`);
    const dir = path.resolve(target.dir);
    if (dir === path.parse(dir).root) throw new ConfigError(`archive dir must not be the filesystem root, got ${JSON.stringify(target.dir)}`);
    const inside = (child: string, parent: string): boolean => child === parent || child.startsWith(parent + path.sep);
    if (inside(dir, this.root) || inside(this.root, dir)) {
      throw new ConfigError(`archive dir ${dir} must be outside the blob store directory ${this.root} and not contain it`);
    }
    const where = dir.split(path.sep).filter(Boolean).join('/');
    try {
      validateBlobKey(`${FS_ARCHIVE_PREFIX}${where}/x`);
    } catch (error) {
      throw new ConfigError(`archive dir ${JSON.stringify(target.dir)} cannot be named by a key: ${(error as Error).message}`);
    }
    const archived = `${FS_ARCHIVE_PREFIX}${where}/${key}`;
    validateBlobKey(archived);
    return archived;
  }

  /**
   * A hard link when both keys are on one filesystem (instant, no second copy of the bytes), else a copy; either way
   * into a temp name beside the target, fsync'd, then renamed into place, so the copy is whole or absent.
   */
  async copy(from: string, to: string): Promise<BlobInfo> {
    validateBlobKey(from);
    validateBlobKey(to);
    const source = this.pathOf(from);
    const target = this.pathOf(to);
    // A "directory" of keys is no object (link would refuse it with EPERM, copyFile with EISDIR).
    if ((await this.stat(from)) === null) throw new NotFoundError(`object ${from} does not exist in ${this.describe()}`);
    if (source === target) return { key: to, size: (await stat(target)).size };
    // In .tmp/ (swept at start, never listed) unless the target is in an archive directory, maybe another filesystem.
    const temp = this.tempPathFor(to);
    try {
      await placeInDirectory(
        path.dirname(temp),
        async () => {
          try {
            await link(source, temp);
          } catch (error) {
            const code = errorCode(error);
            if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EMLINK') throw error;
            await copyFile(source, temp);
            const handle = await open(temp, 'r+');
            try {
              await handle.sync();
            } finally {
              await handle.close();
            }
          }
        },
        () => exists(source),
      );
      await this.publish(temp, to);
      return { key: to, size: (await stat(target)).size };
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      if (isMissing(error) && !(await exists(source))) {
        throw new NotFoundError(`object ${from} does not exist in ${this.describe()}`);
      }
      throw this.backendError('copy', from, error);
    }
  }

  async readRange(key: string, offset: number, length: number): Promise<Buffer> {
    validateBlobKey(key);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new InvalidArgumentError(`invalid range ${offset}+${length} for ${key}`);
    }
    let handle: FileHandle;
    try {
      handle = await open(this.pathOf(key), 'r');
    } catch (error) {
      if (isMissing(error)) throw new NotFoundError(`object ${key} does not exist in ${this.describe()}`);
      throw this.backendError('open', key, error);
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new NotFoundError(`object ${key} does not exist in ${this.describe()}`);
      if (offset + length > info.size) {
        throw new NotFoundError(`range ${offset}+${length} is past the end of ${key} (${info.size} bytes)`);
      }
      const out = Buffer.alloc(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(out, done, length - done, offset + done);
        if (bytesRead === 0) throw new NotFoundError(`object ${key} shrank while being read`);
        done += bytesRead;
      }
      return out;
    } catch (error) {
      throw this.backendError('read', key, error);
    } finally {
      await handle.close();
    }
  }

  async stat(key: string): Promise<BlobInfo | null> {
    validateBlobKey(key);
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? { key, size: info.size } : null;
    } catch (error) {
      if (isMissing(error)) return null;
      throw this.backendError('stat', key, error);
    }
  }

  /**
   * Keys under the root; with an archive prefix (`_archive/fs/<dir>/…`, at least one directory named whole), the
   * archived keys in that directory instead — never the store's own files, nor unfinished copies.
   */
  async *list(prefix: string): AsyncIterable<BlobInfo> {
    validateBlobPrefix(prefix);
    const relDir = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    if (prefix.startsWith(FS_ARCHIVE_PREFIX)) {
      if (relDir.length <= FS_ARCHIVE_PREFIX.length) {
        throw new InvalidArgumentError(`list prefix ${JSON.stringify(prefix)} must name an archive directory whole (${FS_ARCHIVE_PREFIX}<dir>/)`);
      }
      yield* this.walk(relDir, prefix, true);
      return;
    }
    yield* this.walk(relDir, prefix, false);
  }

  /** Depth-first in key order; only descends into directories that can hold keys with the prefix. */
  private async *walk(relDir: string, prefix: string, archived: boolean): AsyncGenerator<BlobInfo> {
    const dir = archived ? this.pathOf(relDir.slice(0, -1)) : path.join(this.root, ...relDir.split('/').filter(Boolean));
    // An archive directory may be an ancestor of the store: its files are listed under their own keys, not here.
    if (archived && dir === this.root) return;
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw this.backendError('list', relDir, error);
    }
    const items = entries
      .filter((entry) => !(relDir === '' && entry.name === RESERVED_TOP_SEGMENT))
      .filter((entry) => !(archived && TEMP_NAME.test(entry.name)))
      .filter((entry) => entry.isFile() || entry.isDirectory())
      .map((entry) => ({ entry, rel: relDir + entry.name + (entry.isDirectory() ? '/' : '') }))
      .sort((a, b) => compareUtf8(a.rel, b.rel));
    for (const { entry, rel } of items) {
      if (entry.isDirectory()) {
        if (rel.startsWith(prefix) || prefix.startsWith(rel)) yield* this.walk(rel, prefix, archived);
      } else if (rel.startsWith(prefix)) {
        try {
          const info = await stat(path.join(dir, entry.name));
          yield { key: rel, size: info.size };
        } catch (error) {
          if (!isMissing(error)) throw this.backendError('list', rel, error); // deleted while listing: skip
        }
      }
    }
  }

  async delete(key: string): Promise<void> {
    validateBlobKey(key);
    try {
      await unlink(this.pathOf(key));
    } catch (error) {
      const code = errorCode(error);
      // EISDIR: the key names a "directory" of other keys, not an object — nothing to delete, as on S3.
      if (isMissing(error) || code === 'EISDIR') return;
      throw this.backendError('delete', key, error);
    }
    await this.pruneEmptyParents(path.dirname(this.pathOf(key)));
  }

  /** Keeps the tree free of directories emptied by deletes (retention deletes whole days of objects). */
  private async pruneEmptyParents(dir: string): Promise<void> {
    let current = dir;
    while (current.startsWith(this.root + path.sep)) {
      try {
        await rmdir(current);
      } catch {
        return; // not empty, already gone, or busy: stop pruning
      }
      current = path.dirname(current);
    }
  }

  /** Moves a finished temp file into place, durably (called by FsBlobWriter.complete). */
  async publish(tempPath: string, key: string): Promise<void> {
    const finalPath = this.pathOf(key);
    const dir = path.dirname(finalPath);
    const { firstCreated } = await placeInDirectory(dir, () => rename(tempPath, finalPath), () => exists(tempPath));
    // A new entry is durable once its directory is synced; new directories need their parents synced too.
    for (const d of directoriesToSync(dir, firstCreated)) await fsyncDirectory(d);
  }

  backendError(action: string, key: string, error: unknown): Error {
    if (error instanceof OtlpCaptureError) return error;
    const code = errorCode(error);
    if (code === 'ENOTDIR' && !isDirectory(this.root)) {
      return new BackendUnavailableError(
        `cannot ${action} object ${key}: the blob store root ${this.root} is no longer a directory`,
        { cause: error },
      );
    }
    if (code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR') {
      return new InvalidArgumentError(
        `cannot ${action} object ${key} in ${this.describe()}: the key clashes with an existing key used as a prefix (${code})`,
        { cause: error },
      );
    }
    return new BackendUnavailableError(
      `cannot ${action} object ${key} in ${this.describe()}: ${code ?? (error as Error).message}`,
      { cause: error },
    );
  }

  private async removeStaleTemps(): Promise<void> {
    const cutoff = Date.now() - this.staleTempAgeMs;
    for (const name of await readdir(this.tmpDir)) {
      const file = path.join(this.tmpDir, name);
      try {
        const info = await stat(file);
        if (info.mtimeMs < cutoff) await rm(file, { force: true, recursive: true });
      } catch {
        // vanished meanwhile: fine
      }
    }
  }
}

/**
 * Small chunks (an archive object is two per request: block header and block) are gathered and written together:
 * one write call per chunk made a 200,000-request object take 400,000 thread-pool round trips. Larger chunks go
 * straight to the file, as before.
 */
const COALESCE_BYTES = 1024 * 1024;
const SMALL_CHUNK_BYTES = 16 * 1024;

class FsBlobWriter extends SequentialBlobWriter {
  private handle: FileHandle | undefined;
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly store: FsBlobStore,
    key: string,
    private readonly tempPath: string,
  ) {
    super(key);
  }

  protected async writeNow(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.state === 'aborted') throw this.stateError('write to');
    if (chunk.length < SMALL_CHUNK_BYTES) {
      await this.openTempOrFail(); // the temp file exists from the first write on
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes >= COALESCE_BYTES) await this.flushPending();
      return;
    }
    await this.flushPending();
    await this.writeOut(chunk);
  }

  private async flushPending(): Promise<void> {
    if (this.pendingBytes === 0) return;
    // One copy into one buffer: cheaper than a writev of thousands of tiny buffers, and the callers' are let go.
    const chunk = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    await this.writeOut(chunk);
  }

  private async openTempOrFail(): Promise<void> {
    try {
      await this.openTemp();
    } catch (error) {
      this.failure = this.store.backendError('write', this.key, error);
      this.state = 'failed';
      throw this.failure;
    }
  }

  private async writeOut(chunk: Buffer): Promise<void> {
    try {
      const handle = await this.openTemp();
      let done = 0;
      while (done < chunk.length) {
        const { bytesWritten } = await handle.write(chunk, done, chunk.length - done);
        done += bytesWritten;
      }
      this.size += chunk.length;
    } catch (error) {
      this.failure = this.store.backendError('write', this.key, error);
      this.state = 'failed';
      throw this.failure;
    }
  }

  protected async finish(): Promise<void> {
    await this.flushPending();
    try {
      const handle = await this.openTemp();
      await handle.sync();
      await handle.close();
      this.handle = undefined;
      await this.store.publish(this.tempPath, this.key);
    } catch (error) {
      throw this.store.backendError('write', this.key, error);
    }
  }

  private async openTemp(): Promise<FileHandle> {
    if (this.handle === undefined) {
      const tempPath = this.tempPath;
      this.handle = (await placeInDirectory(path.dirname(tempPath), () => open(tempPath, 'wx'))).result;
    }
    return this.handle;
  }

  protected async discard(): Promise<void> {
    this.pending = [];
    this.pendingBytes = 0;
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
    await rm(this.tempPath, { force: true }).catch(() => undefined);
  }
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
