// `otlp-capture export`: the selected requests out of the archive, into Hive-style partitions of Parquet tables or
// OTLP JSON lines files, in a directory or under an S3 prefix.
//
// Two passes, both in request id order through the QueryService. The plan (index only) counts the selection and
// works out after which request each partition is complete (plan.ts). The export pass reads requests ahead of the
// writer (bounded by count and bytes), turns each into rows (Parquet) or one line (OTLP JSON), routes them to their
// partition by data time, and completes each partition — last file closed, then its `_SUCCESS` marker — as soon as
// its last request has been read. Memory is bounded: rows wait per partition only up to a row group (and all
// partitions together up to `maxBufferedRows`), at most `maxOpenFiles` part files are open (the least recently used
// is closed, a new part follows), and files stream to the destination.
//
// Resumable: with `resume`, partitions that have a marker are skipped (requests that only touch such partitions are
// not even read); any other partition is cleared of what an interrupted run left and written again whole. Without
// it, a partition the export writes is cleared first too, so a second run never mixes with the first.
import { readAhead } from '../replay/read-ahead.js';
import type { ArchivedRequest, Signal } from '../model.js';
import type { QueryService } from '../query/query-service.js';
import type { BlobStore } from '../storage/blob-store.js';
import { flattenRequest } from './flatten.js';
import { clearPartition, completedPartitions } from './markers.js';
import type { OutputCodec } from './output-codec.js';
import type { ParquetCompression } from './parquet-file.js';
import { hourOf, partitionPath, streamId, type PartitionKey } from './partition.js';
import { JsonlPartition, ParquetPartition, type FileLimits, type PartitionOutput } from './partition-output.js';
import { planExport, requestHours, type ExportFormat, type ExportPlan } from './plan.js';
import { selectRequests, type ExportFilter } from './selection.js';
import { TABLES, type Row } from './tables.js';

export interface ExportOptions {
  format: ExportFormat;
  filter: ExportFilter;
  /** Skip partitions that have a completion marker. */
  resume: boolean;
  /** OTLP JSON: the file codec. */
  codec?: OutputCodec;
  /** Parquet: the column codec. */
  parquetCompression?: ParquetCompression;
  maxFileBytes: number;
  rowGroupRows?: number;
  /** Parquet: text bytes per row group, about (fewer rows per group when rows are large). */
  rowGroupBytes?: number;
  maxBufferedRows?: number;
  /** Text bytes waiting in memory over all partitions. */
  maxBufferedBytes?: number;
  maxOpenFiles?: number;
  readAheadRequests?: number;
  readAheadBytes?: number;
  /** Written into Parquet footers (`created_by`). */
  createdBy?: string;
  onProgress?: (progress: ExportProgress) => void;
  abort?: AbortSignal;
  nowMs?: () => number;
}

export interface ExportCounts {
  requests: number;
  items: number;
  bytes: number;
}

export interface ExportProgress {
  total: ExportCounts;
  /** Requests read (or skipped as already exported), their items and raw bytes. */
  done: ExportCounts;
  /** Rows (Parquet) or lines (OTLP JSON) written. */
  written: number;
  partitions: number;
  files: number;
  outputBytes: number;
  elapsedMs: number;
}

export interface DamagedRequest {
  id: string;
  reason: string;
}

export interface ExportSummary extends ExportProgress {
  /** Partitions skipped because an earlier run completed them. */
  skippedPartitions: number;
  /** Requests not read because every partition they touch was complete. */
  skippedRequests: number;
  /** Requests that could not be read or decoded (everything else was exported): how many, and the first few. */
  damagedRequests: number;
  damaged: DamagedRequest[];
  /** Items whose own time lay outside their request's indexed range (placed at the nearest hour of that range). */
  clampedItems: number;
  /**
   * Partitions written without a `_SUCCESS` marker because a damaged request could have had data in them: their files
   * hold everything else, and `--resume` writes them again (so a request that was only unreadable for a while is not
   * lost to an export that believes those partitions complete).
   */
  incompletePartitions: number;
  aborted: boolean;
}

const DEFAULTS = {
  rowGroupRows: 16_384,
  rowGroupBytes: 64 * 2 ** 20,
  maxBufferedRows: 65_536,
  maxBufferedBytes: 192 * 2 ** 20,
  maxOpenFiles: 32,
  readAheadRequests: 16,
  readAheadBytes: 64 * 2 ** 20,
};

