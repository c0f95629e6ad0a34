// What a partition directory holds besides its data files: `_SUCCESS`, written last, once every file of the partition
// is complete. Readers that follow Hadoop's convention (Spark, Athena, DuckDB globs on *.parquet) skip names that
// start with '_'. `--resume` skips the partitions that have one; a partition without one is written again whole.
import { InvalidArgumentError } from '../errors.js';
import type { BlobStore } from '../storage/blob-store.js';
import { parsePartitionPath, partitionPath, type PartitionKey } from './partition.js';

export const MARKER_NAME = '_SUCCESS';

export interface MarkerContent {
  format: string;
  /** Rows (Parquet) or lines (OTLP JSON) in the partition. */
  items: number;
  requests: number;
  bytes: number;
  files: string[];
  completedAt: string;
}

export async function writeMarker(store: BlobStore, key: PartitionKey, content: MarkerContent): Promise<void> {
  const writer = store.createWriter(`${partitionPath(key)}/${MARKER_NAME}`);
  try {
    await writer.write(Buffer.from(`${JSON.stringify(content)}\n`));
    await writer.complete();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/**
 * Partition paths (partitionPath form) that have a completion marker under `store`. The first marker's format must be
 * `format`: resuming a Parquet export as OTLP JSON (or back) would skip every partition the other format completed
 * and report success, leaving one destination of two formats. One marker is read, not all: a destination only holds
 * two formats if it was already mixed by hand.
 */
export async function completedPartitions(store: BlobStore, format: string): Promise<Set<string>> {
  const done = new Set<string>();
  for await (const blob of store.list('signal=')) {
    if (!blob.key.endsWith(`/${MARKER_NAME}`)) continue;
    const path = blob.key.slice(0, -MARKER_NAME.length - 1);
    if (parsePartitionPath(path) === null) continue;
    if (done.size === 0) await checkMarkerFormat(store, blob.key, blob.size, format);
    done.add(path);
  }
  return done;
}

async function checkMarkerFormat(store: BlobStore, key: string, size: number, format: string): Promise<void> {
  let found: unknown;
  try {
    found = (JSON.parse((await store.readRange(key, 0, size)).toString('utf8')) as Partial<MarkerContent>).format;
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
  }
  if (found === format) return;
  throw new InvalidArgumentError(
    `--resume: ${key} says this destination holds ${typeof found === 'string' ? `a ${found}` : 'an unknown'} export, not ${format}; ` +
      'resume with the same --format, or export to another --to (without --resume, partitions the export touches are rewritten and the others stay as they are)',
  );
}

/** Removes whatever an earlier, unfinished export left in a partition (its marker included). */
export async function clearPartition(store: BlobStore, key: PartitionKey): Promise<number> {
  let removed = 0;
  for await (const blob of store.list(`${partitionPath(key)}/`)) {
    await store.delete(blob.key);
    removed += 1;
  }
  return removed;
}
