// One OTLP JSON lines file, streamed: lines go through the codec's compressor (if any) into a BlobWriter, with
// backpressure, so a file is never whole in memory. Nothing is visible under the key until finish().
import { once } from 'node:events';
import { Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobWriter } from '../storage/blob-store.js';
import type { OutputCodec } from './output-codec.js';

export class JsonlFile {
  private readonly input: Transform | Writable;
  private readonly done: Promise<void>;
  private failure: Error | null = null;
  /** Bytes handed to the blob writer (compressed). */
  size = 0;
  lines = 0;

  constructor(private readonly writer: BlobWriter, codec: OutputCodec) {
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.size += chunk.length;
        this.writer.write(chunk).then(() => callback(), callback);
      },
    });
    const compressor = codec.createStream();
    if (compressor === null) {
      this.input = sink;
      this.done = new Promise<void>((resolve, reject) => {
        sink.once('finish', resolve);
        sink.once('error', reject);
      });
    } else {
      this.input = compressor;
      this.done = pipeline(compressor, sink);
    }
    this.done.catch((error: unknown) => {
      this.failure ??= error instanceof Error ? error : new Error(String(error));
    });
  }

  /** Appends one line (a newline is added). */
  async writeLine(text: string): Promise<void> {
    if (this.failure) throw this.failure;
    this.lines += 1;
    if (!this.input.write(`${text}\n`)) await Promise.race([once(this.input, 'drain'), this.done]);
    if (this.failure) throw this.failure;
  }

  /** Ends the stream and makes the file visible; returns its size. */
  async finish(): Promise<number> {
    this.input.end();
    await this.done;
    if (this.failure) throw this.failure;
    await this.writer.complete();
    return this.size;
  }

  async abort(): Promise<void> {
    this.failure ??= new Error('the file was abandoned');
    this.input.destroy();
    await this.done.catch(() => undefined);
    await this.writer.abort();
  }
}
