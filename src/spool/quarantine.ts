// Damaged spool bytes are never just dropped: they are copied to `<spool>/quarantine/` before the spool forgets
// them, one file per damaged record or range, named by segment and offset, with a JSON sidecar saying what it was
// and why. A person (or a salvage tool) can look at them later; the spool goes on with the intact records.
//
//   <seq, 16 digits>-<offset, 16 digits>.bad    the bytes, as they were in the segment
//   <seq, 16 digits>-<offset, 16 digits>.json   { segment, segmentFile, offset, length, reason, source, time,
//                                                 requestId?, bytesFile, allZero? , readError? }
//
// The sidecar is written last (temp file, fsync, rename): it exists only for a complete entry, and an entry whose
// sidecar exists is not written again (recovery may meet the same damage at every start until the segment goes).
import { mkdir, open, rename, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';
import { readFully } from './record-reader.js';
import { removeFile, segmentPath, syncDirectory } from './segment-files.js';

export const QUARANTINE_DIR = 'quarantine';
const COPY_CHUNK_BYTES = 1024 * 1024;

/** Who found the damage: recovery at open, the tail reading a record back, or the archiver giving up on one. */
export type QuarantineSource = 'recovery' | 'tail' | 'archiver';

export interface QuarantineRequest {
  segment: number;
  offset: number;
  length: number;
  reason: string;
  source: QuarantineSource;
  /** The request's id, when the record's header survived. */
  requestId?: string;
}

export interface QuarantinedRange extends QuarantineRequest {
  /** The sidecar's path; the bytes sit beside it (`.bad`) when they could be saved. */
  sidecar: string;
  /** The bytes were copied. False when they could not be read, or were all zero (nothing to salvage). */
  bytesSaved: boolean;
  atMs: number;
}

export interface QuarantineOptions {
  spoolDir: string;
  logger: Logger;
  /** Called once per newly quarantined record or range (not for one quarantined before). */
  onQuarantine?: (range: QuarantinedRange) => void;
}

export class Quarantine {
  readonly dir: string;

  constructor(private readonly options: QuarantineOptions) {
    this.dir = join(options.spoolDir, QUARANTINE_DIR);
  }

  /**
   * Copies the range out of its segment and records why. Resolves once the entry is durable; rejects when it could
   * not be written (then the caller must keep the record where it is). Logged as an error.
   */
  async put(request: QuarantineRequest): Promise<QuarantinedRange | null> {
    const name = `${pad(request.segment)}-${pad(request.offset)}`;
    const sidecar = join(this.dir, `${name}.json`);
    if (await exists(sidecar)) return null;
    await mkdir(this.dir, { recursive: true });
    const bytesFile = join(this.dir, `${name}.bad`);
    const source = segmentPath(this.options.spoolDir, request.segment);
    const copy = await copyRange(source, request.offset, request.length, bytesFile);
    const atMs = Date.now();
    const body = {
      segment: request.segment,
      segmentFile: basename(source),
      offset: request.offset,
      length: request.length,
      reason: request.reason,
      source: request.source,
      time: new Date(atMs).toISOString(),
      ...(request.requestId === undefined ? {} : { requestId: request.requestId }),
      bytesFile: copy.saved ? basename(bytesFile) : null,
      ...(copy.allZero ? { allZero: true } : {}),
      ...(copy.readError === undefined ? {} : { readError: copy.readError }),
    };
    await writeDurably(sidecar, Buffer.from(`${JSON.stringify(body, null, 2)}\n`));
    await syncDirectory(this.dir);
    const range: QuarantinedRange = { ...request, sidecar, bytesSaved: copy.saved, atMs };
    this.options.logger.error(
      { ...request, quarantine: sidecar, bytesSaved: copy.saved },
      `damaged spool data moved to quarantine: ${request.length} bytes at offset ${request.offset} of segment ${request.segment} (${request.reason})`,
    );
    this.options.onQuarantine?.(range);
    return range;
  }
}

interface Copied {
  saved: boolean;
  allZero: boolean;
  readError?: string;
}

/** Copies [offset, offset + length) of `source` to `target` (durably); an all-zero range is not kept. */
async function copyRange(source: string, offset: number, length: number, target: string): Promise<Copied> {
  let input: FileHandle;
  try {
    input = await open(source, 'r');
  } catch (error) {
    return { saved: false, allZero: false, readError: (error as Error).message };
  }
  const temp = `${target}.tmp`;
  let output: FileHandle | null = null;
  try {
    output = await open(temp, 'w');
    const chunk = Buffer.allocUnsafe(Math.min(COPY_CHUNK_BYTES, Math.max(1, length)));
    const zeros = Buffer.alloc(chunk.length);
    let allZero = true;
    for (let done = 0; done < length; ) {
      const want = Math.min(chunk.length, length - done);
      let got: number;
      try {
        got = await readFully(input, chunk.subarray(0, want), offset + done);
      } catch (error) {
        await output.close();
        output = null;
        await removeFile(temp);
        return { saved: false, allZero: false, readError: (error as Error).message };
      }
      if (got === 0) break;
      const part = chunk.subarray(0, got);
      if (allZero && !part.equals(zeros.subarray(0, got))) allZero = false;
      await output.write(part, 0, got, done);
      done += got;
    }
    if (allZero) {
      await output.close();
      output = null;
      await removeFile(temp);
      return { saved: false, allZero: true };
    }
    await output.sync();
    await output.close();
    output = null;
    await rename(temp, target);
    return { saved: true, allZero: false };
  } finally {
    await output?.close().catch(() => undefined);
    await input.close().catch(() => undefined);
  }
}

async function writeDurably(path: string, data: Buffer): Promise<void> {
  const temp = `${path}.tmp`;
  const file = await open(temp, 'w');
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, path);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

function pad(value: number): string {
  return String(value).padStart(16, '0');
}