const MAX_DAMAGED_LISTED = 20;

export async function runExport(query: QueryService, destination: BlobStore, options: ExportOptions): Promise<ExportSummary> {
  if (options.format === 'otlp-json' && options.codec === undefined) throw new RangeError('an OTLP JSON export needs a codec');
  const plan = await planExport(query, options.filter, options.format);
  return new ExportRun(query, destination, options, plan).run();
}

class ExportRun {
  private readonly nowMs: () => number;
  private readonly startedAtMs: number;
  private readonly settings: typeof DEFAULTS;
  private readonly open = new Map<string, PartitionOutput>();
  /** Per (signal, tenant) stream: hour → partition, of the open ones (for completing hour ranges). */
  private readonly byStream = new Map<string, Map<number, PartitionOutput>>();
  private completed = new Set<string>();
  private readonly limits: FileLimits;
  private clock = 0;
  private readonly progress: ExportProgress;
  private skippedPartitions = 0;
  private skippedRequests = 0;
  private clampedItems = 0;
  private readonly damaged: DamagedRequest[] = [];
  private damagedCount = 0;
  /** Per (signal, tenant) stream: the hour ranges damaged requests could have had data in (no marker there). */
  private readonly damagedHours = new Map<string, [number, number][]>();
  private incompletePartitions = 0;

  constructor(
    private readonly query: QueryService,
    private readonly store: BlobStore,
    private readonly options: ExportOptions,
    private readonly plan: ExportPlan,
  ) {
    this.nowMs = options.nowMs ?? Date.now;
    this.startedAtMs = this.nowMs();
    this.settings = {
      rowGroupRows: options.rowGroupRows ?? DEFAULTS.rowGroupRows,
      rowGroupBytes: options.rowGroupBytes ?? DEFAULTS.rowGroupBytes,
      maxBufferedRows: options.maxBufferedRows ?? DEFAULTS.maxBufferedRows,
      maxBufferedBytes: options.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes,
      maxOpenFiles: options.maxOpenFiles ?? DEFAULTS.maxOpenFiles,
      readAheadRequests: options.readAheadRequests ?? DEFAULTS.readAheadRequests,
      readAheadBytes: options.readAheadBytes ?? DEFAULTS.readAheadBytes,
    };
    this.limits = { maxFileBytes: options.maxFileBytes, beforeOpen: (partition) => this.makeRoomForFile(partition) };
    this.progress = {
      total: { requests: plan.requests, items: plan.items, bytes: plan.bytes },
      done: { requests: 0, items: 0, bytes: 0 },
      written: 0,
      partitions: 0,
      files: 0,
      outputBytes: 0,
      elapsedMs: 0,
    };
  }

  async run(): Promise<ExportSummary> {
    if (this.options.resume) this.completed = await completedPartitions(this.store, this.options.format);
    this.report();
    let aborted = false;
    try {
      if (this.plan.lastId !== null) {
        const selection = this.skipComplete(selectRequests(this.query, this.options.filter, this.plan.lastId));
        const reads = readAhead({ index: this.query.index, blobs: this.query.blobs }, selection, this.settings.readAheadRequests, this.settings.readAheadBytes);
        for await (const { request, bytes } of reads) {
          if (this.options.abort?.aborted) {
            aborted = true;
            break;
          }
          let raw: Buffer | null = null;
          try {
            raw = await bytes;
          } catch (error) {
            this.noteDamaged(request, `cannot be read: ${(error as Error).message}`);
          }
          if (raw !== null) await this.exportRequest(request, raw);
          this.count(request);
          await this.completeAfter(request.id);
          this.report();
        }
      }
      if (!aborted) {
        // Partitions the plan did not expect data in (only clamped items can lead there): complete them too.
        for (const partition of [...this.open.values()]) await this.complete(partition);
      }
    } catch (error) {
      await this.abandonOpen();
      throw error;
    }
    if (aborted) await this.abandonOpen();
    this.report();
    return {
      ...this.snapshot(),
      skippedPartitions: this.skippedPartitions,
      skippedRequests: this.skippedRequests,
      damagedRequests: this.damagedCount,
      damaged: [...this.damaged],
      clampedItems: this.clampedItems,
      incompletePartitions: this.incompletePartitions,
      aborted,
    };
  }

