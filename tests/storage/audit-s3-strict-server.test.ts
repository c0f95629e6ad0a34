// The S3 adapter against answers that real S3-compatible servers give and s3rver never does. Each case runs a small
// in-memory S3 on 127.0.0.1 (path-style, one bucket) that answers one request type the way a stricter or quirkier
// server does; s3rver cannot show any of these: it always sends NextContinuationToken with a truncated page, honours
// StartAfter, never answers CompleteMultipartUpload with an <Error> in a 200, always sends Content-Range with a 206,
// and accepts (and mis-stores) the SDK's checksum headers instead of refusing them.
import { afterEach, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { lookup } from 'node:dns/promises';
import { BackendUnavailableError, NotFoundError } from '../../src/errors.js';
import { S3BlobStore } from '../../src/storage/s3-blob-store.js';
import { s3StartupError } from '../../src/storage/s3-errors.js';
import { S3_DEFAULTS, type S3Settings } from '../../src/storage/s3-settings.js';
import type { BlobInfo } from '../../src/storage/blob-store.js';

const MiB = 2 ** 20;
const BUCKET = 'strict';

interface Quirks {
  /** ListObjectsV2: 'no-token' sends IsTruncated without NextContinuationToken; 'same-token' repeats the token. */
  listing?: 'no-token' | 'same-token';
  /** ListObjectsV2 ignores start-after (an old server that only knows V1 paging). */
  ignoreStartAfter?: boolean;
  /** CompleteMultipartUpload answers 200 with an <Error> body followed by a newline, and stores nothing. */
  completeErrorIn200?: boolean;
  /** Ranged GET: 'no-content-range' answers 206 from the range start without Content-Range; 'short' sends half. */
  range?: 'no-content-range' | 'short';
  /** Refuses the SDK's flexible-checksum headers as Backblaze B2 did (400 InvalidArgument naming the header). */
  refuseChecksumHeaders?: boolean;
}

interface FakeS3 {
  endpoint: string;
  objects: Map<string, Buffer>;
  requests: string[];
  close(): Promise<void>;
}

const servers: FakeS3[] = [];
const stores: S3BlobStore[] = [];

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const server of servers.splice(0)) await server.close();
});

function xml(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
}

function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

