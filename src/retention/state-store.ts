// Retention's own small documents (lease, journal entries, last run), kept in the blob store beside the data they
// are about, as JSON under `_retention/`. So every process that can change the archive — serve, a CronJob on another
// host, a CLI on a laptop — sees the same lease and the same journal, whatever host it runs on, and a run killed on
// one host is finished by the next run anywhere. The key never ends in `.otlpc`, so reindex and anything else that
// looks for archive objects passes over it; a tenant never starts with '_', so it cannot clash with an object key.
import { createHash } from 'node:crypto';
import { NotFoundError } from '../errors.js';
import type { BlobStore } from '../storage/blob-store.js';

export const STATE_PREFIX = '_retention/';

/** The name of the one document under `dir` about the object at `key` (keys can be long or hold any character). */
export function documentAbout(dir: string, key: string): string {
  return `${dir}${createHash('sha256').update(key).digest('hex').slice(0, 40)}.json`;
}

export class StateStore {
  constructor(private readonly blobs: BlobStore) {}

  /** The document, or null when there is none (or it vanished while being read). */
  async read<T>(name: string): Promise<T | null> {
    const key = STATE_PREFIX + name;
    const info = await this.blobs.stat(key);
    if (info === null) return null;
    try {
      const bytes = await this.blobs.readRange(key, 0, info.size);
      return JSON.parse(bytes.toString('utf8')) as T;
    } catch (error) {
      if (error instanceof NotFoundError) return null;
      if (error instanceof SyntaxError) return null; // a torn document cannot exist (writes are atomic); treat as absent
      throw error;
    }
  }

  /** Replaces the document durably and atomically (the store's writers publish whole objects only). */
  async write(name: string, value: unknown): Promise<void> {
    const writer = this.blobs.createWriter(STATE_PREFIX + name);
    try {
      await writer.write(Buffer.from(JSON.stringify(value), 'utf8'));
      await writer.complete();
    } catch (error) {
      await writer.abort().catch(() => undefined);
      throw error;
    }
  }

  async remove(name: string): Promise<void> {
    await this.blobs.delete(STATE_PREFIX + name);
  }

  /** Names (relative to the state prefix) of the documents under `dir` (e.g. `journal/`). */
  async names(dir: string): Promise<string[]> {
    const out: string[] = [];
    for await (const info of this.blobs.list(STATE_PREFIX + dir)) out.push(info.key.slice(STATE_PREFIX.length));
    return out;
  }
}
