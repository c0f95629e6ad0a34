// Inserts that stay within a bounded number of partitions. A current ClickHouse refuses an insert whose rows fall into
// more than max_partitions_per_insert_block partitions (100 by default; 18.16 has no such limit), and the refusal
// is the same on every retry: a flusher batch spanning over 100 id prefixes (≈ 3.4 years of receive time: a reindex
// of a sparse archive, a long-queued outbox) or 100 months of objects would stall the index for good. So a batch is
// inserted in chunks of at most PARTITIONS_PER_INSERT partitions each. The views on requests (by id, by service, bucket
// counts) are partitioned by the same id prefix, so a chunk of requests stays within the bound in them too.
//
// The keys computed here only need to be at least as fine as the server's partition expression (rows with equal keys
// always share a partition): then a chunk never holds more partitions than keys.

/** Well under the server's default of 100, so a chunk fits even with a server-side expression we count coarsely. */
export const PARTITIONS_PER_INSERT = 50;

/** `substring(id, 1, 4)`: bytes, as ClickHouse's substring counts them. */
export function requestPartition(row: { id?: unknown }): string {
  return Buffer.from(String(row.id ?? ''), 'utf8').subarray(0, 4).toString('latin1');
}

/** `toYYYYMM(toDateTime(intDiv(created_at_ms, 1000), 'UTC'))` where DateTime can hold it; the value itself otherwise. */
export function objectPartition(row: { created_at_ms?: unknown }): string {
  const ms = Number(row.created_at_ms ?? 0);
  // DateTime is seconds in UInt32: outside that a value maps to the server's partition in its own way; the raw
  // value as key is finer than any such mapping.
  if (!Number.isSafeInteger(ms) || ms < 0 || ms >= 2 ** 32 * 1000) return `raw:${String(row.created_at_ms)}`;
  const date = new Date(ms - (ms % 1000));
  return `${date.getUTCFullYear()}${String(date.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** The rows in chunks of at most `max` distinct keys each, every key's rows in one chunk, in first-seen key order. */
export function chunksByPartition<T>(rows: readonly T[], keyOf: (row: T) => string, max = PARTITIONS_PER_INSERT): T[][] {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const key = keyOf(row);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [row]);
    else group.push(row);
  }
  if (groups.size <= max) return rows.length === 0 ? [] : [[...rows]];
  const chunks: T[][] = [];
  let chunk: T[] = [];
  let keys = 0;
  for (const group of groups.values()) {
    if (keys === max) {
      chunks.push(chunk);
      chunk = [];
      keys = 0;
    }
    for (const row of group) chunk.push(row);
    keys += 1;
  }
  chunks.push(chunk);
  return chunks;
}
