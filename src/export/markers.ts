// What a partition directory holds besides its data files: `_SUCCESS`, written last, once every file of the partition
// is complete. Readers that follow Hadoop's convention (Spark, Athena, DuckDB globs on *.parquet) skip names that
// start with '_'. `--resume` skips the partitions that have one; a partition without one is written again whole.
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

/** Partition paths (partitionPath form) that have a completion marker under `store`. */
export async function completedPartitions(store: BlobStore): Promise<Set<string>> {
  const done = new Set<string>();
  for await (const blob of store.list('signal=')) {
    if (!blob.key.endsWith(`/${MARKER_NAME}`)) continue;
    const path = blob.key.slice(0, -MARKER_NAME.length - 1);
    if (parsePartitionPath(path) !== null) done.add(path);
  }
  return done;
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
