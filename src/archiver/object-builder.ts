// Builds one archive object (layout: object-format.ts) by streaming blocks into a BlobWriter.
//
// Compression of successive appends runs in parallel on the threadpool, but blocks reach the writer strictly in
// append order: each append chains its write behind the previous one, so offsets are assigned in that order and are
// exact. Any failed write (or compression) makes the builder failed for good: the writer is aborted, later appends
// and finish() reject with the first error. A half-written object is never completed.

import type { ClientBlock } from '../compression/wire-block.js';
import zlib from 'node:zlib';
import type { ArchivedRequest, Codec, ObjectMeta, RequestLocation, RequestMeta, Signal } from '../model.js';
import type { BlobWriter } from '../storage/blob-store.js';
import { BackendUnavailableError, CorruptDataError, InvalidArgumentError, OtlpCaptureError } from '../errors.js';
import { compress, resolveLevel, type ZlibPriority } from './codec.js';
import {
  MAX_MANIFEST_CHARS,
  encodeBlockHeader,
  encodeManifestAndTrailer,
  encodeObjectHeader,
  manifestBaseBound,
  manifestEntryBound,
} from './object-format.js';

export interface ObjectBuilderOptions {
  key: string;
  tenant: string;
  signal: Signal;
  codec: Codec;
  /** Codec level; the codec's default when omitted. */
  level?: number;
  /** Retention re-encoding passes 'background', so it never holds up the archiver's compression. */
  priority?: ZlibPriority;
  writer: BlobWriter;
  nowMs: number;
  /** The manifest's JSON may grow to this many characters; MAX_MANIFEST_CHARS when omitted (tests set less). */
  maxManifestChars?: number;
}

type State = 'open' | 'finishing' | 'finished' | 'failed' | 'aborted';

const MAX_BLOCK_BYTES = 0xffffffff;
/**
 * Small pieces (block headers, the blocks of small requests) are gathered up to this many bytes and handed to the
 * writer as one chunk: one write per piece cost a filesystem round trip each (200,000 small requests made 400,000
 * writes). A larger piece goes out together with what was gathered before it (copied into one chunk up to
 * COALESCE_COPY_LIMIT, beyond that as two writes).
 */
const COALESCE_BYTES = 64 * 1024;
const COALESCE_COPY_LIMIT = 1024 * 1024;

export class ObjectBuilder {
  readonly key: string;
  readonly tenant: string;
  readonly signal: Signal;
  readonly codec: Codec;
  readonly createdAtMs: number;
  private readonly level: number;
  private readonly priority: ZlibPriority;
  private readonly writer: BlobWriter;

  private state: State = 'open';
  private failure: Error | undefined;
  /** The last queued write: every write waits for it, which is what keeps blocks in append order. */
  private tail: Promise<void> = Promise.resolve();
  private finishing: Promise<unknown> | undefined;
  /** Bytes of the object so far, gathered ones included (only advanced inside the write chain). */
  private position = 0;
  /** Pieces not yet handed to the writer (see COALESCE_BYTES), and their length. */
  private gathered: Buffer[] = [];
  private gatheredBytes = 0;
  private readonly archived: ArchivedRequest[] = [];
  private readonly ids = new Set<string>();
  private appendedRawBytes = 0;
  private readonly maxManifestChars: number;
  /** At least the length of the manifest's JSON so far (see manifestRoom). */
  private manifestChars: number;

  constructor(options: ObjectBuilderOptions) {
    this.key = options.key;
    this.tenant = options.tenant;
    this.signal = options.signal;
    this.codec = options.codec;
    this.level = resolveLevel(options.codec, options.level);
    this.priority = options.priority ?? 'normal';
    this.writer = options.writer;
    this.createdAtMs = options.nowMs;
    this.maxManifestChars = options.maxManifestChars ?? MAX_MANIFEST_CHARS;
    this.manifestChars = manifestBaseBound(this.key, this.tenant);
    this.tail = this.enqueueWrite(async () => {
      await this.writeRaw(encodeObjectHeader());
    });
  }

  /** Requests appended so far (counted at append time, so size limits can be checked without awaiting). */
  get requestCount(): number {
    return this.ids.size;
  }

  /** Raw bytes appended so far. */
  get rawBytes(): number {
    return this.appendedRawBytes;
  }

