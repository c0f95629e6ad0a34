// What an export writes into one partition: a sequence of part files (`part-00000.parquet`, … or
// `part-00000.jsonl.gz`, …), a new one when the current one reaches the size limit or had to be closed to keep the
// number of open files bounded, then the completion marker. The engine decides when; this holds the state.
import type { BlobStore } from '../storage/blob-store.js';
import { BatchBuilder } from './arrow-batch.js';
import { JsonlFile } from './jsonl-file.js';
import { writeMarker } from './markers.js';
import type { OutputCodec } from './output-codec.js';
import { ParquetFile, type ParquetCompression } from './parquet-file.js';
import { partitionPath, type PartitionKey } from './partition.js';
import type { Row, TableSchema } from './tables.js';

export interface PartitionResult {
  path: string;
  files: string[];
  /** Rows (Parquet) or lines (OTLP JSON). */
  items: number;
  requests: number;
  bytes: number;
}

export interface FileLimits {
  /** A part file is closed once it reaches this many bytes (a new part follows). */
  maxFileBytes: number;
  /** Called before a part file is opened, so that the engine can close another one first. */
  beforeOpen(partition: PartitionOutput): Promise<void>;
}

export abstract class PartitionOutput {
  readonly path: string;
  readonly files: string[] = [];
  bytes = 0;
  items = 0;
  requests = 0;
  /** For least-recently-used closing: the engine's clock at the last write. */
  lastUsed = 0;
  private nextPart = 0;
  private lastRequestId: string | null = null;

  constructor(
    readonly key: PartitionKey,
    protected readonly store: BlobStore,
    protected readonly limits: FileLimits,
    private readonly format: string,
  ) {
    this.path = partitionPath(key);
  }

  /** Rows waiting in memory for the next row group. */
  abstract get bufferedRows(): number;
  /** Text bytes of those rows (strings, map keys and values): what makes a row large. */
  abstract get bufferedBytes(): number;
  abstract get fileOpen(): boolean;
  /** Writes the waiting rows (opening a part file if needed). */
  abstract flushRows(): Promise<void>;
  /** Completes the current part file, if one is open. */
  abstract closeFile(): Promise<void>;
  /** Drops the open part file (nothing of it becomes visible). */
  abstract abort(): Promise<void>;

  /** Counts `requestId` once as a contributor. */
  noteRequest(requestId: string): void {
    if (this.lastRequestId === requestId) return;
    this.lastRequestId = requestId;
    this.requests += 1;
  }

  /**
   * Writes what is left, closes the file and writes the marker: the partition is complete. Without `marker` the files
   * stay but no `_SUCCESS` says the partition is whole (it misses requests that could not be read).
   */
  async finish(completedAt: Date, marker = true): Promise<PartitionResult> {
    await this.flushRows();
    await this.closeFile();
    if (!marker) return this.result();
    await writeMarker(this.store, this.key, {
      format: this.format,
      items: this.items,
      requests: this.requests,
      bytes: this.bytes,
      files: this.files.map((file) => file.slice(this.path.length + 1)),
      completedAt: completedAt.toISOString(),
    });
    return this.result();
  }

  /**
   * Drops the open file and deletes the part files already completed: a partition that will not be finished must not
   * leave files that an engine's `*.parquet` glob would read as if they were its data. Best effort (the next run
   * clears the partition anyway); returns the keys it could not delete.
   */
  async discard(): Promise<string[]> {
    await this.abort().catch(() => undefined);
    const left: string[] = [];
    for (const file of this.files) await this.store.delete(file).catch(() => left.push(file));
    this.files.length = 0;
    return left;
  }

  private result(): PartitionResult {
    return { path: this.path, files: [...this.files], items: this.items, requests: this.requests, bytes: this.bytes };
  }

  protected nextPartKey(extension: string): string {
    const key = `${this.path}/part-${String(this.nextPart).padStart(5, '0')}${extension}`;
    this.nextPart += 1;
    return key;
  }
}

export interface ParquetOutputOptions {
  table: TableSchema;
  compression: ParquetCompression;
  rowGroupRows: number;
  /**
   * About this much text per row group: a file's row groups hold fewer rows than rowGroupRows when its first rows
   * are large (log bodies of 100 KiB: 16 Ki rows would be GiBs that parquet-wasm holds until the group is written).
   */
  rowGroupBytes: number;
  createdBy: string;
}

export class ParquetPartition extends PartitionOutput {
  private readonly rows: BatchBuilder;
  private file: ParquetFile | null = null;
  private fileKey = '';

  constructor(key: PartitionKey, store: BlobStore, limits: FileLimits, private readonly options: ParquetOutputOptions) {
    super(key, store, limits, 'parquet');
    this.rows = new BatchBuilder(options.table);
  }

  get bufferedRows(): number {
    return this.rows.length;
  }

  get bufferedBytes(): number {
    return this.rows.textBytes;
  }

  get fileOpen(): boolean {
    return this.file !== null;
  }

  /** Copies the row into the waiting row group's column buffers (the row object itself is not kept). */
  add(row: Row): void {
    this.rows.append(row);
  }

  async flushRows(): Promise<void> {
    if (this.rows.length === 0) return;
    const textBytes = this.rows.textBytes;
    const batch = this.rows.finish();
    if (this.file === null) {
      await this.limits.beforeOpen(this);
      this.fileKey = this.nextPartKey('.parquet');
      const { compression, rowGroupRows, rowGroupBytes, createdBy } = this.options;
      const rowsForBytes = textBytes === 0 ? rowGroupRows : Math.floor((rowGroupBytes * batch.numRows) / textBytes);
      this.file = new ParquetFile(this.store.createWriter(this.fileKey), compression, Math.max(1, Math.min(rowGroupRows, rowsForBytes)), createdBy);
    }
    await this.file.write(batch);
    this.items += batch.numRows;
    if (this.file.size >= this.limits.maxFileBytes) await this.closeFile();
  }

  async closeFile(): Promise<void> {
    const file = this.file;
    if (file === null) return;
    this.file = null;
    this.bytes += await file.finish();
    this.files.push(this.fileKey);
  }

  async abort(): Promise<void> {
    this.rows.finish();
    const file = this.file;
    this.file = null;
    await file?.abort();
  }
}

export class JsonlPartition extends PartitionOutput {
  private file: JsonlFile | null = null;
  private fileKey = '';

  constructor(key: PartitionKey, store: BlobStore, limits: FileLimits, private readonly codec: OutputCodec) {
    super(key, store, limits, 'otlp-json');
  }

  get bufferedRows(): number {
    return 0;
  }

  get bufferedBytes(): number {
    return 0;
  }

  get fileOpen(): boolean {
    return this.file !== null;
  }

  async addLine(text: string): Promise<void> {
    if (this.file === null) {
      await this.limits.beforeOpen(this);
      this.fileKey = this.nextPartKey(`.jsonl${this.codec.extension}`);
      this.file = new JsonlFile(this.store.createWriter(this.fileKey), this.codec);
    }
    await this.file.writeLine(text);
    this.items += 1;
    if (this.file.size >= this.limits.maxFileBytes) await this.closeFile();
  }

  async flushRows(): Promise<void> {}

  async closeFile(): Promise<void> {
    const file = this.file;
    if (file === null) return;
    this.file = null;
    this.bytes += await file.finish();
    this.files.push(this.fileKey);
  }

  async abort(): Promise<void> {
    const file = this.file;
    this.file = null;
    await file?.abort();
  }
}
