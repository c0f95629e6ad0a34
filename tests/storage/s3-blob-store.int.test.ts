// The S3 adapter against a real S3-protocol server (s3rver, started per suite): the BlobStore contract, streaming
// multipart uploads, failures that must surface promptly, start-up messages, and the checksum trap.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { BackendUnavailableError, ConfigError, InvalidArgumentError } from '../../src/errors.js';
import { S3BlobStore } from '../../src/storage/s3-blob-store.js';
import type { BlobInfo } from '../../src/storage/blob-store.js';
import { describeBlobStoreContract } from './blob-store-contract.js';
import { startS3Server, type S3Server } from '../helpers/s3-server.js';

const MiB = 2 ** 20;
const SECRET = 'TOP-SECRET-never-logged';

let server: S3Server;
let buckets = 0;

beforeAll(async () => {
  server = await startS3Server();
}, 30_000);

afterAll(async () => {
  await server.dispose();
});

async function freshBucket(): Promise<string> {
  const bucket = `bucket-${++buckets}`;
  await server.createBucket(bucket);
  return bucket;
}

async function collect(iterable: AsyncIterable<BlobInfo>): Promise<BlobInfo[]> {
  const out: BlobInfo[] = [];
  for await (const info of iterable) out.push(info);
  return out;
}