  /**
   * Whether the manifest has room for `meta` with `traceIdCount` trace ids. The archiver seals an object before a
   * request that does not fit (as before one that would pass maxObjectBytes): however small the requests, their
   * entries add up, and a manifest too long for one JS string could never be written.
   */
  manifestRoom(meta: RequestMeta, traceIdCount: number): boolean {
    return this.manifestChars + manifestEntryBound(meta, traceIdCount) <= this.maxManifestChars;
  }

  /**
   * Adds one request; resolves with its location once its block is placed in the object (handed to the writer,
   * or gathered with other small pieces for the next write; finish() writes everything before completing). `traceIds` (distinct
   * span trace ids of a trace request) go into the manifest, so that a rebuilt index gets its trace rows too.
   * `rawCrc32`, the CRC-32 of `raw` when the caller already has it (the spool computed it), saves another pass.
   * `kept`: the request as the client compressed it, stored as its block (with its own codec) instead of compressing
   * `raw` here; the caller has checked that it decodes to `raw` (src/compression/wire-block.ts).
   */
  append(meta: RequestMeta, raw: Buffer, traceIds?: readonly string[], rawCrc32?: number, kept?: ClientBlock): Promise<RequestLocation> {
    try {
      this.checkAppend(meta, raw, traceIds?.length ?? 0);
    } catch (error) {
      return Promise.reject(error);
    }
    this.manifestChars += manifestEntryBound(meta, traceIds?.length ?? 0);
    this.ids.add(meta.id);
    this.appendedRawBytes += raw.length;
    const crc32 = rawCrc32 ?? zlib.crc32(raw);
    const codec = kept?.codec ?? this.codec;
    const compressed = kept === undefined ? compress(this.codec, raw, this.level, this.priority) : Promise.resolve(kept.bytes);
    // Failures surface through the write chain; this keeps an early rejection from being reported as unhandled.
    compressed.catch(() => undefined);

    let location: RequestLocation | undefined;
    this.tail = this.enqueueWrite(async () => {
      const stored = await compressed;
      if (stored.length > MAX_BLOCK_BYTES) {
        throw new InvalidArgumentError(`request ${meta.id} is too large for one block (${stored.length} bytes)`);
      }
      const header = encodeBlockHeader({ codec, rawLength: raw.length, storedLength: stored.length, crc32 });
      await this.writeRaw(header);
      const offset = this.position;
      await this.writeRaw(stored);
      location = { objectKey: this.key, offset, length: stored.length, codec, crc32 };
      this.archived.push({ ...meta, services: [...meta.services], ...location, ...(traceIds === undefined ? {} : { traceIds: [...traceIds] }) });
    });
    return this.tail.then(() => {
      // The chain resolves without running our write only when an earlier step failed or the builder was aborted.
      if (location === undefined) throw this.stateError('append to');
      return location;
    });
  }

  /** Writes manifest and trailer and completes the writer: the object is durable and visible when this resolves. */
  finish(nowMs: number): Promise<{ object: ObjectMeta; requests: ArchivedRequest[] }> {
    if (this.state !== 'open') return Promise.reject(this.stateError('finish'));
    this.state = 'finishing';
    const finishing = this.finishAfterWrites(nowMs);
    this.finishing = finishing;
    return finishing;
  }

  private async finishAfterWrites(nowMs: number): Promise<{ object: ObjectMeta; requests: ArchivedRequest[] }> {
    await this.tail;
    if (this.failure) throw this.failureError();
    if (this.archived.length === 0) {
      this.state = 'open';
      throw new InvalidArgumentError(`cannot finish archive object ${this.key}: it has no requests`);
    }
    let startNs = this.archived[0]!.startNs;
    let endNs = this.archived[0]!.endNs;
    for (const r of this.archived) {
      if (r.startNs < startNs) startNs = r.startNs;
      if (r.endNs > endNs) endNs = r.endNs;
    }
    const requests = this.archived.slice();
    try {
      await this.flushGathered();
      const closing = await encodeManifestAndTrailer(
        {
          key: this.key,
          tenant: this.tenant,
          signal: this.signal,
          createdAtMs: this.createdAtMs,
          sealedAtMs: nowMs,
          requestCount: requests.length,
          rawBytes: this.appendedRawBytes,
          storedBytes: 0, // not recorded in the manifest
          codec: this.codec,
          startNs,
          endNs,
        },
        requests,
        this.position,
      );
      const storedBytes = this.position + closing.length;
      await this.writer.write(closing);
      const { size } = await this.writer.complete();
      if (size !== storedBytes) {
        throw new CorruptDataError(`blob store reports ${size} bytes for ${this.key}; ${storedBytes} were written`);
      }
      this.state = 'finished';
      const object: ObjectMeta = {
        key: this.key,
        tenant: this.tenant,
        signal: this.signal,
        createdAtMs: this.createdAtMs,
        sealedAtMs: nowMs,
        requestCount: requests.length,
        rawBytes: this.appendedRawBytes,
        storedBytes,
        codec: this.codec,
        startNs,
        endNs,
      };
      return { object, requests };
    } catch (error) {
      await this.fail(error);
      throw this.failureError();
    }
  }

