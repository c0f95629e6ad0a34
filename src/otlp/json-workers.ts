// OTLP/JSON request bodies converted to protobuf on a worker thread (and, on workers of their own, captured requests
// converted to their OTLP/JSON views: otlpJsonViewOffThread). parseOtlpJson (UTF-8 check, scan, JSON.parse,
// message objects, encode) holds whichever thread runs it ~0.1 s per MiB: on the event loop, one 8 MiB body would
// stall every listener (gRPC ingest of every other client, health checks) for ~0.6-1 s, and gzip'd JSON
// (~40× smaller on the wire) lets one caller keep it busy all the time. Here the event loop only copies the body's
// bytes out and takes the protobuf bytes back; bodies under INLINE_BELOW_BYTES stay inline.
import { Worker } from 'node:worker_threads';
import { MalformedPayloadError, OtlpCaptureError } from '../errors.js';
import type { Signal } from '../model.js';
import { parseOtlpJson, toOtlpJson } from './json.js';
import { detachedCopy, dropSlot, workerExecArgv } from '../util/worker-slots.js';
// Type-only, but it also makes tsc emit json-worker.js next to this module in every build that includes it.
import type { JsonJob, JsonJobKind, JsonReply } from './json-worker.js';

/**
 * One worker: conversion is a fallback encoding's cost, and on the 2-core machines this runs on the zstd pool
 * (src/compression/zstd-workers.ts) already takes every core but one.
 */
const WORKERS = 1;

/** Jobs posted to a worker at once: one converting, one waiting in its port, so it does not idle between bodies. */
const JOBS_PER_WORKER = 2;

/**
 * Bodies smaller than this are converted on the event loop. Measured with `node bench/json-event-loop.mjs 100` (2-core
 * machine, medians; docs/BENCHMARKS.md, "OTLP/JSON off the event loop"): a hand-over costs the event loop 0.04-0.05 ms
 * at any size up to 64 KiB (copy, postMessage, the reply; 0.3-0.4 ms at 1 MiB), while converting inline costs
 * 0.08 ms at 1-2 KiB, 0.14 ms at 4 KiB, 0.56 ms at 16 KiB and 2.1 ms at 64 KiB. Below 2 KiB inline is within 2× of a
 * hand-over, answers ~0.1 ms sooner (no thread hop), and a client that only sends such bodies (curl, a smoke test)
 * never starts the worker; from 4 KiB on the hand-over is several times cheaper.
 */
export const INLINE_BELOW_BYTES = 2 * 1024;

/** The worker died (or was stopped) before answering: nothing was stored, so the caller may retry (HTTP 503). */
export class JsonWorkerLostError extends OtlpCaptureError {}

/** The worker failed converting a body for a reason other than the body being malformed. */
export class JsonWorkerError extends OtlpCaptureError {}

/**
 * Where the compiled worker entry is. A worker thread cannot load TypeScript: when this module runs from src/ (under
 * jest, which compiles src/*.ts in memory) the worker is the build's dist/otlp/json-worker.js (`npm test` runs
 * `npm run build` first); when it runs compiled (dist/, or any other tsc output) it is the sibling file.
 */
export function jsonWorkerUrl(moduleUrl: string = import.meta.url): URL {
  return moduleUrl.endsWith('.ts') ? new URL('../../dist/otlp/json-worker.js', moduleUrl) : new URL('./json-worker.js', moduleUrl);
}

interface Job {
  id: number;
  kind: JsonJobKind;
  signal: Signal;
  /** The caller's bytes (held by the caller until the job settles), copied out when the job is posted. */
  bytes: Uint8Array;
  resolve: (output: Buffer) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  /** Posted and not yet answered, in posting order (a worker answers in that order). */
  jobs: Job[];
}