async function startFakeS3(quirks: Quirks = {}, pageSize = 2): Promise<FakeS3> {
  const objects = new Map<string, Buffer>();
  const uploads = new Map<string, Map<number, Buffer>>();
  const requests: string[] = [];
  let uploadIds = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url!, 'http://x');
      const q = url.searchParams;
      const key = decodeURIComponent(url.pathname.slice(`/${BUCKET}/`.length));
      requests.push(`${req.method} ${url.pathname}${url.search}`);
      if (quirks.refuseChecksumHeaders && Object.keys(req.headers).some((h) => /^x-amz-(sdk-)?checksum/.test(h))) {
        const header = Object.keys(req.headers).find((h) => /^x-amz-(sdk-)?checksum/.test(h))!;
        xml(res, 400, `<Error><Code>InvalidArgument</Code><Message>Unsupported header '${header}' received for this API call.</Message></Error>`);
        return;
      }
      if (url.pathname === `/${BUCKET}` || url.pathname === `/${BUCKET}/`) {
        if (req.method === 'HEAD') return void res.writeHead(200).end();
        if (q.get('list-type') === '2') {
          const prefix = q.get('prefix') ?? '';
          const token = q.get('continuation-token');
          const after = token !== null ? Buffer.from(token, 'base64').toString() : quirks.ignoreStartAfter ? null : q.get('start-after');
          const max = Math.min(Number(q.get('max-keys') ?? pageSize), pageSize);
          const all = [...objects.keys()].filter((k) => k.startsWith(prefix)).sort();
          const rest = after === null ? all : all.filter((k) => k > after);
          const page = rest.slice(0, max);
          const truncated = rest.length > max;
          const next =
            !truncated || quirks.listing === 'no-token'
              ? ''
              : `<NextContinuationToken>${quirks.listing === 'same-token' && token !== null ? token : Buffer.from(page.at(-1)!).toString('base64')}</NextContinuationToken>`;
          const contents = page.map((k) => `<Contents><Key>${escapeXml(k)}</Key><Size>${objects.get(k)!.length}</Size></Contents>`).join('');
          return xml(res, 200, `<ListBucketResult><Name>${BUCKET}</Name><KeyCount>${page.length}</KeyCount><IsTruncated>${truncated}</IsTruncated>${next}${contents}</ListBucketResult>`);
        }
        return xml(res, 501, '<Error><Code>NotImplemented</Code><Message>not here</Message></Error>');
      }
      if (req.method === 'POST' && q.has('uploads')) {
        const id = `u${++uploadIds}`;
        uploads.set(id, new Map());
        return xml(res, 200, `<InitiateMultipartUploadResult><Bucket>${BUCKET}</Bucket><Key>${escapeXml(key)}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`);
      }
      if (req.method === 'PUT' && q.has('uploadId')) {
        uploads.get(q.get('uploadId')!)!.set(Number(q.get('partNumber')), body);
        res.writeHead(200, { etag: `"part-${q.get('partNumber')}"` });
        return void res.end();
      }
      if (req.method === 'POST' && q.has('uploadId')) {
        const parts = uploads.get(q.get('uploadId')!)!;
        if (quirks.completeErrorIn200) {
          // S3's documented 200-with-error, here with a trailing newline after </Error>.
          res.writeHead(200, { 'content-type': 'application/xml' });
          return void res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>\n');
        }
        objects.set(key, Buffer.concat([...parts.entries()].sort((a, b) => a[0] - b[0]).map(([, part]) => part)));
        uploads.delete(q.get('uploadId')!);
        return xml(res, 200, `<CompleteMultipartUploadResult><Bucket>${BUCKET}</Bucket><Key>${escapeXml(key)}</Key><ETag>"done"</ETag></CompleteMultipartUploadResult>`);
      }
      if (req.method === 'DELETE') {
        if (q.has('uploadId')) uploads.delete(q.get('uploadId')!);
        else objects.delete(key);
        return void res.writeHead(204).end();
      }
      if (req.method === 'PUT') {
        objects.set(key, body);
        res.writeHead(200, { etag: '"put"' });
        return void res.end();
      }
      const object = objects.get(key);
      if (object === undefined) {
        if (req.method === 'HEAD') return void res.writeHead(404).end(); // HEAD: no body, as S3 answers
        return xml(res, 404, `<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`);
      }
      if (req.method === 'HEAD') return void res.writeHead(200, { 'content-length': object.length }).end();
      const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      if (req.method === 'GET' && range) {
        const start = Number(range[1]);
        const end = Math.min(Number(range[2]), object.length - 1);
        if (quirks.range === 'no-content-range') {
          res.writeHead(206, { 'content-length': end - start + 1 });
          return void res.end(object.subarray(start, end + 1));
        }
        const sentEnd = quirks.range === 'short' ? start + Math.floor((end - start) / 2) : end;
        res.writeHead(206, { 'content-length': sentEnd - start + 1, 'content-range': `bytes ${start}-${sentEnd}/${object.length}` });
        return void res.end(object.subarray(start, sentEnd + 1));
      }
      res.writeHead(200, { 'content-length': object.length });
      res.end(object);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const fake: FakeS3 = {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    objects,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(fake);
  return fake;
}

function storeOn(fake: FakeS3, overrides: Partial<S3Settings> = {}): S3BlobStore {
  const store = new S3BlobStore({
    ...S3_DEFAULTS,
    endpoint: fake.endpoint,
    bucket: BUCKET,
    forcePathStyle: true,
    accessKeyId: 'AKIDEXAMPLE',
    secretAccessKey: 'not-a-secret',
    partSize: 5 * MiB,
    ...overrides,
  });
  stores.push(store);
  return store;
}

async function keys(iterable: AsyncIterable<BlobInfo>): Promise<string[]> {
  const out: string[] = [];
  for await (const info of iterable) out.push(info.key);
  return out;
}

const FIVE_KEYS = ['a/1', 'a/2', 'a/3', 'a/4', 'a/5'];

describe('listing a server whose truncated pages carry no usable continuation token', () => {
  it('lists every key when IsTruncated comes without NextContinuationToken (was: stopped after the first page)', async () => {
    const fake = await startFakeS3({ listing: 'no-token' });
    for (const key of FIVE_KEYS) fake.objects.set(key, Buffer.from(key));
    expect(await keys(storeOn(fake).list('a/'))).toEqual(FIVE_KEYS);
    expect(fake.requests.some((r) => r.includes('start-after=a%2F2'))).toBe(true);
  });

  it('lists every key when the server hands back the token it was just given', async () => {
    const fake = await startFakeS3({ listing: 'same-token' });
    for (const key of FIVE_KEYS) fake.objects.set(key, Buffer.from(key));
    expect(await keys(storeOn(fake).list(''))).toEqual(FIVE_KEYS);
  });

  it('fails, without repeating keys, when the server cannot be made to move on at all', async () => {
    const fake = await startFakeS3({ listing: 'no-token', ignoreStartAfter: true });
    for (const key of FIVE_KEYS) fake.objects.set(key, Buffer.from(key));
    const seen: string[] = [];
    const listing = (async () => {
      for await (const info of storeOn(fake).list('')) seen.push(info.key);
    })();
    await expect(listing).rejects.toThrow(BackendUnavailableError);
    await expect(listing).rejects.toThrow(/truncated but cannot be continued/);
    expect(seen).toEqual(['a/1', 'a/2']);
  });
});

