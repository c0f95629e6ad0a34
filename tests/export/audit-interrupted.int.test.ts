// An export that does not finish cleanly — interrupted part-way, or meeting a request it cannot read — against a real
// archive and a real filesystem destination, read back by DuckDB: what is visible afterwards must be either a whole
// partition (with `_SUCCESS`) or nothing an engine's glob would take for data, and `--resume` must then finish the job.
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExportOptions, ExportSummary } from '../../src/export/export-engine.js';
import type { BuiltArchive } from '../helpers/archive-builder.js';
import { archiveOfTraces as tracesIn, countRows, exportInto, partitionDirOf } from './engine-fixtures.js';

const SPANS = 40;

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-audit-interrupted-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const archiveOfTraces = (): Promise<BuiltArchive> => tracesIn(path.join(dir, 'data'), SPANS);
const exportTo = (archive: BuiltArchive, options: Partial<ExportOptions>): Promise<ExportSummary> => exportInto(archive, path.join(dir, 'out'), options);
const partitionDir = (tenant: string): string => partitionDirOf(path.join(dir, 'out'), tenant);
const marked = (tenant: string): boolean => existsSync(path.join(partitionDir(tenant), '_SUCCESS'));

/** Every visible .parquet file under the destination (what `read_parquet('…/**' + '/*.parquet')` would read). */
function visibleParquet(): string[] {
  return readdirSync(path.join(dir, 'out'), { recursive: true })
    .map(String)
    .filter((file) => file.endsWith('.parquet') && !file.startsWith('.tmp'));
}

it('an interrupted export leaves no part file of a partition it had not finished; --resume then writes it whole', async () => {
  const archive = await archiveOfTraces();
  try {
    // One open file and tiny row groups: both tenants' partitions have completed part files (closed to make room for
    // the other's) long before either partition is complete.
    const tight = { rowGroupRows: 10, maxBufferedRows: 10, maxOpenFiles: 1 };
    const abort = new AbortController();
    const interrupted = await exportTo(archive, {
      ...tight,
      abort: abort.signal,
      onProgress: (progress) => {
        if (progress.done.requests >= 5) abort.abort();
      },
    });
    expect(interrupted.aborted).toBe(true);
    expect(interrupted.partitions).toBe(0);
    expect(marked('acme') || marked('globex')).toBe(false);
    // Before: part-00000/part-00001 of both partitions stayed, 200 of 320 spans readable as if exported.
    expect(visibleParquet()).toEqual([]);
    expect(interrupted.written).toBe(0);

    const resumed = await exportTo(archive, { ...tight, resume: true });
    expect(resumed.aborted).toBe(false);
    expect(resumed.partitions).toBe(2);
    expect(await countRows(`${path.join(dir, 'out')}/**/*.parquet`)).toBe(8 * SPANS);
  } finally {
    await archive.close();
  }
});

it('a request that cannot be read leaves its partition without _SUCCESS, so --resume exports it once it can be read', async () => {
  const archive = await archiveOfTraces();
  try {
    const victim = archive.requests[2]!;
    expect(victim.tenant).toBe('acme');
    // Damage the victim's stored block (its check fails on read), keeping the original bytes to put back: an object
    // that was unreadable for a while (a flaky disk or S3 read) rather than lost.
    const file = path.join(dir, 'data', 'objects', victim.objectKey);
    const at = victim.offset + Math.floor(victim.length / 2);
    const original = Buffer.alloc(8);
    const fd = openSync(file, 'r+');
    readSync(fd, original, 0, 8, at);
    writeSync(fd, Buffer.alloc(8, 0xff), 0, 8, at);

    const first = await exportTo(archive, {});
    expect(first.damagedRequests).toBe(1);
    // Everything readable is exported; only the partition the victim belongs to is not called complete.
    expect(await countRows(`${partitionDir('acme')}/*.parquet`)).toBe(3 * SPANS);
    expect(marked('acme')).toBe(false);
    expect(marked('globex')).toBe(true);
    expect(first.incompletePartitions).toBe(1);

    writeSync(fd, original, 0, 8, at);
    closeSync(fd);
    const resumed = await exportTo(archive, { resume: true });
    expect(resumed.damagedRequests).toBe(0);
    expect(resumed.skippedPartitions + resumed.partitions).toBeGreaterThanOrEqual(1);
    // Before: acme had a _SUCCESS from the first run, so --resume skipped it and the victim's spans never arrived.
    expect(marked('acme')).toBe(true);
    expect(await countRows(`${partitionDir('acme')}/*.parquet`)).toBe(4 * SPANS);
    expect(await countRows(`${partitionDir('globex')}/*.parquet`)).toBe(4 * SPANS);
  } finally {
    await archive.close();
  }
});

it('--resume in another format is refused before anything is written; in the same format it skips what is complete', async () => {
  const archive = await archiveOfTraces();
  try {
    const first = await exportTo(archive, {});
    expect(first.written).toBe(8 * SPANS);
    const none = { name: 'none', extension: '', createStream: () => null };
    await expect(exportTo(archive, { format: 'otlp-json', codec: none, resume: true })).rejects.toThrow(
      /--resume: .*_SUCCESS says this destination holds a parquet export, not otlp-json/,
    );
    expect(visibleParquet()).toHaveLength(first.files);
    expect(readdirSync(path.join(dir, 'out'), { recursive: true }).map(String).filter((f) => f.endsWith('.jsonl'))).toEqual([]);
    const again = await exportTo(archive, { resume: true });
    expect(again.skippedRequests).toBe(8);
    expect(await countRows(path.join(dir, 'out', '**', '*.parquet'))).toBe(8 * SPANS);
  } finally {
    await archive.close();
  }
});
