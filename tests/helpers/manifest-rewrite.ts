// Rewrites the manifest of a finished archive object file in place — to make objects as an older build wrote them
// (manifest version 1 or 2) from ones this build wrote, or to damage a manifest on purpose. Blocks stay
// byte for byte; only the manifest and the trailer (its offset, lengths and CRC) are written anew.
import fs from 'node:fs';
import zlib from 'node:zlib';
import { TRAILER_SIZE } from '../../src/archiver/object-format.js';

export type ManifestJson = {
  version: number;
  object: Record<string, unknown>;
  requests: (Record<string, unknown> & { id: string; traceIds?: string[]; fingerprint?: string })[];
};

export function rewriteManifest(file: string, edit: (manifest: ManifestJson) => void): void {
  const bytes = fs.readFileSync(file);
  const trailer = bytes.subarray(bytes.length - TRAILER_SIZE);
  const manifestOffset = Number(trailer.readBigUInt64BE(0));
  const manifest = JSON.parse(zlib.gunzipSync(bytes.subarray(manifestOffset, bytes.length - TRAILER_SIZE)).toString('utf8')) as ManifestJson;
  edit(manifest);
  const raw = Buffer.from(JSON.stringify(manifest), 'utf8');
  const stored = zlib.gzipSync(raw);
  const newTrailer = Buffer.from(trailer);
  newTrailer.writeUInt32BE(stored.length, 8);
  newTrailer.writeUInt32BE(raw.length, 12);
  newTrailer.writeUInt32BE(zlib.crc32(raw) >>> 0, 16);
  fs.writeFileSync(file, Buffer.concat([bytes.subarray(0, manifestOffset), stored, newTrailer]));
}

/** What a build before manifest version 2 wrote: version 1, no trace ids, no fingerprints. */
export function asVersion1(manifest: ManifestJson): void {
  manifest.version = 1;
  for (const request of manifest.requests) {
    delete request.traceIds;
    delete request.fingerprint;
  }
}

/** What a build before manifest version 3 wrote: version 2, no fingerprints. */
export function asVersion2(manifest: ManifestJson): void {
  manifest.version = 2;
  for (const request of manifest.requests) delete request.fingerprint;
}

/** Every archive object file under a directory. */
export function objectFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.otlpc')).map((f) => `${dir}/${f}`);
}
