import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import zlib from 'node:zlib';
import { ObjectBuilder } from '../../src/archiver/object-builder.js';
import { readObjectManifest, readRequestBytes } from '../../src/archiver/object-reader.js';
import { BLOCK_HEADER_SIZE, OBJECT_HEADER_SIZE, decodeBlockHeader } from '../../src/archiver/object-format.js';
import { objectKey, newObjectId } from '../../src/archiver/object-key.js';
import { CODECS } from '../../src/model.js';
import type { Codec, RequestLocation } from '../../src/model.js';
import { BackendUnavailableError, InvalidArgumentError } from '../../src/errors.js';
import { FaultyWriter, payload, requestMeta, tempFiles, tempStore, visibleFiles } from './fixtures.js';
import type { TempStore } from './fixtures.js';

const CREATED = Date.UTC(2024, 4, 6, 7, 8, 9);

function keyFor(): string {
  return objectKey({ tenant: 'acme', signal: 'traces', createdAtMs: CREATED, id: newObjectId(CREATED) });
}

describe('ObjectBuilder', () => {
  let temp: TempStore;

  beforeEach(async () => {
    temp = await tempStore();
  });
  afterEach(() => temp.cleanup());

  function builder(codec: Codec, writer = temp.store.createWriter(keyFor()), key?: string): ObjectBuilder {
    return new ObjectBuilder({
      key: key ?? keyFor(),
      tenant: 'acme',
      signal: 'traces',
      codec,
      writer,
      nowMs: CREATED,
    });
  }

  for (const codec of CODECS) {
    it(`${codec}: every request reads back by its range alone; the manifest alone says what finish() said`, async () => {
      const key = keyFor();
      const b = new ObjectBuilder({ key, tenant: 'acme', signal: 'traces', codec, writer: temp.store.createWriter(key), nowMs: CREATED });
      const sizes = [0, 1, 5 * 1024 * 1024 + 3, ...Array.from({ length: 20 }, () => Math.floor(Math.random() * 70_000)), 0, 2];
      const raws = sizes.map(payload);
      const metas = raws.map((raw) => requestMeta(raw));
      // All appended at once: compression runs in parallel, the big one finishes last, order must still hold.
      const locations = await Promise.all(raws.map((raw, i) => b.append(metas[i]!, raw)));
      expect(b.requestCount).toBe(raws.length);
      expect(b.rawBytes).toBe(sizes.reduce((a, s) => a + s, 0));
      expect(b.createdAtMs).toBe(CREATED);

      const sealedAt = CREATED + 5000;
      const finished = await b.finish(sealedAt);
      const size = (await temp.store.stat(key))!.size;
      expect(finished.object).toMatchObject({
        key,
        tenant: 'acme',
        signal: 'traces',
        createdAtMs: CREATED,
        sealedAtMs: sealedAt,
        requestCount: raws.length,
        rawBytes: b.rawBytes,
        storedBytes: size,
        codec,
        startNs: metas.reduce((m, r) => (r.startNs < m ? r.startNs : m), metas[0]!.startNs),
        endNs: metas.reduce((m, r) => (r.endNs > m ? r.endNs : m), metas[0]!.endNs),
      });
      expect(finished.requests.map((r) => r.id)).toEqual(metas.map((m) => m.id));

      let previousEnd = OBJECT_HEADER_SIZE;
      for (const [i, request] of finished.requests.entries()) {
        expect(request).toEqual({ ...metas[i]!, ...locations[i]! });
        // Blocks sit back to back in append order, each payload right after its header.
        expect(request.offset).toBe(previousEnd + BLOCK_HEADER_SIZE);
        previousEnd = request.offset + request.length;
        const header = decodeBlockHeader(await temp.store.readRange(key, request.offset - BLOCK_HEADER_SIZE, BLOCK_HEADER_SIZE));
        expect(header).toEqual({ codec, rawLength: raws[i]!.length, storedLength: request.length, crc32: zlib.crc32(raws[i]!) });
        expect((await readRequestBytes(temp.store, request)).equals(raws[i]!)).toBe(true);
      }
      expect(await readObjectManifest(temp.store, key)).toEqual(finished);
    });
  }

  it("takes the caller's CRC of a request (the spool's) instead of computing it again", async () => {
    const key = keyFor();
    const b = new ObjectBuilder({ key, tenant: 'acme', signal: 'traces', codec: 'gzip', writer: temp.store.createWriter(key), nowMs: CREATED });
    const raw = payload(70_000);
    const given = zlib.crc32(raw);
    const location = await b.append(requestMeta(raw), raw, undefined, given);
    expect(location.crc32).toBe(given);
    await b.finish(CREATED + 1);
    const header = decodeBlockHeader(await temp.store.readRange(key, location.offset - BLOCK_HEADER_SIZE, BLOCK_HEADER_SIZE));
    expect(header.crc32).toBe(given);
    expect((await readRequestBytes(temp.store, { ...requestMeta(raw), ...location })).equals(raw)).toBe(true);
  });

  it('gzip: a block fetched by its byte range is a plain gzip stream (curl -r … | gunzip)', async () => {
    const key = keyFor();
    const b = builder('gzip', temp.store.createWriter(key), key);
    const raw = payload(300_000);
    const location = await b.append(requestMeta(raw), raw);
    await b.append(requestMeta(payload(10)), payload(10));
    await b.finish(CREATED);
    const range = await temp.store.readRange(key, location.offset, location.length);
    expect(zlib.gunzipSync(range).equals(raw)).toBe(true);
  });

  it('keeps append order when a later, smaller block compresses first', async () => {
    const key = keyFor();
    const b = new ObjectBuilder({ key, tenant: 'acme', signal: 'traces', codec: 'brotli', level: 9, writer: temp.store.createWriter(key), nowMs: CREATED });
    const big = payload(4 * 1024 * 1024);
    const small = Array.from({ length: 10 }, (_, i) => payload(i + 1));
    const settled: number[] = [];
    const all = [big, ...small].map((raw, i) =>
      b.append(requestMeta(raw), raw).then((location: RequestLocation) => {
        settled.push(i);
        return location;
      }),
    );
    const locations = await Promise.all(all);
    expect(settled).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (let i = 1; i < locations.length; i++) expect(locations[i]!.offset).toBeGreaterThan(locations[i - 1]!.offset);
    const { requests } = await b.finish(CREATED);
    for (const [i, raw] of [big, ...small].entries()) expect((await readRequestBytes(temp.store, requests[i]!)).equals(raw)).toBe(true);
  });

  it('a failed write fails the builder: later appends and finish reject, the writer is aborted, nothing is visible', async () => {
    const key = keyFor();
    // Blocks of 100+ KiB each go out in one write with what was gathered before them (the object header and the
    // block header): write 1 is block 1, write 2 (block 2) fails.
    const writer = new FaultyWriter(temp.store.createWriter(key), { failWriteAt: 2 });
    const b = builder('none', writer, key);
    const raws = [payload(100_000), payload(200_000), payload(300_000)];
    const results = await Promise.allSettled(raws.map((raw) => b.append(requestMeta(raw), raw)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    const reason = (results[1] as PromiseRejectedResult).reason as Error;
    expect(reason).toBeInstanceOf(BackendUnavailableError);
    expect(reason.message).toMatch(/injected: device full/);
    await expect(b.append(requestMeta(raws[0]!), raws[0]!)).rejects.toBe(reason);
    await expect(b.finish(CREATED)).rejects.toBe(reason);
    expect(writer.aborts).toBe(1);
    await b.abort();
    expect(await temp.store.stat(key)).toBeNull();
    expect(visibleFiles(temp.root)).toEqual([]);
    expect(tempFiles(temp.root)).toEqual([]);
  });

  it('gathers small blocks into few writes, and their offsets still point at each block', async () => {
    const key = keyFor();
    const writer = new FaultyWriter(temp.store.createWriter(key), {});
    const b = builder('none', writer, key);
    const raws = Array.from({ length: 3000 }, (_, i) => payload(40 + (i % 90)));
    const locations = await Promise.all(raws.map((raw) => b.append(requestMeta(raw), raw)));
    // A block bigger than the gathering threshold goes out with what was gathered before it.
    const large = payload(300_000);
    const largeLocation = await b.append(requestMeta(large), large);
    const sealed = await b.finish(CREATED);
    expect(writer.writes).toBeLessThan(20);
    const stored = await temp.store.readRange(key, 0, sealed.object.storedBytes);
    expect(stored.length).toBe(sealed.object.storedBytes);
    locations.forEach((location, i) => {
      expect(stored.subarray(location.offset, location.offset + location.length).equals(raws[i]!)).toBe(true);
    });
    expect(stored.subarray(largeLocation.offset, largeLocation.offset + largeLocation.length).equals(large)).toBe(true);
  });

  it('a failed complete fails finish, and finish cannot be retried', async () => {
    const key = keyFor();
    const writer = new FaultyWriter(temp.store.createWriter(key), { failComplete: true });
    const b = builder('none', writer, key);
    await b.append(requestMeta(payload(10)), payload(10));
    const error = await b.finish(CREATED).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendUnavailableError);
    await expect(b.finish(CREATED)).rejects.toBe(error);
    await expect(b.append(requestMeta(payload(1)), payload(1))).rejects.toBe(error);
    expect(writer.aborts).toBe(1);
    expect(visibleFiles(temp.root)).toEqual([]);
    expect(tempFiles(temp.root)).toEqual([]);
  });

  it('rejects requests that do not belong, without failing the builder', async () => {
    const key = keyFor();
    const b = builder('gzip', temp.store.createWriter(key), key);
    const raw = payload(50);
    const meta = requestMeta(raw);
    await expect(b.append({ ...meta, tenant: 'other' }, raw)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(b.append({ ...meta, signal: 'logs' }, raw)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(b.append({ ...meta, rawBytes: 49 }, raw)).rejects.toBeInstanceOf(InvalidArgumentError);
    await b.append(meta, raw);
    await expect(b.append(meta, raw)).rejects.toThrow(/already in archive object/);
    expect(b.requestCount).toBe(1);
    const { requests } = await b.finish(CREATED);
    expect(requests).toHaveLength(1);
    await expect(b.append(requestMeta(raw), raw)).rejects.toThrow(/finished/);
    await expect(b.finish(CREATED)).rejects.toThrow(/finished/);
    await b.abort(); // after finish: leaves the object alone
    expect(await temp.store.stat(key)).not.toBeNull();
  });

  it('abort() leaves nothing visible and refuses later appends', async () => {
    const key = keyFor();
    const b = builder('brotli', temp.store.createWriter(key), key);
    const pending = b.append(requestMeta(payload(100_000)), payload(100_000));
    await b.abort();
    await b.abort();
    await pending.catch(() => undefined);
    await expect(b.append(requestMeta(payload(5)), payload(5))).rejects.toThrow(/aborted/);
    await expect(b.finish(CREATED)).rejects.toThrow(/aborted/);
    expect(await temp.store.stat(key)).toBeNull();
    expect(visibleFiles(temp.root)).toEqual([]);
    expect(tempFiles(temp.root)).toEqual([]);
  });

  it('will not finish an empty object, and can still be aborted', async () => {
    const key = keyFor();
    const b = builder('gzip', temp.store.createWriter(key), key);
    await expect(b.finish(CREATED)).rejects.toBeInstanceOf(InvalidArgumentError);
    await b.abort();
    expect(visibleFiles(temp.root)).toEqual([]);
    expect(tempFiles(temp.root)).toEqual([]);
  });

  it('rejects a compression level the codec does not have', () => {
    expect(
      () => new ObjectBuilder({ key: 'k', tenant: 'acme', signal: 'traces', codec: 'gzip', level: 42, writer: temp.store.createWriter('k'), nowMs: 0 }),
    ).toThrow(InvalidArgumentError);
  });
});
