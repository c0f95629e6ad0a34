// One Parquet file written as a stream: each batch of rows becomes a row group (Arrow → parquet-wasm, arrow-rs's
// Parquet writer compiled to WebAssembly), and the encoded bytes go to a BlobWriter as they are produced, so a file
// is never whole in memory. Nothing is visible under the key until finish() (BlobWriter semantics).
import type { RecordBatch as WasmRecordBatch, WriterProperties } from 'parquet-wasm/node';
import { Compression, Table as WasmTable, transformParquetStream, WriterPropertiesBuilder } from 'parquet-wasm/node';
import type { BlobWriter } from '../storage/blob-store.js';
import type { RecordBatch } from 'apache-arrow';
import { ipcStream } from './arrow-batch.js';

export const PARQUET_COMPRESSIONS = ['zstd', 'snappy', 'gzip', 'none'] as const;
export type ParquetCompression = (typeof PARQUET_COMPRESSIONS)[number];

const CODECS: Record<ParquetCompression, Compression> = {
  zstd: Compression.ZSTD,
  snappy: Compression.SNAPPY,
  gzip: Compression.GZIP,
  none: Compression.UNCOMPRESSED,
};

export class ParquetFile {
  private readonly queue: WasmRecordBatch[] = [];
  private wakeSource: (() => void) | null = null;
  private ended = false;
  private readonly pumping: Promise<void>;
  private failure: Error | null = null;
  private bytes = 0;
  rows = 0;

  constructor(
    private readonly writer: BlobWriter,
    compression: ParquetCompression,
    rowGroupRows: number,
    createdBy: string,
  ) {
    const source = new ReadableStream<WasmRecordBatch>({
      pull: async (controller) => {
        while (this.queue.length === 0 && !this.ended) await new Promise<void>((resolve) => (this.wakeSource = resolve));
        const next = this.queue.shift();
        if (next !== undefined) controller.enqueue(next);
        else controller.close();
      },
    });
    const properties: WriterProperties = new WriterPropertiesBuilder()
      .setCompression(CODECS[compression])
      .setMaxRowGroupSize(rowGroupRows)
      .setCreatedBy(createdBy)
      .build();
    // Not awaited here: parquet-wasm reads the first batch (for the schema) before the stream is handed back.
    const encoded = transformParquetStream(source, properties) as Promise<ReadableStream<Uint8Array>>;
    this.pumping = this.pump(encoded);
    // Failures are reported by write() and finish(); this keeps them from being "unhandled" meanwhile.
    this.pumping.catch(() => undefined);
  }

  /** Bytes handed to the blob writer so far (the file's size once finished). */
  get size(): number {
    return this.bytes;
  }

  /** Writes the batch's rows (as row groups of at most `rowGroupRows`); resolves once parquet-wasm has taken them. */
  async write(batch: RecordBatch): Promise<void> {
    if (this.failure) throw this.failure;
    if (batch.numRows === 0) return;
    const batches = WasmTable.fromIPCStream(ipcStream(batch)).recordBatches();
    this.queue.push(...batches);
    this.rows += batch.numRows;
    this.wake();
    // Hand over one batch at a time: the next is built only once this one is encoded (bounded memory).
    while (this.queue.length > 0 && this.failure === null) await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.failure) throw this.failure;
  }

  /** Ends the file (footer) and makes it visible; returns its size. */
  async finish(): Promise<number> {
    this.ended = true;
    this.wake();
    await this.pumping;
    if (this.failure) throw this.failure;
    await this.writer.complete();
    return this.bytes;
  }

  async abort(): Promise<void> {
    this.ended = true;
    this.queue.length = 0;
    this.wake();
    this.failure ??= new Error('the Parquet file was abandoned');
    await this.pumping.catch(() => undefined);
    await this.writer.abort();
  }

  private wake(): void {
    const wake = this.wakeSource;
    this.wakeSource = null;
    wake?.();
  }

  private async pump(encoded: Promise<ReadableStream<Uint8Array>>): Promise<void> {
    try {
      for await (const chunk of await encoded) {
        if (this.failure) break;
        // A copy: the writer may hold the chunk until it is written, and it must not depend on wasm memory.
        const buffer = Buffer.from(chunk);
        this.bytes += buffer.length;
        await this.writer.write(buffer);
      }
    } catch (error) {
      this.failure ??= error instanceof Error ? error : new Error(String(error));
      throw this.failure;
    }
  }
}
