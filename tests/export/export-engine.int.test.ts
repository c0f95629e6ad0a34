// The export engine in process, on a real archive and a real filesystem destination: part files rotated by size,
// the bound on open files, a damaged request, an abort. DuckDB counts what was written.
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExportOptions } from '../../src/export/export-engine.js';
import type { BuiltArchive } from '../helpers/archive-builder.js';
import { archiveOfTraces as tracesIn, countRows, exportInto, partitionDirOf } from './engine-fixtures.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-export-engine-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const archiveOfTraces = (): Promise<BuiltArchive> => tracesIn(path.join(dir, 'data'));
const exportTo = (archive: BuiltArchive, options: Partial<ExportOptions>) => exportInto(archive, path.join(dir, 'out'), options);

const partitionDir = (tenant: string): string => partitionDirOf(path.join(dir, 'out'), tenant);
const partFiles = (tenant: string): string[] => readdirSync(partitionDir(tenant)).filter((f) => f.endsWith('.parquet')).sort();

it('starts a new part file when one reaches the size limit; the marker lists them all', async () => {
  const archive = await archiveOfTraces();
  try {
    const summary = await exportTo(archive, { rowGroupRows: 25, maxFileBytes: 1 });
    expect(summary.written).toBe(8 * 40);
    const files = partFiles('acme');
    // 4 requests × 40 spans in row groups of 25. The size is checked after each row group, against the bytes the
    // Parquet writer has handed out by then (it may still hold the last group's), so not every group ends a file.
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect(files.length).toBeLessThanOrEqual(Math.ceil(160 / 25));
    expect(JSON.parse(readFileSync(path.join(partitionDir('acme'), '_SUCCESS'), 'utf8')).files).toEqual(files);
    expect(await countRows(`${partitionDir('acme')}/*.parquet`)).toBe(160);
    expect(await countRows(`${path.join(dir, 'out')}/**/*.parquet`)).toBe(320);
  } finally {
    await archive.close();
  }
});

it('keeps at most maxOpenFiles part files open, closing the least recently used', async () => {
  const archive = await archiveOfTraces();
  try {
    // One open file, two tenants taking turns: every switch closes the other tenant's file.
    const summary = await exportTo(archive, { rowGroupRows: 10, maxBufferedRows: 10, maxOpenFiles: 1 });
    expect(summary.partitions).toBe(2);
    expect(partFiles('acme').length).toBeGreaterThan(1);
    expect(partFiles('globex').length).toBeGreaterThan(1);
    expect(await countRows(`${partitionDir('acme')}/*.parquet`)).toBe(160);
    expect(await countRows(`${partitionDir('globex')}/*.parquet`)).toBe(160);
  } finally {
    await archive.close();
  }
});

it('leaves out a damaged request, exports the rest and says which', async () => {
  const archive = await archiveOfTraces();
  try {
    const victim = archive.requests[2]!;
    // Flip bytes inside the victim's stored block: its CRC-32 (or gzip) check fails on read.
    const file = path.join(dir, 'data', 'objects', victim.objectKey);
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.alloc(8, 0xff), 0, 8, victim.offset + Math.floor(victim.length / 2));
    closeSync(fd);
    const summary = await exportTo(archive, {});
    expect(summary.damagedRequests).toBe(1);
    expect(summary.damaged[0]!.id).toBe(victim.id);
    expect(summary.damaged[0]!.reason).toMatch(/cannot be read/);
    expect(summary.written).toBe(7 * 40);
    expect(await countRows(`${path.join(dir, 'out')}/**/*.parquet`)).toBe(280);
  } finally {
    await archive.close();
  }
});

it('stops when aborted, leaving no marker and no visible part file', async () => {
  const archive = await archiveOfTraces();
  try {
    const abort = new AbortController();
    abort.abort();
    const summary = await exportTo(archive, { abort: abort.signal });
    expect(summary.aborted).toBe(true);
    expect(summary.partitions).toBe(0);
    const visible = readdirSync(path.join(dir, 'out'), { recursive: true }).map(String).filter((f) => !f.startsWith('.tmp'));
    expect(visible.filter((f) => f.endsWith('.parquet') || f.endsWith('_SUCCESS'))).toEqual([]);
  } finally {
    await archive.close();
  }
});
