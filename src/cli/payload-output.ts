// How `get` and `find-trace` take --format and write what they fetched to --output or stdout.
import { randomBytes } from 'node:crypto';
import { lstatSync, unlinkSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { OtlpCaptureError } from '../errors.js';
import type { PayloadFormat } from '../query/query-service.js';
import { UsageError } from './exit.js';
import { Interruption, writeStdout } from './stdio.js';

/** --output could not be written (a missing directory, a directory, no space): a runtime failure, exit 1. */
export class OutputError extends OtlpCaptureError {}

export function payloadFormat(value: string): PayloadFormat {
  if (value !== 'proto' && value !== 'json') throw new UsageError(`--format must be proto or json, not ${JSON.stringify(value)}`);
  return value;
}

/**
 * Checked before anything is read: protobuf bytes on a terminal are garbage that can also reconfigure it (escape
 * sequences in string fields), so they go to a file or a pipe — as curl refuses binary output to a terminal.
 */
/** `--output -`: standard output, as Unix tools read it. */
const STDOUT = '-';

export function checkPayloadDestination(format: PayloadFormat, output: string | undefined): void {
  if (format === 'proto' && (output === undefined || output === STDOUT) && process.stdout.isTTY) {
    throw new UsageError('refusing to write binary protobuf to a terminal: add --output FILE, pipe it (| …, > FILE), or use --format json');
  }
}

/** JSON ends with a newline (it is text); proto bytes are written exactly. */
export async function writePayload(body: Buffer, format: PayloadFormat, output: string | undefined): Promise<void> {
  const bytes = format === 'json' ? Buffer.concat([body, Buffer.from('\n')]) : body;
  if (output && output !== STDOUT) await writeOutputFile(output, bytes);
  else await writeStdout(bytes);
}

/**
 * A regular file appears whole or not at all: the bytes go to a temp file beside it, renamed over it once written,
 * and removed on an error or a Ctrl-C — a script never finds half a request under the name it asked for. A device,
 * FIFO, symlink or the like (`--output /dev/stdout`) is written directly: it cannot be renamed over.
 */
async function writeOutputFile(output: string, bytes: Buffer): Promise<void> {
  if (isSpecialFile(output)) {
    await writeFile(output, bytes).catch((error: unknown) => {
      throw outputError(output, error);
    });
    return;
  }
  const temp = path.join(path.dirname(output), `.${path.basename(output)}.${randomBytes(4).toString('hex')}.tmp`);
  const removeTemp = (): void => {
    try {
      unlinkSync(temp);
    } catch {
      // Never created, or already renamed.
    }
  };
  const interruption = new Interruption();
  try {
    await writeFile(temp, bytes, { flag: 'wx' });
    if (!interruption.interrupted) await rename(temp, output);
  } catch (error) {
    throw outputError(output, error);
  } finally {
    removeTemp(); // gone already once renamed
    interruption.exitIfInterrupted();
    interruption.dispose();
  }
}

/** Anything but a regular file, a symlink included (written through, not replaced by a file). */
function isSpecialFile(file: string): boolean {
  try {
    return !lstatSync(file).isFile();
  } catch {
    return false; // Missing: created as a regular file.
  }
}

function outputError(output: string, error: unknown): OutputError {
  const code = (error as NodeJS.ErrnoException).code;
  const reason =
    code === 'ENOENT' ? 'its directory does not exist'
    : code === 'EISDIR' ? 'it is a directory'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : code === 'ENOSPC' ? 'no space left on the device'
    : error instanceof Error ? error.message : String(error);
  return new OutputError(`cannot write --output ${output}: ${reason}`, { cause: error });
}