  /**
   * Drops the object: nothing becomes visible under the key. Safe to call in any state, and twice. During finish()
   * it waits for finish to settle; an object that finished is left in place.
   */
  async abort(): Promise<void> {
    if (this.state === 'finishing') await this.finishing?.catch(() => undefined);
    if (this.state === 'finished' || this.state === 'aborted') return;
    const wasFailed = this.state === 'failed';
    this.state = 'aborted';
    await this.tail.catch(() => undefined);
    if (!wasFailed) await this.writer.abort();
  }

  private checkAppend(meta: RequestMeta, raw: Buffer, traceIdCount: number): void {
    if (this.state !== 'open') throw this.stateError('append to');
    if (meta.tenant !== this.tenant || meta.signal !== this.signal) {
      throw new InvalidArgumentError(
        `request ${meta.id} is ${meta.tenant}/${meta.signal}; archive object ${this.key} holds ${this.tenant}/${this.signal}`,
      );
    }
    if (meta.rawBytes !== raw.length) {
      throw new InvalidArgumentError(`request ${meta.id} says rawBytes=${meta.rawBytes} but has ${raw.length} bytes`);
    }
    if (this.ids.has(meta.id)) {
      throw new InvalidArgumentError(`request ${meta.id} is already in archive object ${this.key}`);
    }
    if (!this.manifestRoom(meta, traceIdCount)) {
      throw new InvalidArgumentError(
        `request ${meta.id} (${meta.services.length} service names, ${traceIdCount} trace ids) does not fit the manifest ` +
          `of archive object ${this.key} (at most ${this.maxManifestChars} characters of JSON)`,
      );
    }
  }

  /** Runs `step` after every earlier write; once anything failed, later steps are skipped. */
  private enqueueWrite(step: () => Promise<void>): Promise<void> {
    return this.tail.then(async () => {
      if (this.failure || this.state === 'aborted') return;
      try {
        await step();
      } catch (error) {
        await this.fail(error);
      }
    });
  }

  private async writeRaw(chunk: Buffer): Promise<void> {
    this.position += chunk.length;
    if (chunk.length < COALESCE_BYTES) {
      this.gathered.push(chunk);
      this.gatheredBytes += chunk.length;
      if (this.gatheredBytes >= COALESCE_BYTES) await this.flushGathered();
      return;
    }
    if (this.gatheredBytes > 0 && chunk.length <= COALESCE_COPY_LIMIT) {
      this.gathered.push(chunk);
      this.gatheredBytes += chunk.length;
      await this.flushGathered();
      return;
    }
    await this.flushGathered();
    await this.writer.write(chunk);
  }

  private async flushGathered(): Promise<void> {
    if (this.gatheredBytes === 0) return;
    const pieces = this.gathered;
    const bytes = this.gatheredBytes;
    this.gathered = [];
    this.gatheredBytes = 0;
    await this.writer.write(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, bytes));
  }

  /** Records the first failure (wrapped once, so every later rejection is the same error) and aborts the writer. */
  private async fail(error: unknown): Promise<void> {
    if (this.failure) return;
    this.failure =
      error instanceof OtlpCaptureError
        ? error
        : new BackendUnavailableError(`writing archive object ${this.key} failed: ${(error as Error)?.message ?? String(error)}`, {
            cause: error,
          });
    const wasAborted = this.state === 'aborted';
    this.state = 'failed';
    if (!wasAborted) await this.writer.abort().catch(() => undefined);
  }

  private failureError(): Error {
    return this.failure!;
  }

  private stateError(action: string): Error {
    if (this.state === 'failed') return this.failureError();
    return new InvalidArgumentError(`cannot ${action} archive object ${this.key}: it is ${this.state}`);
  }
}
