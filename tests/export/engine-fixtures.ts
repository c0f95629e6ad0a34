// What the export engine's tests share: an archive of trace requests in one hour, an export of it into a directory,
// and DuckDB counting what an engine would read there.
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { runExport, type ExportOptions, type ExportSummary } from '../../src/export/export-engine.js';
import { shiftTimestamps } from '../../src/otlp/time-shift.js';
import { QueryService } from '../../src/query/query-service.js';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';
import { buildArchive, type BuiltArchive, type CapturedEntry } from '../helpers/archive-builder.js';
import { tracePayload } from '../helpers/otlp-payloads.js';

/** Offset that moves the test payloads' timestamps into 2024-03-01 09:10 UTC. */
export const HOUR_9 = BigInt(Date.parse('2024-03-01T09:10:00Z')) * 1_000_000n - 1_700_000_000n * 1_000_000_000n;

/** Eight trace requests of `spans` spans in one hour, alternating between two tenants: one partition per tenant. */
export function archiveOfTraces(dataDir: string, spans = 40): Promise<BuiltArchive> {
  const entries: CapturedEntry[] = Array.from({ length: 8 }, (_, i) => ({
    signal: 'traces' as const,
    tenant: i % 2 === 0 ? 'acme' : 'globex',
    bytes: shiftTimestamps('traces', tracePayload(i + 1, spans).proto, HOUR_9).bytes,
    receivedAtMs: Date.parse('2024-03-02T00:00:00Z') + i * 1000,
  }));
  return buildArchive(dataDir, entries, 2);
}

/** Exports the archive (Parquet unless `options` say otherwise) into the filesystem directory `outDir`. */
export async function exportInto(archive: BuiltArchive, outDir: string, options: Partial<ExportOptions> = {}): Promise<ExportSummary> {
  const out = new FsBlobStore(outDir);
  await out.start();
  try {
    return await runExport(new QueryService(archive.index, archive.blobs), out, {
      format: 'parquet',
      filter: {},
      resume: false,
      maxFileBytes: 256 * 2 ** 20,
      ...options,
    });
  } finally {
    await out.close();
  }
}

/** Rows DuckDB reads from the Parquet files matching `glob`. */
export async function countRows(glob: string): Promise<number> {
  const duck = await DuckDBInstance.create(':memory:');
  const db = await duck.connect();
  try {
    const reader = await db.runAndReadAll(`SELECT count(*) AS n FROM read_parquet('${glob}')`);
    return Number((reader.getRowObjectsJS()[0] as { n: bigint }).n);
  } finally {
    db.closeSync();
    duck.closeSync();
  }
}

export const partitionDirOf = (outDir: string, tenant: string): string => path.join(outDir, `signal=traces/tenant=${tenant}/dt=2024-03-01/hour=09`);