  /** Passes on the requests that can still add data; counts the others as done (their partitions are complete). */
  private async *skipComplete(requests: AsyncIterable<ArchivedRequest>): AsyncGenerator<ArchivedRequest> {
    for await (const request of requests) {
      if (this.completed.size > 0 && this.allComplete(request)) {
        this.skippedRequests += 1;
        this.count(request);
        continue;
      }
      yield request;
    }
  }

  private allComplete(request: ArchivedRequest): boolean {
    const [from, to] = requestHours(request, this.options.format);
    // A request spanning very many hours (a cumulative metric with an old start time) is simply read.
    if (to - from > 24 * 31) return false;
    for (let hour = from; hour <= to; hour++) {
      if (!this.completed.has(partitionPath({ signal: request.signal, tenant: request.tenant, hour }))) return false;
    }
    return true;
  }

  private async exportRequest(request: ArchivedRequest, raw: Buffer): Promise<void> {
    const [from, to] = requestHours(request, this.options.format);
    if (this.options.format === 'otlp-json') {
      const partition = await this.partitionFor(request.signal, request.tenant, from);
      if (partition === null) return;
      let text: string;
      try {
        const { toOtlpJson } = await import('../otlp/json.js');
        text = JSON.stringify(toOtlpJson(request.signal, raw));
      } catch (error) {
        this.noteDamaged(request, `cannot be decoded: ${(error as Error).message}`);
        return;
      }
      partition.noteRequest(request.id);
      await (partition as JsonlPartition).addLine(text);
      this.progress.written += 1;
      return;
    }
    // Rows are routed synchronously into per-partition buffers; the partitions they land in are prepared after.
    const touched = new Map<number, Row[]>();
    try {
      flattenRequest(request, raw, {
        add: (row, timeNs) => {
          let hour = hourOf(timeNs);
          if (hour < from || hour > to) {
            this.clampedItems += 1;
            hour = hour < from ? from : to;
          }
          let rows = touched.get(hour);
          if (rows === undefined) touched.set(hour, (rows = []));
          rows.push(row);
        },
      });
    } catch (error) {
      this.noteDamaged(request, `cannot be decoded: ${(error as Error).message}`);
      return;
    }
    for (const [hour, rows] of touched) {
      const partition = (await this.partitionFor(request.signal, request.tenant, hour)) as ParquetPartition | null;
      if (partition === null) continue;
      partition.noteRequest(request.id);
      for (const row of rows) partition.add(row);
      partition.lastUsed = ++this.clock;
      if (partition.bufferedRows >= this.settings.rowGroupRows || partition.bufferedBytes >= this.settings.rowGroupBytes) await this.flush(partition);
    }
    await this.relieveMemory();
  }

  /** The open partition for an hour, created (and cleared of leftovers) on first use; null when already complete. */
  private async partitionFor(signal: Signal, tenant: string, hour: number): Promise<PartitionOutput | null> {
    const key: PartitionKey = { signal, tenant, hour };
    const path = partitionPath(key);
    const existing = this.open.get(path);
    if (existing !== undefined) {
      existing.lastUsed = ++this.clock;
      return existing;
    }
    if (this.completed.has(path)) return null;
    await clearPartition(this.store, key);
    const partition =
      this.options.format === 'parquet'
        ? new ParquetPartition(key, this.store, this.limits, {
            table: TABLES[signal],
            compression: this.options.parquetCompression ?? 'zstd',
            rowGroupRows: this.settings.rowGroupRows,
            rowGroupBytes: this.settings.rowGroupBytes,
            createdBy: this.options.createdBy ?? 'otlp-capture',
          })
        : new JsonlPartition(key, this.store, this.limits, this.options.codec!);
    partition.lastUsed = ++this.clock;
    this.open.set(path, partition);
    const stream = streamId(signal, tenant);
    let hours = this.byStream.get(stream);
    if (hours === undefined) this.byStream.set(stream, (hours = new Map()));
    hours.set(hour, partition);
    return partition;
  }

  private async flush(partition: PartitionOutput): Promise<void> {
    const before = partition.items;
    await partition.flushRows();
    this.progress.written += partition.items - before;
  }

