// zstd compression and decompression off the event loop. The zstd-napi binding is synchronous, so a small pool of
// worker threads runs it (the same number as compression slots in src/archiver/codec.ts: one per core but one);
// the event loop that receives and acknowledges Exports only copies bytes in and takes the result back.
//
// The worker's code is a string evaluated as CommonJS: it then runs the same way from src/ under the test runner and
// from dist/ in production, and loads zstd-napi from the absolute path resolved here.
import { createRequire } from 'node:module';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { CorruptDataError } from '../errors.js';

const require = createRequire(import.meta.url);

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const zstd = require(workerData.zstdPath);
const binding = require(workerData.bindingPath);
const compressors = new Map();
const dctx = new binding.DCtx();
const streamCtx = new binding.DCtx();
class JobError extends Error {
  constructor(kind, message) { super(message); this.kind = kind; }
}
// Bounded decoding of a wire body: the same rules as src/compression/zstd-decoder.ts (output capped at maxBytes + 1,
// window capped), for bodies large enough that the event loop should not spend the time.
function boundedDecode(src, maxBytes, windowLogMax, capacityHint) {
  streamCtx.reset(binding.ResetDirective.sessionAndParameters);
  streamCtx.setParameter(binding.DParameter.windowLogMax, windowLogMax);
  let out = Buffer.allocUnsafeSlow(Math.min(maxBytes + 1, capacityHint || Math.max(256 * 1024, src.length * 8)));
  let used = 0;
  let inFrame = false;
  while (src.length > 0 || inFrame) {
    if (used === out.length) {
      const next = Buffer.allocUnsafeSlow(Math.min(maxBytes + 1, out.length * 2));
      out.copy(next, 0, 0, used);
      out = next;
    }
    const space = out.length - used;
    let result;
    try {
      result = streamCtx.decompressStream(out.subarray(used), src);
    } catch (error) {
      const message = String(error && error.message ? error.message : error);
      throw new JobError(/too much memory/i.test(message) ? 'window' : 'malformed', message);
    }
    const [remaining, produced, consumed] = result;
    if (produced === 0 && consumed === 0 && src.length > 0) throw new JobError('malformed', 'the decoder made no progress');
    used += produced;
    src = src.subarray(consumed);
    if (used > maxBytes) throw new JobError('too-large', 'over the limit');
    inFrame = remaining !== 0;
    if (produced < space && src.length === 0) break;
  }
  if (inFrame) throw new JobError('malformed', 'it ends inside a frame');
  return { out, used };
}
function standalone(buffer) {
  if (buffer.byteOffset === 0 && buffer.byteLength === buffer.buffer.byteLength) return buffer;
  const copy = Buffer.allocUnsafeSlow(buffer.length);
  buffer.copy(copy);
  return copy;
}
parentPort.on('message', (job) => {
  try {
    const input = Buffer.from(job.input);
    let output;
    if (job.op === 'compress') {
      let compressor = compressors.get(job.level);
      if (!compressor) {
        compressor = new zstd.Compressor();
        compressor.setParameters({ compressionLevel: job.level, contentSizeFlag: true });
        compressors.set(job.level, compressor);
      }
      output = standalone(compressor.compress(input));
    } else if (job.op === 'decode') {
      const { out, used } = boundedDecode(input, job.maxBytes, job.windowLogMax, job.capacityHint);
      parentPort.postMessage({ id: job.id, output: out.buffer, length: used }, [out.buffer]);
      return;
    } else {
      output = Buffer.allocUnsafeSlow(job.rawLength);
      const written = dctx.decompress(output, input);
      if (written !== job.rawLength) throw new Error('the block decompressed to ' + written + ' bytes, expected ' + job.rawLength);
    }
    parentPort.postMessage({ id: job.id, output: output.buffer }, [output.buffer]);
  } catch (error) {
    parentPort.postMessage({ id: job.id, error: String(error && error.message ? error.message : error), kind: error && error.kind });
  }
});
`;

/** A job the worker refused: `kind` says why ('too-large', 'window', 'malformed'; undefined for anything else). */
export class ZstdWorkerError extends Error {
  constructor(message: string, readonly kind: string | undefined) {
    super(message);
    this.name = 'ZstdWorkerError';
  }
}

interface Job {
  id: number;
  op: 'compress' | 'decompress' | 'decode';
  input: ArrayBuffer;
  level?: number;
  rawLength?: number;
  maxBytes?: number;
  windowLogMax?: number;
  capacityHint?: number;
  resolve: (output: Buffer) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
}

class ZstdWorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;

  constructor(private readonly size: number) {}

  run(job: Omit<Job, 'id' | 'resolve' | 'reject'>): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      this.queue.push({ ...job, id: this.nextId++, resolve, reject });
      this.dispatch();
    });
  }

  /** Stops every worker; jobs still queued or running fail. For tests and shutdown. */
  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    for (const job of this.queue.splice(0)) job.reject(new Error('zstd workers were closed'));
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((candidate) => candidate.job === null);
      if (!slot) {
        if (this.slots.length >= this.size) return;
        slot = this.spawn();
      }
      const job = this.queue.shift()!;
      slot.job = job;
      slot.worker.ref();
      const { resolve: _resolve, reject: _reject, ...message } = job;
      slot.worker.postMessage(message, [job.input]);
    }
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { zstdPath: require.resolve('zstd-napi'), bindingPath: require.resolve('zstd-napi/binding.js') },
    });
    const slot: Slot = { worker, job: null };
    worker.on('message', (reply: { id: number; output?: ArrayBuffer; length?: number; error?: string; kind?: string }) => {
      const job = slot.job;
      if (!job || job.id !== reply.id) return;
      slot.job = null;
      worker.unref();
      if (reply.output) job.resolve(Buffer.from(reply.output, 0, reply.length ?? reply.output.byteLength));
      else job.reject(new ZstdWorkerError(reply.error ?? 'zstd worker failed', reply.kind));
      this.dispatch();
    });
    const lost = (error: Error): void => {
      const index = this.slots.indexOf(slot);
      if (index >= 0) this.slots.splice(index, 1);
      slot.job?.reject(error);
      slot.job = null;
      this.dispatch();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`zstd worker exited with code ${code}`)));
    worker.unref();
    this.slots.push(slot);
    return slot;
  }
}

const pool = new ZstdWorkerPool(Math.max(1, os.availableParallelism() - 1));

/** A fresh ArrayBuffer holding exactly `bytes`, to hand to a worker without cloning a larger backing store. */
function detachedCopy(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy.buffer;
}

/** One zstd frame of `raw` at `level`, with its content size in the frame header; runs on a worker thread. */
export function zstdCompress(raw: Uint8Array, level: number): Promise<Buffer> {
  return pool.run({ op: 'compress', input: detachedCopy(raw), level });
}

/**
 * Decompresses zstd data that must decode to exactly `rawLength` bytes (an archive block: its length is known), on
 * a worker thread. Output is allocated at `rawLength` and never grows. Throws CorruptDataError otherwise.
 */
export async function zstdDecompressExact(stored: Uint8Array, rawLength: number): Promise<Buffer> {
  try {
    return await pool.run({ op: 'decompress', input: detachedCopy(stored), rawLength });
  } catch (error) {
    throw new CorruptDataError(`zstd data does not decompress: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Decodes a zstd wire body on a worker thread with the limits of src/compression/zstd-decoder.ts. Rejects with
 * ZstdWorkerError: kind 'too-large' (output past maxBytes), 'window' (a window the limit does not allow) or
 * 'malformed'. `capacityHint`: the decoded size when the frames declare it.
 */
export function zstdDecodeOnWorker(body: Uint8Array, maxBytes: number, windowLogMax: number, capacityHint?: number): Promise<Buffer> {
  return pool.run({ op: 'decode', input: detachedCopy(body), maxBytes, windowLogMax, ...(capacityHint === undefined ? {} : { capacityHint }) });
}

/** Terminates the worker threads (they are unreferenced while idle, so a process exits without this). */
export function closeZstdWorkers(): Promise<void> {
  return pool.close();
}
