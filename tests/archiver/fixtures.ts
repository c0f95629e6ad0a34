// Shared by the archiver tests: request metadata, payloads, a real filesystem store in a temp dir, and a writer that
// fails on demand (fault injection around a real writer: everything else it does is the real store's).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { RequestMeta, Signal } from '../../src/model.js';
import type { BlobWriter } from '../../src/storage/blob-store.js';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';
import { createUlidGenerator } from '../../src/util/ulid.js';

const nextId = createUlidGenerator();

export function payload(size: number): Buffer {
  const out = Buffer.alloc(size);
  randomBytes(Math.floor(size / 3)).copy(out);
  for (let i = Math.floor(size / 3); i < size; i++) out[i] = 'resourceSpans.scopeSpans.spans '.charCodeAt(i % 31);
  return out;
}

export function requestMeta(raw: Buffer, overrides: Partial<RequestMeta> = {}): RequestMeta {
  const receivedAtMs = 1_700_000_000_000;
  return {
    id: nextId(receivedAtMs),
    tenant: 'acme',
    signal: 'traces' as Signal,
    receivedAtMs,
    items: 3,
    services: ['checkout', 'payments'],
    startNs: 1_700_000_000_000_000_000n + BigInt(raw.length),
    endNs: 1_700_000_000_500_000_000n + BigInt(raw.length),
    rawBytes: raw.length,
    ...overrides,
  };
}

export interface TempStore {
  store: FsBlobStore;
  root: string;
  cleanup(): void;
}

export async function tempStore(): Promise<TempStore> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'archiver-'));
  const root = path.join(dir, 'blobs');
  const store = new FsBlobStore(root);
  await store.start();
  return { store, root, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Files under the store root other than its temp dir. */
export function visibleFiles(root: string): string[] {
  return (fs.readdirSync(root, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
    .filter((name) => !name.startsWith('.tmp'));
}

export function tempFiles(root: string): string[] {
  return fs.readdirSync(path.join(root, '.tmp'));
}

/** Delegates to a real writer; the `failWriteAt`-th write (1-based) or complete() throws instead. */
export class FaultyWriter implements BlobWriter {
  writes = 0;
  aborts = 0;
  constructor(
    private readonly inner: BlobWriter,
    private readonly fault: { failWriteAt?: number; failComplete?: boolean },
  ) {}

  async write(chunk: Buffer): Promise<void> {
    this.writes++;
    if (this.writes === this.fault.failWriteAt) throw new Error('injected: device full');
    await this.inner.write(chunk);
  }

  async complete(): Promise<{ size: number }> {
    if (this.fault.failComplete) throw new Error('injected: upload failed');
    return this.inner.complete();
  }

  async abort(): Promise<void> {
    this.aborts++;
    await this.inner.abort();
  }
}
