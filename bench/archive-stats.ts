// What the capture server's archiver produced, read from its SQLite index after the server stopped: archive objects
// should be large (few requests per object means many small PUTs against a real object store).
import Database from 'better-sqlite3';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export interface ArchiveStats {
  objects: number;
  requests: number;
  avgObjectStoredBytes: number;
  maxObjectStoredBytes: number;
  avgObjectRawBytes: number;
  avgRequestsPerObject: number;
  /** Stored / raw over all objects. */
  compressionRatio: number;
  /** Bytes left in the spool after the server stopped: what the archiver had not caught up with. */
  spoolBytesLeft: number;
}

export function readArchiveStats(dataDir: string): ArchiveStats {
  const spoolBytesLeft = directoryBytes(path.join(dataDir, 'spool'));
  const indexPath = path.join(dataDir, 'index.sqlite');
  const empty = { objects: 0, requests: 0, avgObjectStoredBytes: 0, maxObjectStoredBytes: 0, avgObjectRawBytes: 0,
    avgRequestsPerObject: 0, compressionRatio: 0, spoolBytesLeft };
  if (!existsSync(indexPath)) return empty;
  const db = new Database(indexPath, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare(`
      SELECT count(*) AS objects, coalesce(sum(request_count), 0) AS requests,
             coalesce(avg(stored_bytes), 0) AS avgStored, coalesce(max(stored_bytes), 0) AS maxStored,
             coalesce(avg(raw_bytes), 0) AS avgRaw, coalesce(sum(stored_bytes), 0) AS stored,
             coalesce(sum(raw_bytes), 0) AS raw
      FROM objects`).get() as Record<string, number>;
    if (row.objects === 0) return empty;
    return {
      objects: row.objects!,
      requests: row.requests!,
      avgObjectStoredBytes: row.avgStored!,
      maxObjectStoredBytes: row.maxStored!,
      avgObjectRawBytes: row.avgRaw!,
      avgRequestsPerObject: row.requests! / row.objects!,
      compressionRatio: row.raw! > 0 ? row.stored! / row.raw! : 0,
      spoolBytesLeft,
    };
  } finally {
    db.close();
  }
}

function directoryBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile()) total += statSync(path.join(dir, entry.name)).size;
  }
  return total;
}
