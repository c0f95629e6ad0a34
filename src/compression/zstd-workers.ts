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
import { detachedCopy, dropSlot, workerExecArgv } from '../util/worker-slots.js';

const require = createRequire(import.meta.url);

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const binding = require(workerData.bindingPath);
const cctx = new binding.CCtx();
// One output area reused by every compression, so a job allocates only its exact-size result, not also a
// compressBound-sized (~1 MiB) buffer. One kept after an unusually large request is dropped again.
let scratch = Buffer.alloc(0);
const KEPT_SCRATCH_BYTES = 16 * 1024 * 1024 + 65536;
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
parentPort.on('message', (job) => {
  try {
    const input = job.inputLength === undefined ? Buffer.from(job.input) : Buffer.from(job.input, 0, job.inputLength);
    let output;
    if (job.op === 'compress') {
      const bound = binding.compressBound(input.length);
      if (scratch.length < bound) scratch = Buffer.allocUnsafeSlow(bound);
      const length = cctx.compress(scratch, input, job.level);
      output = Buffer.allocUnsafeSlow(length);
      scratch.copy(output, 0, 0, length);
      if (scratch.length > KEPT_SCRATCH_BYTES) scratch = Buffer.alloc(0);
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

/**
 * Whose work a job is: 'background' (retention re-encoding) only starts on a worker with nothing else to do and
 * never ahead of waiting 'normal' work (the archiver behind ingest, reads).
 */
export type ZstdPriority = 'normal' | 'background';

/**
 * Jobs posted to one worker at a time: one running and one waiting in its port, so a worker never idles while the
 * event loop (busy receiving Exports) gets round to handing it the next job. Measured with bench/archiver-drain.ts.
 */
export const JOBS_PER_WORKER = 2;

interface Job {
  id: number;
  priority: ZstdPriority;
  op: 'compress' | 'decompress' | 'decode';
  /** The bytes, moved to the worker; or, for compress, empty until dispatch copies `raw` into a pooled input. */
  input: ArrayBuffer | SharedArrayBuffer;
  /** Compress: the caller's bytes (held by the caller until the job settles), copied into a pooled input at dispatch. */
  raw?: Uint8Array;
  inputLength?: number;
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
  /** Posted and not yet answered, in posting order (a worker answers in that order). */
  jobs: Job[];
}

/**
 * Compression inputs are copied into shared buffers that live as long as the pool (at most one per job in flight),
 * not into a fresh 1 MiB allocation per job: every such allocation is external memory to V8, and at ~100 MiB/s of
 * ingest those allocations alone set off a full garbage collection several times a second.
 */
class InputBuffers {
  private readonly free: SharedArrayBuffer[] = [];

  take(bytes: number): SharedArrayBuffer {
    const index = this.free.findIndex((buffer) => buffer.byteLength >= bytes);
    if (index >= 0) return this.free.splice(index, 1)[0]!;
    // Too small for this job: drop the smallest free one so that the pool never holds more buffers than jobs.
    if (this.free.length > 0) this.free.shift();
    return new SharedArrayBuffer(Math.max(MIN_INPUT_BYTES, 2 ** Math.ceil(Math.log2(Math.max(1, bytes)))));
  }

  give(buffer: SharedArrayBuffer): void {
    // Very large inputs (a rare huge request) are not kept: the pool's memory stays at what common requests need.
    if (buffer.byteLength > MAX_KEPT_INPUT_BYTES) return;
    this.free.push(buffer);
    this.free.sort((a, b) => a.byteLength - b.byteLength);
  }
}

const MIN_INPUT_BYTES = 64 * 1024;
const MAX_KEPT_INPUT_BYTES = 16 * 2 ** 20;

export class ZstdWorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly inputs = new InputBuffers();
  private nextId = 1;

  constructor(private readonly size: number) {}

  run(job: Omit<Job, 'id' | 'resolve' | 'reject' | 'priority'>, priority: ZstdPriority = 'normal'): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const queued: Job = { ...job, priority, id: this.nextId++, resolve, reject };
      // Normal jobs go ahead of every waiting background job, in arrival order among themselves.
      const at = priority === 'normal' ? this.queue.findIndex((waiting) => waiting.priority === 'background') : -1;
      if (at < 0) this.queue.push(queued);
      else this.queue.splice(at, 0, queued);
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
      const next = this.queue[0]!;
      // Idle workers first (and new ones while the pool may grow); a second job only behind normal work.
      let slot = this.slots.find((candidate) => candidate.jobs.length === 0);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot && next.priority === 'normal') {
        slot = this.slots.find((candidate) => candidate.jobs.length < JOBS_PER_WORKER && candidate.jobs.every((job) => job.priority === 'normal'));
      }
      if (!slot) return;
      this.queue.shift();
      slot.jobs.push(next);
      slot.worker.ref();
      if (next.raw !== undefined) {
        const raw = next.raw;
        const input = this.inputs.take(raw.length);
        new Uint8Array(input, 0, raw.length).set(raw);
        next.input = input;
        next.inputLength = raw.length;
        delete next.raw;
      }
      const { resolve: _resolve, reject: _reject, priority: _priority, ...message } = next;
      slot.worker.postMessage(message, next.input instanceof SharedArrayBuffer ? [] : [next.input]);
    }
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      execArgv: workerExecArgv(),
      workerData: { bindingPath: require.resolve('zstd-napi/binding.js') },
    });
    const slot: Slot = { worker, jobs: [] };
    worker.on('message', (reply: { id: number; output?: ArrayBuffer; length?: number; error?: string; kind?: string }) => {
      const job = slot.jobs[0];
      if (!job || job.id !== reply.id) return;
      slot.jobs.shift();
      if (job.input instanceof SharedArrayBuffer) this.inputs.give(job.input);
      if (slot.jobs.length === 0) worker.unref();
      if (reply.output) job.resolve(Buffer.from(reply.output, 0, reply.length ?? reply.output.byteLength));
      else job.reject(new ZstdWorkerError(reply.error ?? 'zstd worker failed', reply.kind));
      this.dispatch();
    });
    const lost = (error: Error): void => {
      dropSlot(this.slots, slot, error);
      this.dispatch();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`zstd worker exited with code ${code}`)));
    worker.unref();
    this.slots.push(slot);
    return slot;
  }
}

const EMPTY_INPUT = new ArrayBuffer(0);
const pool = new ZstdWorkerPool(Math.max(1, os.availableParallelism() - 1));

/** One zstd frame of `raw` at `level`, with its content size in the frame header; runs on a worker thread. */
export function zstdCompress(raw: Uint8Array, level: number, priority: ZstdPriority = 'normal'): Promise<Buffer> {
  return pool.run({ op: 'compress', input: EMPTY_INPUT, raw, level }, priority);
}

/**
 * Decompresses zstd data that must decode to exactly `rawLength` bytes (an archive block: its length is known), on
 * a worker thread. Output is allocated at `rawLength` and never grows. Throws CorruptDataError otherwise.
 */
export async function zstdDecompressExact(stored: Uint8Array, rawLength: number, priority: ZstdPriority = 'normal'): Promise<Buffer> {
  try {
    return await pool.run({ op: 'decompress', input: detachedCopy(stored), rawLength }, priority);
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
