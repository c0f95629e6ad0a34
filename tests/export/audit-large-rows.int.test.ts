// Rows whose text is large (log bodies of tens of KiB and more) make row groups of fewer rows: a row group is held in
// memory until it is written, so 16 Ki rows of 100 KiB bodies would be GiBs, and an Arrow string column stops at 2 GiB.
// Checked on the Parquet files themselves, with DuckDB's view of their row groups.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { ExportOptions, ExportSummary } from '../../src/export/export-engine.js';
import { buildArchive, type CapturedEntry } from '../helpers/archive-builder.js';
import { wire } from '../helpers/otlp-payloads.js';
import { exportInto } from './engine-fixtures.js';

const T0 = BigInt(Date.parse('2024-03-01T09:10:00Z')) * 1_000_000n;
const BODY_BYTES = 32 * 1024;
const RECORDS = 20;
const REQUESTS = 6;

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-audit-large-rows-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A logs request of RECORDS records, each with a string body of BODY_BYTES (distinct per record). */
function logsRequest(n: number): Uint8Array {
  const records = Array.from({ length: RECORDS }, (_, i) => {
    const body = Buffer.alloc(BODY_BYTES, String.fromCharCode(97 + ((n * RECORDS + i) % 26)));
    return wire.len(2, wire.fixed64(1, T0 + BigInt(n * RECORDS + i)), wire.len(5, wire.len(1, body)));
  });
  return wire.bytes(wire.len(1, wire.len(2, ...records)));
}

async function exportAll(options: Partial<ExportOptions>): Promise<ExportSummary> {
  const entries: CapturedEntry[] = Array.from({ length: REQUESTS }, (_, n) => ({ signal: 'logs' as const, bytes: logsRequest(n) }));
  const archive = await buildArchive(path.join(dir, 'data'), entries, 1);
  try {
    return await exportInto(archive, path.join(dir, 'out'), options);
  } finally {
    await archive.close();
  }
}

async function rowGroups(): Promise<{ rows: number[]; bodies: number; bodyBytes: number }> {
  const files = readdirSync(path.join(dir, 'out'), { recursive: true }).map(String).filter((f) => f.endsWith('.parquet'));
  expect(files).toHaveLength(1);
  const file = path.join(dir, 'out', files[0]!);
  const duck = await DuckDBInstance.create(':memory:');
  const db = await duck.connect();
  try {
    const groups = (await db.runAndReadAll(`SELECT DISTINCT row_group_id, row_group_num_rows FROM parquet_metadata('${file}') ORDER BY row_group_id`)).getRowObjectsJS();
    const [bodies] = (await db.runAndReadAll(`SELECT count(*) AS n, sum(length(body)) AS bytes FROM read_parquet('${file}')`)).getRowObjectsJS();
    return { rows: groups.map((g) => Number(g.row_group_num_rows)), bodies: Number(bodies!.n), bodyBytes: Number(bodies!.bytes) };
  } finally {
    db.closeSync();
    duck.closeSync();
  }
}

it('large rows: row groups hold about rowGroupBytes of text, not rowGroupRows rows; every row is written', async () => {
  const summary = await exportAll({ rowGroupBytes: 256 * 1024 });
  expect(summary.written).toBe(REQUESTS * RECORDS);
  const groups = await rowGroups();
  expect({ bodies: groups.bodies, bodyBytes: groups.bodyBytes }).toEqual({ bodies: REQUESTS * RECORDS, bodyBytes: REQUESTS * RECORDS * BODY_BYTES });
  expect(groups.rows.reduce((a, b) => a + b, 0)).toBe(REQUESTS * RECORDS);
  // 256 KiB of 32 KiB bodies: 8 rows a group (the default rowGroupRows would have put all 120 in one).
  expect(groups.rows.length).toBeGreaterThanOrEqual(REQUESTS * RECORDS / 8);
  expect(Math.max(...groups.rows)).toBeLessThanOrEqual(8);
});

it('small rows keep rowGroupRows', async () => {
  await exportAll({ rowGroupBytes: 64 * 2 ** 20, rowGroupRows: 50 });
  const groups = await rowGroups();
  expect(groups.rows).toEqual([50, 50, 20]);
});
