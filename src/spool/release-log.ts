// Which records of a segment were released, kept beside it in `<seq>.released`, so that a restart yields only what
// is still unreleased. Written without fsync: a lost entry only means a record is yielded again, which the archiver
// skips. Each entry carries its own CRC so that garbage can never release a record that was not archived.
//
//   entry (12 bytes): u32 offset high, u32 offset low, u32 CRC-32 of the 8 offset bytes
import { appendFile, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { removeFile } from './segment-files.js';

const ENTRY_BYTES = 12;
const RELEASE_LOG_NAME = /^(\d{16})\.released$/;
const TWO_POW_32 = 2 ** 32;

export function releaseLogPath(dir: string, seq: number): string {
  return join(dir, `${String(seq).padStart(16, '0')}.released`);
}

export async function appendReleases(dir: string, seq: number, offsets: readonly number[]): Promise<void> {
  const out = Buffer.allocUnsafe(offsets.length * ENTRY_BYTES);
  offsets.forEach((offset, i) => {
    const at = i * ENTRY_BYTES;
    out.writeUInt32BE(Math.floor(offset / TWO_POW_32), at);
    out.writeUInt32BE(offset % TWO_POW_32, at + 4);
    out.writeUInt32BE(crc32(out.subarray(at, at + 8)), at + 8);
  });
  await appendFile(releaseLogPath(dir, seq), out);
}

/** Offsets recorded as released; bytes that are not a whole entry with a good CRC (torn, garbage) are skipped. */
export async function readReleases(dir: string, seq: number): Promise<number[]> {
  let data: Buffer;
  try {
    data = await readFile(releaseLogPath(dir, seq));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const offsets: number[] = [];
  let at = 0;
  while (at + ENTRY_BYTES <= data.length) {
    if (crc32(data.subarray(at, at + 8)) !== data.readUInt32BE(at + 8)) {
      // A torn entry from a crash shifts everything appended after it: find the next whole entry byte by byte.
      at += 1;
      continue;
    }
    offsets.push(data.readUInt32BE(at) * TWO_POW_32 + data.readUInt32BE(at + 4));
    at += ENTRY_BYTES;
  }
  return offsets;
}

export async function removeReleaseLog(dir: string, seq: number): Promise<void> {
  await removeFile(releaseLogPath(dir, seq));
}

/** Release logs whose segment is gone (a crash between the two deletions) would otherwise outlive it. */
export async function removeOrphanReleaseLogs(dir: string, liveSeqs: ReadonlySet<number>): Promise<void> {
  for (const name of await readdir(dir)) {
    const seq = RELEASE_LOG_NAME.exec(name)?.[1];
    if (seq !== undefined && !liveSeqs.has(Number(seq))) await removeFile(join(dir, name));
  }
}