export class JsonWorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;

  constructor(private readonly size: number = WORKERS) {}

  /**
   * parseOtlpJson(signal, bytes) on a worker ('parse'), or the UTF-8 text of JSON.stringify(toOtlpJson(signal, bytes))
   * ('view'); rejects with the same MalformedPayloadError text for a bad body.
   */
  run(signal: Signal, bytes: Uint8Array, kind: JsonJobKind = 'parse'): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, kind, signal, bytes, resolve, reject });
      this.dispatch();
    });
  }

  /** Stops the workers; jobs queued or converting fail with JsonWorkerLostError. The next run starts a new worker. */
  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    for (const job of this.queue.splice(0)) job.reject(new JsonWorkerLostError('the OTLP/JSON workers were closed'));
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  /** Test hook: ends the workers as a crash would (their jobs fail), leaving the pool to start new ones. */
  async terminateWorkersForTest(): Promise<void> {
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((candidate) => candidate.jobs.length === 0);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      slot ??= this.slots.find((candidate) => candidate.jobs.length < JOBS_PER_WORKER);
      if (!slot) return;
      const job = this.queue.shift()!;
      slot.jobs.push(job);
      slot.worker.ref();
      // Always a copy, made when the job is posted (the receiver reads body.length afterwards): an 8 MiB copy costs
      // the event loop 1-6 ms (fresh pages), against ~0.6 s to convert it.
      const body = detachedCopy(job.bytes);
      slot.worker.postMessage({ id: job.id, kind: job.kind, signal: job.signal, body } satisfies JsonJob, [body]);
    }
  }

  private spawn(): Slot {
    // No resourceLimits: a worker then gets the main thread's heap limit (V8's default or --max-old-space-size),
    // the one this conversion ran under on the event loop. A worker over a limit of its own does not just end: V8
    // aborts the whole process when JSON.parse runs out of heap. Inputs are bounded (server.http.maxJsonBytes, and
    // src/otlp/json-text.ts's density and nesting rules) at ≤ ~25 bytes of heap per byte of body.
    const worker = new Worker(jsonWorkerUrl(), { execArgv: workerExecArgv() });
    const slot: Slot = { worker, jobs: [] };
    worker.on('message', (reply: JsonReply) => {
      const job = slot.jobs[0];
      if (!job || job.id !== reply.id) return;
      slot.jobs.shift();
      if (slot.jobs.length === 0) worker.unref();
      if ('output' in reply) job.resolve(Buffer.from(reply.output));
      else if (reply.error.kind === 'malformed') job.reject(new MalformedPayloadError(reply.error.message));
      else job.reject(new JsonWorkerError(reply.error.message));
      this.dispatch();
    });
    const lost = (error: Error): void => {
      dropSlot(this.slots, slot, error);
      this.dispatch();
    };
    worker.on('error', (error) => lost(new JsonWorkerLostError(`the OTLP/JSON worker failed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => lost(new JsonWorkerLostError(`the OTLP/JSON worker exited (code ${code}) before answering`)));
    // Idle workers do not keep the process alive; one with jobs is referenced again in dispatch().
    worker.unref();
    this.slots.push(slot);
    return slot;
  }
}

const pool = new JsonWorkerPool();

/**
 * The read side's JSON views (GetRequest / FindTrace as OTLP/JSON) on a worker of their own: protobufjs builds an
 * object per message, so a view holds its thread ~16 µs and ~1.4 KiB of heap per minimal span (measured: a 63 MiB
 * request of 1.38 M spans took 23 s and 2 GB on the event loop, during which serve answered nothing, ingest
 * included). Apart from `pool`, so OTLP/JSON ingest never waits behind a view. Views larger than the API allows are
 * refused before they get here (JsonViewLimit, src/query/query-service.ts).
 */
const viewPool = new JsonWorkerPool();

/**
 * parseOtlpJson off the event loop: the protobuf encoding of an OTLP/JSON Export request body. Rejects with
 * MalformedPayloadError (the same text as parseOtlpJson) for a body that is not a valid request, and with
 * JsonWorkerLostError when the worker died before answering.
 */
export async function parseOtlpJsonOffThread(signal: Signal, body: Uint8Array): Promise<Buffer> {
  if (body.length < INLINE_BELOW_BYTES) return parseOtlpJson(signal, body);
  return pool.run(signal, body);
}

/**
 * toOtlpJson off the event loop: the OTLP/JSON text (UTF-8 bytes) of an encoded Export request. Rejects with
 * MalformedPayloadError (the same text as toOtlpJson) for bytes that are not a valid request.
 */
export async function otlpJsonViewOffThread(signal: Signal, bytes: Uint8Array): Promise<Buffer> {
  if (bytes.length < INLINE_BELOW_BYTES) return Buffer.from(JSON.stringify(toOtlpJson(signal, bytes)));
  return viewPool.run(signal, bytes, 'view');
}

/** Terminates the workers (they are unreferenced while idle, so a process exits without this). */
export async function closeJsonWorkers(): Promise<void> {
  await Promise.all([pool.close(), viewPool.close()]);
}