describe('an upload the server calls complete but did not store', () => {
  it('rejects complete() when CompleteMultipartUpload answered 200 with an <Error> body and a trailing newline', async () => {
    // The SDK turns a 200 whose body ends in "</Error>" into an error; one more byte after it and the SDK reads a
    // success. HeadObject then finds nothing; that must not pass as "could not verify".
    const fake = await startFakeS3({ completeErrorIn200: true });
    const writer = storeOn(fake).createWriter('t/traces/one.otlpc');
    await writer.write(Buffer.alloc(6 * MiB, 7));
    const outcome = writer.complete();
    await expect(outcome).rejects.toThrow(BackendUnavailableError);
    await expect(outcome).rejects.toThrow(/reported the upload of t\/traces\/one\.otlpc complete, but HeadObject finds no object/);
    expect(fake.objects.size).toBe(0);
  });
});

describe('ranged reads from servers that answer a range in other ways', () => {
  const data = Buffer.from(Array.from({ length: 100 }, (_, i) => i));

  it('refuses a 206 without Content-Range instead of taking its body as starting at byte 0', async () => {
    const fake = await startFakeS3({ range: 'no-content-range' });
    fake.objects.set('k', data);
    // Before: the first 10 bytes of the body (bytes 40..49 of the object) were skipped as if they were bytes 0..9.
    await expect(storeOn(fake).readRange('k', 40, 20)).rejects.toThrow(/partial content but no usable Content-Range/);
  });

  it('calls a cut-short 206 a backend failure, not a range past the end of an object that is long enough', async () => {
    const fake = await startFakeS3({ range: 'short' });
    fake.objects.set('k', data);
    const read = storeOn(fake).readRange('k', 10, 20);
    await expect(read).rejects.toThrow(BackendUnavailableError);
    await expect(read).rejects.not.toThrow(NotFoundError);
  });

  it('still reads exact ranges and reports a range past the end as NotFoundError', async () => {
    const fake = await startFakeS3();
    fake.objects.set('k', data);
    const store = storeOn(fake);
    expect(await store.readRange('k', 40, 20)).toEqual(data.subarray(40, 60));
    await expect(store.readRange('k', 90, 20)).rejects.toThrow(NotFoundError);
  });
});

describe('a server that refuses the SDK default checksum headers', () => {
  it('names the setting that fixes it, and that setting makes uploads work', async () => {
    const fake = await startFakeS3({ refuseChecksumHeaders: true });
    const writer = storeOn(fake).createWriter('t/logs/one.otlpc');
    await writer.write(Buffer.alloc(6 * MiB, 1)).catch(() => undefined);
    const outcome = writer.complete();
    await expect(outcome).rejects.toThrow(/Unsupported header 'x-amz-(sdk-)?checksum/);
    await expect(outcome).rejects.toThrow(/S3_CHECKSUMS=when_required/);
    const fixed = storeOn(fake, { checksums: 'when_required' }).createWriter('t/logs/one.otlpc');
    await fixed.write(Buffer.alloc(6 * MiB, 1));
    expect(await fixed.complete()).toEqual({ size: 6 * MiB });
    expect(fake.objects.get('t/logs/one.otlpc')?.length).toBe(6 * MiB);
  });
});

describe('virtual-hosted addressing against a self-hosted endpoint', () => {
  it('says at start that the bucket went into the host name and that forcePathStyle fixes it', async () => {
    // s3rver's helper always sets forcePathStyle, so this never shows there. The endpoint itself answers; only
    // `<bucket>.localhost`, the host the SDK asks for without path style, does not resolve.
    const fake = await startFakeS3();
    const port = new URL(fake.endpoint).port;
    const resolves = await lookup(`${BUCKET}.localhost`).then(() => true, () => false);
    if (resolves) {
      // This machine's resolver maps *.localhost to loopback, so the SDK cannot meet ENOTFOUND here: check the message
      // the same failure gets.
      const notFound = Object.assign(new Error(`getaddrinfo ENOTFOUND ${BUCKET}.localhost`), { code: 'ENOTFOUND' });
      const settings = { ...S3_DEFAULTS, endpoint: `http://localhost:${port}`, bucket: BUCKET, forcePathStyle: false };
      expect(s3StartupError(settings, notFound).message).toMatch(/bucket is part of the host name.*S3_FORCE_PATH_STYLE=true/);
      return;
    }
    const start = storeOn(fake, { endpoint: `http://localhost:${port}`, forcePathStyle: false }).start();
    await expect(start).rejects.toThrow(BackendUnavailableError);
    await expect(start).rejects.toThrow(/S3_FORCE_PATH_STYLE=true/);
    await storeOn(fake, { endpoint: `http://localhost:${port}`, forcePathStyle: true }).start();
  });
});