/** A pino logger whose lines are kept for assertions. */
function capturingLogger(): { logger: pino.Logger; lines: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  return {
    logger: pino({ level: 'debug' }, sink),
    lines: () => lines.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/** Files of unfinished multipart uploads in s3rver's directory (it keeps them under `<bucket>/._S3rver_uploads`). */
function pendingPartFiles(bucket: string): string[] {
  const uploads = path.join(server.dir, bucket, '._S3rver_uploads');
  if (!existsSync(uploads)) return [];
  return readdirSync(uploads, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /^\d+$/.test(entry.name))
    .map((entry) => entry.name);
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describeBlobStoreContract('S3BlobStore on s3rver', async () => {
  const bucket = await freshBucket();
  const archive = await freshBucket();
  return {
    store: new S3BlobStore(server.settings({ bucket, partSize: 5 * MiB })),
    dispose: async () => undefined,
    // The store's bucket (reserved `_archive/` area), another bucket, another bucket under a prefix.
    archiveTargets: [{}, { bucket: archive }, { bucket: archive, prefix: 'cold/2026' }, { prefix: '_archive/cold' }],
    unsuitableTargets: [
      { dir: '/srv/archive' },
      { bucket: 'Not_A_Bucket' },
      { bucket: 'x' },
      { bucket, prefix: 'cold' }, // inside the store's own keys (its prefix is empty): reindex would see it twice
      { prefix: 'cold' },
      { bucket: archive, prefix: '../up' },
      { bucket: archive, prefix: 'a\0b' },
    ],
    partialArchivePrefixes: ['_archive/s3/', `_archive/s3/${archive}`],
  };
});

describeBlobStoreContract('S3BlobStore with a key prefix, in a bucket shared with other data', async () => {
  const bucket = await freshBucket();
  // Neighbours the store must never list, read or delete: a sibling with the same leading characters and a key
  // outside the prefix.
  const neighbour = new S3BlobStore(server.settings({ bucket }));
  for (const key of ['team-a/archivex/other', 'team-a/other', 'zzz']) {
    const writer = neighbour.createWriter(key);
    await writer.write(Buffer.from(key));
    await writer.complete();
  }
  await neighbour.close();
  return {
    store: new S3BlobStore(server.settings({ bucket, prefix: '/team-a/archive/', partSize: 5 * MiB })),
    // Same bucket outside the store's prefix (also beside a sibling with the same leading characters), and the
    // reserved area under it.
    archiveTargets: [{ prefix: 'cold/team-a' }, {}, { prefix: 'team-a/archive-cold' }],
    unsuitableTargets: [{ prefix: 'team-a' }, { prefix: 'team-a/archive/cold' }, { bucket, prefix: '/team-a/archive/' }, { prefix: '' }],
    partialArchivePrefixes: ['_archive/s3/b'],
    dispose: async () => {
      const check = new S3BlobStore(server.settings({ bucket }));
      expect((await collect(check.list(''))).map((info) => info.key)).toEqual(
        expect.arrayContaining(['team-a/archivex/other', 'team-a/other', 'zzz']),
      );
      await check.close();
    },
  };
});

describe('S3BlobStore archiving (retention)', () => {
  it('archives into another bucket under a prefix: the object lands at the key the archive key names', async () => {
    const bucket = await freshBucket();
    const archive = await freshBucket();
    const store = new S3BlobStore(server.settings({ bucket, prefix: 'prod' }));
    const raw = new S3Client({
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    try {
      await store.start();
      const payload = randomBytes(70_000);
      const writer = store.createWriter('acme/traces/x.otlpc');
      await writer.write(payload);
      await writer.complete();
      const key = store.archiveKey('acme/traces/x.otlpc', { bucket: archive, prefix: '/cold/' });
      expect(key).toBe(`_archive/s3/${archive}/cold/acme/traces/x.otlpc`);
      await store.copy('acme/traces/x.otlpc', key);
      const got = await raw.send(new GetObjectCommand({ Bucket: archive, Key: 'cold/acme/traces/x.otlpc' }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(payload)).toBe(true);
      // The default target: the store's own bucket, under `<prefix>/_archive/`, which the store's listing skips.
      const own = store.archiveKey('acme/traces/x.otlpc', {});
      expect(own).toBe(`_archive/s3/${bucket}/prod/_archive/acme/traces/x.otlpc`);
      await store.copy('acme/traces/x.otlpc', own);
      await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: 'prod/_archive/acme/traces/x.otlpc' }));
      expect((await collect(store.list(''))).map((info) => info.key)).toEqual(['acme/traces/x.otlpc']);
      expect((await collect(store.list(`_archive/s3/${bucket}/`))).map((info) => info.key)).toEqual([own]);
      // A store with another prefix in the same bucket reads the archived object by its archive key, no config.
      const elsewhere = new S3BlobStore(server.settings({ bucket: archive }));
      expect((await elsewhere.readRange(key, 100, 1000)).equals(payload.subarray(100, 1100))).toBe(true);
      await elsewhere.close();
    } finally {
      await store.close();
      raw.destroy();
    }
  });

  // s3rver keeps the storage class a write names (and reports it on HeadObject), but its CopyObject copies the
  // source's metadata and ignores x-amz-storage-class unless the metadata directive is REPLACE; real S3 and MinIO
  // apply the class on a COPY-directive copy. So only the write path's class is asserted; the copy's is not.
  it('writes with a storage class (reported by HeadObject); copies with one (accepted, not reported by s3rver)', async () => {
    const bucket = await freshBucket();
    const archive = await freshBucket();
    const store = new S3BlobStore(server.settings({ bucket }));
    try {
      await store.start();
      const writer = store.createWriter('acme/logs/y.otlpc');
      await writer.write(Buffer.from('payload'));
      await writer.complete();
      expect((await store.stat('acme/logs/y.otlpc'))?.storageClass).toBeUndefined();
      const cold = store.createWriter('acme/logs/cold.otlpc', { storageClass: 'STANDARD_IA' });
      await cold.write(Buffer.from('cold'));
      await cold.complete();
      expect(await store.stat('acme/logs/cold.otlpc')).toEqual({ key: 'acme/logs/cold.otlpc', size: 4, storageClass: 'STANDARD_IA' });
      const target = { bucket: archive, storageClass: 'STANDARD_IA' };
      const key = store.archiveKey('acme/logs/y.otlpc', target);
      expect(key).toBe(store.archiveKey('acme/logs/y.otlpc', { bucket: archive })); // the class is not part of the key
      const copied = await store.copy('acme/logs/y.otlpc', key, { storageClass: 'STANDARD_IA' });
      expect(copied).toMatchObject({ key, size: 7 });
      expect((await store.readRange(key, 0, 7)).toString()).toBe('payload');
    } finally {
      await store.close();
    }
  });
});

describe('S3BlobStore streaming uploads', () => {
  it('uploads parts while the object is written, shows nothing before complete, and keeps 5+ parts intact', async () => {
    const bucket = await freshBucket();
    const store = new S3BlobStore(server.settings({ bucket, partSize: 5 * MiB, uploadQueueSize: 2 }));
    await store.start();
    const writer = store.createWriter('tenant/traces/big.otlpc');
    const hash = createHash('sha256');
    let size = 0;
    const write = async (chunk: Buffer): Promise<void> => {
      hash.update(chunk);
      size += chunk.length;
      await writer.write(chunk);
    };
    for (let i = 0; i < 12; i++) await write(randomBytes(MiB)); // 12 MiB: two full parts and more
    await until(() => pendingPartFiles(bucket).length >= 2, 10_000, 'parts on the server before complete()');
    expect(await store.stat('tenant/traces/big.otlpc')).toBeNull();
    expect(await collect(store.list(''))).toEqual([]);
    for (let i = 0; i < 14; i++) await write(randomBytes(MiB - 7 * i)); // odd sizes: parts never align with chunks
    expect((await writer.complete()).size).toBe(size);
    expect(size).toBeGreaterThan(5 * 5 * MiB);

    expect(await store.stat('tenant/traces/big.otlpc')).toEqual({ key: 'tenant/traces/big.otlpc', size });
    const readBack = createHash('sha256');
    for (let offset = 0; offset < size; offset += 4 * MiB + 3) {
      readBack.update(await store.readRange('tenant/traces/big.otlpc', offset, Math.min(4 * MiB + 3, size - offset)));
    }
    expect(readBack.digest('hex')).toBe(hash.digest('hex'));
    expect(pendingPartFiles(bucket)).toEqual([]);
    await store.close();
  });

  it('aborts a multipart upload in flight without throwing, and says once that s3rver cannot abort uploads', async () => {
    const bucket = await freshBucket();
    const { logger, lines } = capturingLogger();
    const store = new S3BlobStore(server.settings({ bucket, partSize: 5 * MiB }), { logger });
    await store.start();
    for (const key of ['a/1', 'a/2']) {
      const writer = store.createWriter(key);
      for (let i = 0; i < 6; i++) await writer.write(randomBytes(MiB));
      await until(() => pendingPartFiles(bucket).length >= 1, 10_000, 'a part on the server');
      await writer.abort();
      await writer.abort();
      await expect(writer.write(Buffer.from('x'))).rejects.toThrow(/aborted/);
      await expect(writer.complete()).rejects.toThrow(/aborted/);
      expect(await store.stat(key)).toBeNull();
    }
    expect(await collect(store.list(''))).toEqual([]);
    const unsupported = lines().filter((line) => /does not support AbortMultipartUpload/.test(String(line.msg)));
    expect(unsupported).toHaveLength(1);
    expect(unsupported[0]!.level).toBe(40);
    await store.close();
  });

  it('says clearly at start that stale multipart uploads cannot be listed on s3rver, and starts', async () => {
    const { logger, lines } = capturingLogger();
    const store = new S3BlobStore(server.settings({ bucket: await freshBucket() }), { logger });
    await store.start();
    const said = lines().filter((line) => /cannot list multipart uploads/.test(String(line.msg)));
    expect(said).toHaveLength(1);
    expect(said[0]!.level).toBe(30);
    expect(String(said[0]!.error)).toMatch(/NotImplemented \(HTTP 501\)/);
    await store.close();
  });

  it('lists across many pages in byte order', async () => {
    const bucket = await freshBucket();
    const store = new S3BlobStore(server.settings({ bucket }), { listPageSize: 2 });
    const keys = ['p/k3', 'p/k0', 'p/k6', 'p/k1', 'p/k5', 'p/k2', 'p/k4'];
    for (const key of keys) {
      const writer = store.createWriter(key);
      await writer.write(Buffer.from(key));
      await writer.complete();
    }
    expect((await collect(store.list('p/'))).map((info) => info.key)).toEqual([...keys].sort());
    await store.close();
  });
});

describe('S3BlobStore when the server fails', () => {
  it('rejects writes promptly when the server dies mid-upload, and abort() then settles', async () => {
    const own = await startS3Server();
    try {
      const store = new S3BlobStore(own.settings({ partSize: 5 * MiB }));
      await store.start();
      const writer = store.createWriter('dying/object');
      for (let i = 0; i < 3; i++) await writer.write(randomBytes(MiB));
      await own.stop();
      const started = Date.now();
      let failure: unknown;
      try {
        for (let i = 0; i < 200; i++) await writer.write(randomBytes(MiB));
        await writer.complete();
      } catch (error) {
        failure = error;
      }
      expect(failure).toBeInstanceOf(BackendUnavailableError);
      expect(String((failure as Error).message)).toMatch(/cannot upload object dying\/object in s3:\/\/otlp-capture\/ at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
      expect(Date.now() - started).toBeLessThan(10_000);
      await expect(writer.write(Buffer.from('x'))).rejects.toBe(failure);
      await writer.abort(); // settles: the Upload has stopped, nothing keeps running in the background
      await store.close();
    } finally {
      await own.dispose();
    }
  });

  it('does not hang on a server that accepts connections but answers nothing (idle timeout)', async () => {
    const own = await startS3Server();
    try {
      const store = new S3BlobStore(own.settings({ partSize: 5 * MiB, idleTimeoutMs: 500 }));
      await store.start();
      own.freeze();
      const started = Date.now();
      const writer = store.createWriter('frozen/object');
      let failure: unknown;
      try {
        for (let i = 0; i < 100; i++) await writer.write(randomBytes(MiB));
        await writer.complete();
      } catch (error) {
        failure = error;
      }
      expect(failure).toBeInstanceOf(BackendUnavailableError);
      expect(String((failure as Error).message)).toMatch(/frozen\/object/);
      expect(Date.now() - started).toBeLessThan(15_000);
      await expect(store.stat('anything')).rejects.toBeInstanceOf(BackendUnavailableError);
      own.thaw();
      await writer.abort();
      await store.close();
    } finally {
      await own.dispose();
    }
  }, 30_000);

  it('explains an unreachable endpoint, a missing bucket and refused credentials in one line, without secrets', async () => {
    const cases: [Partial<Parameters<S3Server['settings']>[0]>, RegExp][] = [
      [
        { endpoint: 'http://127.0.0.1:1' },
        /^cannot reach S3 at http:\/\/127\.0\.0\.1:1 \(ECONNREFUSED\): is the server running, and are storage\.s3\.endpoint \(S3_ENDPOINT\)/,
      ],
      [{ bucket: 'no-such-bucket' }, /^S3 bucket "no-such-bucket" does not exist at http:\/\/127\.0\.0\.1:\d+: create it/],
      [{ accessKeyId: 'NOT-A-KEY' }, /^S3 at http:\/\/127\.0\.0\.1:\d+ refused access to bucket "otlp-capture" \(HTTP 403\): check the credentials/],
    ];
    for (const [overrides, expected] of cases) {
      const store = new S3BlobStore(server.settings({ secretAccessKey: SECRET, ...overrides }));
      const started = Date.now();
      const failure = await store.start().then(
        () => null,
        (error: unknown) => error as Error,
      );
      expect(failure).toBeInstanceOf(BackendUnavailableError);
      expect(failure!.message).toMatch(expected);
      expect(failure!.message).not.toContain('\n');
      expect(failure!.message).not.toContain(SECRET);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(store.describe()).not.toContain(SECRET);
      await store.close();
    }
  });

  it('refuses settings that cannot work, before any request', () => {
    expect(() => new S3BlobStore(server.settings({ partSize: 4 * MiB }))).toThrow(ConfigError);
    expect(() => new S3BlobStore(server.settings({ prefix: 'a/../b' }))).toThrow(ConfigError);
    expect(() => new S3BlobStore(server.settings({ secretAccessKey: undefined }))).toThrow(ConfigError);
    expect(() => new S3BlobStore(server.settings({ bucket: '' }))).toThrow(ConfigError);
    const store = new S3BlobStore(server.settings({ endpoint: 'http://user:pw@127.0.0.1:9/', prefix: 'x' }));
    expect(store.describe()).toBe('s3://otlp-capture/x/ at http://127.0.0.1:9');
    expect(() => store.createWriter('../x')).toThrow(InvalidArgumentError);
  });
});

describe('checksum mode on s3rver', () => {
  function sdkClient(mode: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED'): S3Client {
    return new S3Client({
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: mode,
      responseChecksumValidation: mode,
    });
  }

  it('the trap is real: a streamed PutObject with the SDK default stores the aws-chunked framing, not the bytes', async () => {
    const bucket = await freshBucket();
    const payload = randomBytes(1000);
    const stored: Record<string, Buffer> = {};
    for (const mode of ['WHEN_SUPPORTED', 'WHEN_REQUIRED'] as const) {
      const client = sdkClient(mode);
      await client.send(
        new PutObjectCommand({ Bucket: bucket, Key: mode, Body: Readable.from([payload]), ContentLength: payload.length }),
      );
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: mode }));
      stored[mode] = Buffer.from(await got.Body!.transformToByteArray());
      client.destroy();
    }
    expect(stored.WHEN_REQUIRED!.equals(payload)).toBe(true);
    expect(stored.WHEN_SUPPORTED!.equals(payload)).toBe(false);
    expect(stored.WHEN_SUPPORTED!.length).toBeGreaterThan(payload.length);
    expect(stored.WHEN_SUPPORTED!.toString('latin1')).toMatch(/^3e8\r\n/); // the first chunk header: 1000 bytes
  });

  it('S3BlobStore stores exact bytes in both modes (lib-storage sends parts as buffers, checksummed in headers)', async () => {
    const bucket = await freshBucket();
    for (const checksums of ['when_supported', 'when_required'] as const) {
      const store = new S3BlobStore(server.settings({ bucket, checksums, partSize: 5 * MiB }));
      for (const [key, size] of [[`${checksums}/small`, 1000], [`${checksums}/multipart`, 11 * MiB + 5]] as const) {
        const payload = randomBytes(size);
        const writer = store.createWriter(key);
        for (let offset = 0; offset < size; offset += MiB) await writer.write(payload.subarray(offset, offset + MiB));
        expect((await writer.complete()).size).toBe(size);
        const client = sdkClient('WHEN_REQUIRED');
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        client.destroy();
        expect(head.ContentLength).toBe(size);
        expect((await store.readRange(key, 0, size)).equals(payload)).toBe(true);
      }
      await store.close();
    }
  });
});
