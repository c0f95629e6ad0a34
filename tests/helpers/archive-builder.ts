// A real archive (filesystem blob store + SQLite index) written in-process the way the archiver writes it: objects
// built with ObjectBuilder, index rows committed with the requests' span trace ids. Receive times are the caller's,
// so tests can give a capture known gaps without waiting for them.
import path from 'node:path';
import { ObjectBuilder } from '../../src/archiver/object-builder.js';
import { SqliteIndexStore } from '../../src/index/sqlite-index-store.js';
import type { ArchivedRequest, RequestMeta, Signal } from '../../src/model.js';
import { scanRequest } from '../../src/otlp/scanner.js';
import { spanTraceIds } from '../../src/otlp/trace-filter.js';
import type { IndexStore } from '../../src/index/index-store.js';
import type { BlobStore } from '../../src/storage/blob-store.js';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';
import { createUlidGenerator } from '../../src/util/ulid.js';

export interface CapturedEntry {
  signal: Signal;
  bytes: Uint8Array;
  tenant?: string;
  receivedAtMs?: number;
  /** The content fingerprint to record (what ingest computes, or a forced one); none by default. */
  fingerprint?: string;
}

export interface BuiltArchive {
  index: SqliteIndexStore;
  blobs: FsBlobStore;
  /** In archive (id) order. */
  requests: ArchivedRequest[];
  close(): Promise<void>;
}

const nextId = createUlidGenerator();

/** Archives `entries` in order; consecutive entries of one (tenant, signal) share objects of `perObject` requests. */
export async function buildArchive(dir: string, entries: readonly CapturedEntry[], perObject = 4, blobs?: FsBlobStore): Promise<BuiltArchive> {
  const store = blobs ?? new FsBlobStore(path.join(dir, 'objects'));
  await store.start();
  const index = new SqliteIndexStore(path.join(dir, 'index.sqlite'));
  await index.start();
  const requests = await archiveInto(store, index, entries, perObject);
  return { index, blobs: store, requests, close: async () => { await index.close(); await store.close(); } };
}

/** buildArchive's writing, into any started blob store and index (S3, ClickHouse). Returns the requests in id order. */
export async function archiveInto(store: BlobStore, index: IndexStore, entries: readonly CapturedEntry[], perObject = 4): Promise<ArchivedRequest[]> {
  const requests: ArchivedRequest[] = [];
  let open: { builder: ObjectBuilder; tenant: string; signal: Signal; raws: Uint8Array[] } | null = null;
  const seal = async (): Promise<void> => {
    if (open === null) return;
    const sealed = await open.builder.finish(Date.now());
    const raws = open.raws;
    const rows = sealed.requests.map((r, i) => (r.signal === 'traces' ? { ...r, traceIds: spanTraceIds(raws[i]!) } : r));
    await index.commitObject(sealed.object, rows);
    requests.push(...sealed.requests);
    open = null;
  };
  for (const entry of entries) {
    const tenant = entry.tenant ?? 'default';
    const receivedAtMs = entry.receivedAtMs ?? Date.now();
    if (open !== null && (open.tenant !== tenant || open.signal !== entry.signal || open.raws.length >= perObject)) await seal();
    if (open === null) {
      const key: string = `${tenant}/${entry.signal}/obj-${nextId(receivedAtMs)}.otlpc`;
      open = {
        builder: new ObjectBuilder({ key, tenant, signal: entry.signal, codec: 'gzip', writer: store.createWriter(key), nowMs: receivedAtMs }),
        tenant,
        signal: entry.signal,
        raws: [],
      };
    }
    const scan = scanRequest(entry.signal, entry.bytes);
    const meta: RequestMeta = {
      id: nextId(receivedAtMs),
      tenant,
      signal: entry.signal,
      receivedAtMs,
      items: scan.items,
      services: scan.services,
      startNs: scan.startNs ?? BigInt(receivedAtMs) * 1_000_000n,
      endNs: scan.endNs ?? BigInt(receivedAtMs) * 1_000_000n,
      rawBytes: entry.bytes.length,
      ...(entry.fingerprint === undefined ? {} : { fingerprint: entry.fingerprint }),
    };
    await open.builder.append(meta, Buffer.from(entry.bytes));
    open.raws.push(entry.bytes);
  }
  await seal();
  requests.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return requests;
}
