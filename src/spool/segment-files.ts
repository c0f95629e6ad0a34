// Where segments live on disk: `<seq>.spool`, the sequence zero-padded so names sort like numbers.
import { open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';

const SEQ_DIGITS = 16;
const SEGMENT_NAME = /^(\d{16})\.spool$/;

export function segmentPath(dir: string, seq: number): string {
  return join(dir, `${String(seq).padStart(SEQ_DIGITS, '0')}.spool`);
}

/** Sequence numbers of the segment files in `dir`, ascending. Other files are left alone. */
export async function listSegmentSeqs(dir: string): Promise<number[]> {
  const seqs: number[] = [];
  for (const name of await readdir(dir)) {
    const match = SEGMENT_NAME.exec(name);
    if (match?.[1] !== undefined) seqs.push(Number(match[1]));
  }
  return seqs.sort((a, b) => a - b);
}

/** A new file's name is only durable once its directory is synced. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Idempotent: a file that is already gone is fine. */
export async function removeFile(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
