// Where an export goes: a local directory, or `s3://bucket/prefix` with the configured S3 settings (endpoint,
// region, credentials, checksums, encryption — storage.s3 / S3_*): the same BlobStore adapters the archive uses, built
// by the same code, with only the bucket and prefix taken from the destination. Files bound for S3 are staged on
// local disk while open (staged-store.ts).
import { rmdir } from 'node:fs/promises';
import path from 'node:path';
import type { ResolvedConfig } from '../config/load.js';
import { InvalidArgumentError } from '../errors.js';
import type { BlobStore } from '../storage/blob-store.js';
import { RESERVED_TOP_SEGMENT } from '../storage/blob-key.js';
import { normalizeS3Prefix } from '../storage/s3-settings.js';
import { StagedBlobStore } from './staged-store.js';

export type DestinationSpec = { kind: 'directory'; dir: string } | { kind: 's3'; bucket: string; prefix: string };

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** `s3://bucket/prefix` or a directory path; InvalidArgumentError for what is neither. */
export function parseDestination(to: string, cwd: string = process.cwd()): DestinationSpec {
  if (to.trim() === '') throw new InvalidArgumentError('--to must name a directory or s3://bucket/prefix');
  // The usual spelling of "standard output": taken as a path, it would quietly make a directory called "-".
  if (to === '-') {
    throw new InvalidArgumentError('--to -: an export is a tree of partition files and cannot go to standard output; name a directory or s3://bucket/prefix');
  }
  const s3 = /^s3:\/\/([^/]*)\/?(.*)$/i.exec(to);
  if (s3 !== null) {
    const bucket = s3[1]!;
    if (!BUCKET.test(bucket)) throw new InvalidArgumentError(`--to ${JSON.stringify(to)}: ${JSON.stringify(bucket)} is not an S3 bucket name`);
    let prefix: string;
    try {
      prefix = normalizeS3Prefix(s3[2]!);
    } catch (error) {
      throw new InvalidArgumentError(`--to ${JSON.stringify(to)}: ${(error as Error).message}`);
    }
    return { kind: 's3', bucket, prefix };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(to)) {
    throw new InvalidArgumentError(`--to ${JSON.stringify(to)}: only local directories and s3:// destinations are supported`);
  }
  return { kind: 'directory', dir: path.resolve(cwd, to) };
}

/** The destination as a started BlobStore; refuses a destination that overlaps the archive itself. */
export async function openDestination(spec: DestinationSpec, config: ResolvedConfig): Promise<BlobStore> {
  checkApartFromArchive(spec, config);
  const { createBlobStore } = await import('../app/components.js');
  if (spec.kind === 'directory') {
    const store = await createBlobStore({ ...config, storage: { ...config.storage, type: 'filesystem', filesystem: { dir: spec.dir } } });
    await store.start();
    return withTempDirRemoved(store, spec.dir);
  }
  const inner = await createBlobStore({
    ...config,
    storage: { ...config.storage, type: 's3', s3: { ...config.storage.s3, bucket: spec.bucket, prefix: spec.prefix } },
  });
  const staged = new StagedBlobStore(inner);
  try {
    await staged.start();
  } catch (error) {
    await staged.close().catch(() => undefined);
    throw error;
  }
  return staged;
}

function checkApartFromArchive(spec: DestinationSpec, config: ResolvedConfig): void {
  if (spec.kind === 'directory') {
    if (config.storage.type !== 'filesystem') return;
    const archive = path.resolve(config.storage.filesystem.dir);
    if (within(spec.dir, archive) || within(archive, spec.dir)) {
      throw new InvalidArgumentError(`--to ${spec.dir} overlaps the archive's own directory ${archive}; export somewhere else`);
    }
    return;
  }
  if (config.storage.type !== 's3' || config.storage.s3.bucket !== spec.bucket) return;
  const archivePrefix = normalizeS3Prefix(config.storage.s3.prefix ?? '');
  if (spec.prefix.startsWith(archivePrefix) || archivePrefix.startsWith(spec.prefix)) {
    throw new InvalidArgumentError(
      `--to s3://${spec.bucket}/${spec.prefix} overlaps the archive (s3://${spec.bucket}/${archivePrefix}); export under another prefix or bucket`,
    );
  }
}

function within(inner: string, outer: string): boolean {
  const relative = path.relative(outer, inner);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/** The filesystem adapter keeps unfinished writes in `<dir>/.tmp/`; an export leaves no empty one behind. */
function withTempDirRemoved(store: BlobStore, dir: string): BlobStore {
  const close = store.close.bind(store);
  store.close = async () => {
    await close();
    await rmdir(path.join(dir, RESERVED_TOP_SEGMENT)).catch(() => undefined);
  };
  return store;
}
