// The end state retention promises, checked from the adapters themselves: every index row's object exists with
// the recorded size, every indexed request reads back (length and CRC-32 checked) — byte-identical to what was
// sent when the test knows it — and every archive object in the store (its own keys and the archive locations
// given) is in the index.
import { expect } from '@jest/globals';
import { readRequestBytes } from '../../src/archiver/object-reader.js';
import type { IndexStore } from '../../src/index/index-store.js';
import type { ArchivedRequest, ObjectMeta } from '../../src/model.js';
import type { BlobStore } from '../../src/storage/blob-store.js';

export async function allObjects(index: IndexStore): Promise<ObjectMeta[]> {
  const out: ObjectMeta[] = [];
  for (;;) {
    const page = await index.listObjects({ limit: 500, ...(out.length ? { afterKey: out[out.length - 1]!.key } : {}) });
    out.push(...page);
    if (page.length < 500) return out;
  }
}

export async function allRequests(index: IndexStore): Promise<ArchivedRequest[]> {
  const out: ArchivedRequest[] = [];
  for (;;) {
    const page = await index.listRequests({ limit: 500, ...(out.length ? { afterId: out[out.length - 1]!.id } : {}) });
    out.push(...page);
    if (page.length < 500) return out;
  }
}

export async function storedObjectKeys(blobs: BlobStore, prefixes: readonly string[]): Promise<string[]> {
  const keys: string[] = [];
  for (const prefix of prefixes) {
    for await (const info of blobs.list(prefix)) if (info.key.endsWith('.otlpc')) keys.push(info.key);
  }
  return keys.sort();
}

export interface ConsistencyReport {
  objects: ObjectMeta[];
  requests: ArchivedRequest[];
}

/**
 * Asserts the consistent end state. `expectedBytes` (request id → raw bytes): requests that must still be there,
 * byte for byte; `gone`: ids that must not be indexed any more.
 */
export async function expectConsistent(
  blobs: BlobStore,
  index: IndexStore,
  options: { listPrefixes: readonly string[]; expectedBytes?: ReadonlyMap<string, Buffer>; gone?: readonly string[] },
): Promise<ConsistencyReport> {
  const objects = await allObjects(index);
  const requests = await allRequests(index);
  const objectKeys = new Set(objects.map((o) => o.key));
  for (const object of objects) {
    const info = await blobs.stat(object.key);
    expect({ key: object.key, size: info?.size }).toEqual({ key: object.key, size: object.storedBytes });
  }
  for (const request of requests) {
    expect(objectKeys.has(request.objectKey)).toBe(true);
    const raw = await readRequestBytes(blobs, request);
    const expected = options.expectedBytes?.get(request.id);
    if (expected !== undefined) expect(raw.equals(expected)).toBe(true);
  }
  const stored = await storedObjectKeys(blobs, options.listPrefixes);
  expect(stored).toEqual([...objectKeys].sort());
  const indexed = new Set(requests.map((r) => r.id));
  for (const id of options.expectedBytes?.keys() ?? []) expect({ id, indexed: indexed.has(id) }).toEqual({ id, indexed: true });
  for (const id of options.gone ?? []) expect({ id, indexed: indexed.has(id) }).toEqual({ id, indexed: false });
  return { objects, requests };
}
