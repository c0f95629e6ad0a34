// verify against a real archive (filesystem blob store + SQLite index, written as the archiver writes them): a
// clean one passes; each kind of damage is found and named; --repair indexes what is unindexed and quarantines what
// cannot be read, after which reads say why and the next verify passes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ObjectBuilder } from '../../src/archiver/object-builder.js';
import { objectKey } from '../../src/archiver/object-key.js';
import { BLOCK_HEADER_SIZE } from '../../src/archiver/object-format.js';
import { verify } from '../../src/index/verify.js';
import type { ArchivedRequest, RequestMeta } from '../../src/model.js';
import { QueryService } from '../../src/query/query-service.js';
import { createUlidGenerator } from '../../src/util/ulid.js';
import { buildArchive, type BuiltArchive } from '../helpers/archive-builder.js';
import { payloadFor } from '../helpers/otlp-payloads.js';

let dir: string;
let archive: BuiltArchive;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-'));
  const entries = [
    ...Array.from({ length: 8 }, (_, i) => ({ signal: 'traces' as const, bytes: payloadFor('traces', i + 1).proto, tenant: 'acme' })),
    ...Array.from({ length: 4 }, (_, i) => ({ signal: 'logs' as const, bytes: payloadFor('logs', i + 1).proto, tenant: 'globex' })),
  ];
  archive = await buildArchive(dir, entries, 4);
});

