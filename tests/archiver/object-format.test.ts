import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import zlib from 'node:zlib';
import {
  BLOCK_HEADER_SIZE,
  FORMAT_VERSION,
  MANIFEST_VERSION,
  OBJECT_HEADER_SIZE,
  TRAILER_SIZE,
  decodeBlockHeader,
  encodeBlockHeader,
} from '../../src/archiver/object-format.js';
import { ObjectBuilder } from '../../src/archiver/object-builder.js';
import { readObjectManifest } from '../../src/archiver/object-reader.js';
import { CorruptDataError } from '../../src/errors.js';
import { asVersion1, asVersion2, rewriteManifest } from '../helpers/manifest-rewrite.js';
import { requestFingerprint } from '../../src/util/fingerprint.js';
import { payload, requestMeta, tempStore } from './fixtures.js';
import type { TempStore } from './fixtures.js';

describe('archive object format', () => {
  let temp: TempStore;
  beforeEach(async () => {
    temp = await tempStore();
  });
  afterEach(() => temp.cleanup());

  it('block headers round-trip and refuse a bad magic or codec', () => {
    const block = { codec: 'brotli' as const, rawLength: 0xfffffffe, storedLength: 12, crc32: 0xdeadbeef };
    const bytes = encodeBlockHeader(block);
    expect(bytes).toHaveLength(BLOCK_HEADER_SIZE);
    expect(decodeBlockHeader(bytes)).toEqual(block);
    const badCodec = Buffer.from(bytes);
    badCodec[4] = 9;
    expect(() => decodeBlockHeader(badCodec)).toThrow(CorruptDataError);
    expect(() => decodeBlockHeader(Buffer.alloc(BLOCK_HEADER_SIZE))).toThrow(CorruptDataError);
  });

  it('lays an object out as header, blocks, gzip manifest, fixed trailer', async () => {
    const key = 'layout/object.otlpc';
    const b = new ObjectBuilder({ key, tenant: 'acme', signal: 'logs', codec: 'gzip', writer: temp.store.createWriter(key), nowMs: 5 });
    const raw = payload(1234);
    await b.append(requestMeta(raw, { tenant: 'acme', signal: 'logs', startNs: 2n ** 60n + 7n }), raw);
    const { object } = await b.finish(6);
    const bytes = fs.readFileSync(temp.store.pathOf(key));
    expect(bytes.length).toBe(object.storedBytes);
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('OTCH');
    expect(bytes.readUInt16BE(4)).toBe(FORMAT_VERSION);
    expect(bytes.subarray(OBJECT_HEADER_SIZE, OBJECT_HEADER_SIZE + 4).toString('latin1')).toBe('OTCB');
    const trailer = bytes.subarray(bytes.length - TRAILER_SIZE);
    expect(trailer.subarray(24).toString('latin1')).toBe('OTCT');
    const manifestOffset = Number(trailer.readBigUInt64BE(0));
    const manifest = zlib.gunzipSync(bytes.subarray(manifestOffset, bytes.length - TRAILER_SIZE));
    expect(zlib.crc32(manifest)).toBe(trailer.readUInt32BE(16));
    // Readable with standard tools: plain JSON, bigints as decimal strings.
    const json = JSON.parse(manifest.toString('utf8')) as { version: number; requests: { startNs: string }[] };
    expect(json.version).toBe(MANIFEST_VERSION);
    expect(json.requests[0]!.startNs).toBe((2n ** 60n + 7n).toString());
  });

  describe('trace ids in the manifest (version 2)', () => {
    const T1 = '0af7651916cd43dd8448eb211c80319c';
    const T2 = '4bf92f3577b34da6a3ce929d0e0e4736';

    async function build(key: string): Promise<Awaited<ReturnType<ObjectBuilder['finish']>>> {
      const b = new ObjectBuilder({ key, tenant: 'acme', signal: 'traces', codec: 'gzip', writer: temp.store.createWriter(key), nowMs: 5 });
      const raws = [payload(300), payload(400), payload(500)];
      await b.append(requestMeta(raws[0]!), raws[0]!, [T1, T2]);
      await b.append(requestMeta(raws[1]!), raws[1]!, []);
      await b.append(requestMeta(raws[2]!), raws[2]!); // trace ids not known (the archiver could not read them)
      return b.finish(6);
    }

    it('are written per request and read back; a request without them has none', async () => {
      const built = await build('traces/with-ids.otlpc');
      expect(built.requests.map((r) => r.traceIds)).toEqual([[T1, T2], [], undefined]);
      const read = await readObjectManifest(temp.store, 'traces/with-ids.otlpc');
      expect(read).toEqual(built);
      expect(read.requests.map((r) => r.traceIds)).toEqual([[T1, T2], [], undefined]);
      expect('traceIds' in read.requests[2]!).toBe(false);
    });

    it('a version-1 manifest (an object of an older build) still reads, without trace ids', async () => {
      const key = 'traces/old.otlpc';
      const built = await build(key);
      rewriteManifest(temp.store.pathOf(key), asVersion1);
      const read = await readObjectManifest(temp.store, key);
      expect(read.requests.map((r) => r.traceIds)).toEqual([undefined, undefined, undefined]);
      expect(read.requests.map((r) => r.id)).toEqual(built.requests.map((r) => r.id));
      expect(read.object).toEqual({ ...built.object, storedBytes: (await temp.store.stat(key))!.size });
    });

    it('a malformed trace id or an unknown manifest version is CorruptDataError', async () => {
      const key = 'traces/bad.otlpc';
      await build(key);
      rewriteManifest(temp.store.pathOf(key), (m) => {
        m.requests[0]!.traceIds = [T1.toUpperCase()];
      });
      await expect(readObjectManifest(temp.store, key)).rejects.toThrow(CorruptDataError);
      rewriteManifest(temp.store.pathOf(key), (m) => {
        m.requests[0]!.traceIds = [T1];
        m.version = MANIFEST_VERSION + 1;
      });
      await expect(readObjectManifest(temp.store, key)).rejects.toThrow(/manifest is not valid/);
    });
  });

  describe('fingerprints in the manifest (version 3)', () => {
    async function build(key: string): Promise<Awaited<ReturnType<ObjectBuilder['finish']>>> {
      const b = new ObjectBuilder({ key, tenant: 'acme', signal: 'logs', codec: 'gzip', writer: temp.store.createWriter(key), nowMs: 5 });
      const raws = [payload(300), payload(400)];
      await b.append(requestMeta(raws[0]!, { signal: 'logs', fingerprint: requestFingerprint(raws[0]!) }), raws[0]!);
      await b.append(requestMeta(raws[1]!, { signal: 'logs' }), raws[1]!); // captured before fingerprints
      return b.finish(6);
    }

    it('are written per request and read back; a request captured without one has none', async () => {
      const built = await build('logs/fp.otlpc');
      const read = await readObjectManifest(temp.store, 'logs/fp.otlpc');
      expect(read).toEqual(built);
      expect(read.requests[0]!.fingerprint).toMatch(/^[0-9a-f]{16}$/);
      expect('fingerprint' in read.requests[1]!).toBe(false);
    });

    it('a version-2 manifest still reads, without fingerprints; a malformed one is CorruptDataError', async () => {
      const key = 'logs/v2.otlpc';
      const built = await build(key);
      rewriteManifest(temp.store.pathOf(key), asVersion2);
      const read = await readObjectManifest(temp.store, key);
      expect(read.requests.map((r) => r.fingerprint)).toEqual([undefined, undefined]);
      expect(read.requests.map((r) => r.id)).toEqual(built.requests.map((r) => r.id));
      rewriteManifest(temp.store.pathOf(key), (m) => {
        m.version = MANIFEST_VERSION;
        m.requests[0]!.fingerprint = 'XYZ';
      });
      await expect(readObjectManifest(temp.store, key)).rejects.toThrow(CorruptDataError);
    });
  });
});