  /**
   * Keeps the rows waiting in memory, over all partitions, under both limits (rows, and their text bytes): the
   * fullest buffers go first, until both are at half.
   */
  private async relieveMemory(): Promise<void> {
    let rows = 0;
    let bytes = 0;
    for (const partition of this.open.values()) {
      rows += partition.bufferedRows;
      bytes += partition.bufferedBytes;
    }
    const { maxBufferedRows, maxBufferedBytes } = this.settings;
    if (rows <= maxBufferedRows && bytes <= maxBufferedBytes) return;
    const share = (p: PartitionOutput): number => p.bufferedRows / maxBufferedRows + p.bufferedBytes / maxBufferedBytes;
    const fullest = [...this.open.values()].filter((p) => p.bufferedRows > 0).sort((a, b) => share(b) - share(a));
    for (const partition of fullest) {
      if (rows <= maxBufferedRows / 2 && bytes <= maxBufferedBytes / 2) break;
      rows -= partition.bufferedRows;
      bytes -= partition.bufferedBytes;
      await this.flush(partition);
    }
  }

  /** Before a part file opens: if as many are open as allowed, the least recently used one is completed. */
  private async makeRoomForFile(opening: PartitionOutput): Promise<void> {
    let openFiles = 0;
    let oldest: PartitionOutput | null = null;
    for (const partition of this.open.values()) {
      if (!partition.fileOpen || partition === opening) continue;
      openFiles += 1;
      if (oldest === null || partition.lastUsed < oldest.lastUsed) oldest = partition;
    }
    if (openFiles < this.settings.maxOpenFiles || oldest === null) return;
    // Its waiting rows go into the file before it closes, so the next part starts empty.
    await this.flush(oldest);
    await oldest.closeFile();
  }

  /** Completes the partitions whose last request `requestId` was. */
  private async completeAfter(requestId: string): Promise<void> {
    const ranges = this.plan.completions.get(requestId);
    if (ranges === undefined) return;
    for (const range of ranges) {
      const hours = this.byStream.get(range.stream);
      if (hours === undefined) continue;
      for (const [hour, partition] of [...hours]) {
        if (hour >= range.from && hour <= range.to) await this.complete(partition);
      }
    }
  }

  private async complete(partition: PartitionOutput): Promise<void> {
    const before = partition.items;
    const whole = !this.missesDamaged(partition.key);
    if (!whole) this.incompletePartitions += 1;
    const result = await partition.finish(new Date(this.nowMs()), whole);
    this.progress.written += partition.items - before;
    this.progress.partitions += 1;
    this.progress.files += result.files.length;
    this.progress.outputBytes += result.bytes;
    this.open.delete(partition.path);
    this.byStream.get(streamId(partition.key.signal, partition.key.tenant))?.delete(partition.key.hour);
    this.completed.add(partition.path);
  }

  /** Interrupted or failed: the partitions not completed go away whole, their already completed part files too. */
  private async abandonOpen(): Promise<void> {
    for (const partition of this.open.values()) {
      this.progress.written -= partition.items;
      await partition.discard();
    }
    this.open.clear();
    this.byStream.clear();
  }

  private count(request: ArchivedRequest): void {
    this.progress.done.requests += 1;
    this.progress.done.items += request.items;
    this.progress.done.bytes += request.rawBytes;
  }

  private noteDamaged(request: ArchivedRequest, reason: string): void {
    this.damagedCount += 1;
    if (this.damaged.length < MAX_DAMAGED_LISTED) this.damaged.push({ id: request.id, reason });
    const stream = streamId(request.signal, request.tenant);
    let ranges = this.damagedHours.get(stream);
    if (ranges === undefined) this.damagedHours.set(stream, (ranges = []));
    ranges.push(requestHours(request, this.options.format));
  }

  private missesDamaged(key: PartitionKey): boolean {
    const ranges = this.damagedHours.get(streamId(key.signal, key.tenant));
    return ranges !== undefined && ranges.some(([from, to]) => key.hour >= from && key.hour <= to);
  }

  private snapshot(): ExportProgress {
    return {
      ...this.progress,
      total: { ...this.progress.total },
      done: { ...this.progress.done },
      elapsedMs: this.nowMs() - this.startedAtMs,
    };
  }

  private report(): void {
    this.options.onProgress?.(this.snapshot());
  }
}