afterEach(async () => {
  await archive.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const file = (key: string): string => archive.blobs.pathOf(key);
const objectsOf = (requests: ArchivedRequest[]): string[] => [...new Set(requests.map((r) => r.objectKey))].sort();

function flipByte(key: string, at: number): void {
  const bytes = fs.readFileSync(file(key));
  bytes[at] = bytes[at]! ^ 0x5a;
  fs.writeFileSync(file(key), bytes);
}

test('a clean archive: every object and block checked, nothing wrong', async () => {
  const progress: number[] = [];
  const report = await verify(archive.blobs, archive.index, { onProgress: (p) => progress.push(p.objects) });
  expect(report).toMatchObject({
    ok: true,
    problems: 0,
    objects: 3,
    totalObjects: 3,
    blocks: 12,
    missingObjects: [],
    unindexedObjects: [],
    partlyIndexedObjects: [],
    damagedBlocks: [],
    unreadableObjects: [],
    repair: null,
  });
  expect(report.bytes).toBe(report.totalBytes);
  expect(progress.at(-1)).toBe(3);
});

test('a damaged block and a deleted object are found and named; repair quarantines them and reads say why', async () => {
  const [first, second] = objectsOf(archive.requests);
  const inFirst = archive.requests.filter((r) => r.objectKey === first);
  const bad = inFirst[1]!;
  flipByte(first!, bad.offset + Math.floor(bad.length / 2));
  const gone = archive.requests.filter((r) => r.objectKey === second);
  fs.rmSync(file(second!));

  const report = await verify(archive.blobs, archive.index);
  expect(report.ok).toBe(false);
  expect(report.damagedBlocks).toEqual([
    { key: first, offset: bad.offset, length: bad.length, requestId: bad.id, reason: expect.stringMatching(/CRC-32|decompress/) },
  ]);
  expect(report.missingObjects).toEqual([{ key: second, requests: 4, requestIds: gone.map((r) => r.id) }]);
  expect(report.problems).toBe(2);

  const repaired = await verify(archive.blobs, archive.index, { repair: true });
  expect(repaired.repair).toEqual({ indexedObjects: [], quarantinedRequests: 5 });

  // Reads: the other requests of the damaged object still work; the bad one names object, offset and verify's finding.
  const query = new QueryService(archive.index, archive.blobs);
  for (const r of inFirst.filter((x) => x.id !== bad.id)) await expect(query.getRequest(r.id, 'proto')).resolves.toBeDefined();
  await expect(query.getRequest(bad.id, 'proto')).rejects.toThrow(
    new RegExp(`request ${bad.id}: block at offset ${bad.offset} \\(${bad.length} bytes\\) of ${first}.*quarantined by verify on .*: block at offset ${bad.offset}`),
  );
  await expect(query.getRequest(gone[0]!.id, 'proto')).rejects.toThrow(/quarantined by verify on .*: archive object .* is missing from the blob store/);

  // Known now: the next verify passes, and says how many are quarantined.
  const again = await verify(archive.blobs, archive.index);
  expect(again).toMatchObject({ ok: true, problems: 0, alreadyQuarantined: 5 });
});

test('a damaged block header and an object truncated through its manifest are named', async () => {
  const [first, , third] = objectsOf(archive.requests);
  const victim = archive.requests.find((r) => r.objectKey === first)!;
  flipByte(first!, victim.offset - BLOCK_HEADER_SIZE + 1); // the block magic
  const size = fs.statSync(file(third!)).size;
  fs.truncateSync(file(third!), size - 10);
  const report = await verify(archive.blobs, archive.index);
  expect(report.damagedBlocks).toEqual([expect.objectContaining({ key: first, requestId: victim.id, reason: expect.stringMatching(/^block header: bad block header magic/) })]);
  expect(report.unreadableObjects).toEqual([{ key: third, reason: expect.stringMatching(/no archive trailer/) }]);
});

test('objects without index rows, and partly indexed ones, are found; repair indexes them', async () => {
  const nextId = createUlidGenerator();
  const build = async (tenant: string, n: number): Promise<{ object: Awaited<ReturnType<ObjectBuilder['finish']>>; key: string }> => {
    const createdAtMs = Date.now();
    const key = objectKey({ tenant, signal: 'logs', createdAtMs, id: nextId(createdAtMs) });
    const builder = new ObjectBuilder({ key, tenant, signal: 'logs', codec: 'gzip', writer: archive.blobs.createWriter(key), nowMs: createdAtMs });
    for (let i = 0; i < n; i += 1) {
      const bytes = Buffer.from(payloadFor('logs', 100 + i).proto);
      const meta: RequestMeta = { id: nextId(), tenant, signal: 'logs', receivedAtMs: createdAtMs, items: 1, services: [], startNs: 1n, endNs: 2n, rawBytes: bytes.length };
      await builder.append(meta, bytes);
    }
    return { object: await builder.finish(Date.now()), key };
  };
  const unindexed = await build('initech', 3);
  const partly = await build('initech', 5);
  await archive.index.commitObject(partly.object.object, partly.object.requests.slice(0, 2));

  const report = await verify(archive.blobs, archive.index, { tenant: 'initech' });
  expect(report.objects).toBe(2); // the tenant's objects only
  expect(report.unindexedObjects).toEqual([{ key: unindexed.key, requests: 3 }]);
  expect(report.partlyIndexedObjects).toEqual([
    { key: partly.key, unindexedRequests: 3, requestIds: partly.object.requests.slice(2).map((r) => r.id) },
  ]);

  const repaired = await verify(archive.blobs, archive.index, { tenant: 'initech', repair: true });
  expect(repaired.repair?.indexedObjects.sort()).toEqual([unindexed.key, partly.key].sort());
  expect(await archive.index.knownRequestIds([...unindexed.object.requests, ...partly.object.requests].map((r) => r.id))).toHaveProperty('size', 8);
  expect((await verify(archive.blobs, archive.index)).ok).toBe(true);
});

test('--prefix and --since limit what is read', async () => {
  const [first] = objectsOf(archive.requests);
  const prefix = first!.slice(0, first!.indexOf('/') + 1); // acme/
  const byPrefix = await verify(archive.blobs, archive.index, { prefix });
  expect(byPrefix.objects).toBe(2);
  expect(byPrefix.blocks).toBe(8);
  // buildArchive's keys carry no time: the object rows' creation time places them (all just now).
  expect((await verify(archive.blobs, archive.index, { sinceMs: Date.now() - 60_000 })).objects).toBe(3);
  expect((await verify(archive.blobs, archive.index, { sinceMs: Date.now() + 60_000 })).objects).toBe(0);
  // A key with a time in it (as the archiver names objects): that time decides, even for an unindexed object.
  const nextId = createUlidGenerator();
  const createdAtMs = Date.now() - 3 * 86_400_000;
  const key = objectKey({ tenant: 'acme', signal: 'logs', createdAtMs, id: nextId(createdAtMs) });
  const builder = new ObjectBuilder({ key, tenant: 'acme', signal: 'logs', codec: 'gzip', writer: archive.blobs.createWriter(key), nowMs: createdAtMs });
  const bytes = Buffer.from(payloadFor('logs', 7).proto);
  await builder.append({ id: nextId(), tenant: 'acme', signal: 'logs', receivedAtMs: createdAtMs, items: 1, services: [], startNs: 1n, endNs: 2n, rawBytes: bytes.length }, bytes);
  await builder.finish(createdAtMs);
  expect((await verify(archive.blobs, archive.index, { sinceMs: Date.now() - 86_400_000 })).objects).toBe(3);
  const all = await verify(archive.blobs, archive.index, { sinceMs: createdAtMs - 1 });
  expect(all.objects).toBe(4);
  expect(all.unindexedObjects).toEqual([{ key, requests: 1 }]);
});
