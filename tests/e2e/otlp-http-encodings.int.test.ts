// OTLP/HTTP content codings as the OpenTelemetry Collector's otlphttp exporter sends them, compressed by the same Go
// libraries (tests/helpers/go-encoder: klauspost/compress zstd, golang/snappy, compress/zlib), to a `serve` process:
// every request must be archived byte-identical to its uncompressed form, read back with the CLI. Bombs in the new
// codings are refused like a gzip bomb (413), and the server keeps serving.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { encodeSnappyFramed } from '../../src/compression/snappy-codec.js';
import { readArchive } from '../helpers/archive-reader.js';
import type { RequestView } from '../../src/query/request-view.js';
import { getBytes, listJson, allArchived } from '../helpers/capture-cli.js';
import { goEncode, type GoEncoding } from '../helpers/go-encoder.js';
import { decodeStatus, post } from '../helpers/otlp-http-client.js';
import { logsPayload, metricsPayload, payloadFor, traceRequestOfSize } from '../helpers/otlp-payloads.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';
import { zstdRleFrameWithoutSize } from '../helpers/zstd-bombs.js';

const PROTOBUF = { 'content-type': 'application/x-protobuf' };
const MIB = 2 ** 20;

/** Content-Encoding header → how the Collector's Go code compresses for it. */
const CASES: ReadonlyArray<[header: string, mode: GoEncoding, what: string]> = [
  ['zstd', 'zstd-http', 'confighttp zstd (klauspost streaming encoder)'],
  ['zstd', 'zstd-grpc', 'zstd with a 512 KiB window (configgrpc settings)'],
  ['snappy', 'snappy-block', 'snappy block (Collector v0.125+)'],
  ['snappy', 'snappy-framed', 'framed snappy under "snappy" (Collector before v0.125)'],
  ['x-snappy-framed', 'snappy-framed', 'x-snappy-framed'],
  ['deflate', 'zlib', 'deflate (zlib format)'],
  ['zlib', 'zlib', 'zlib'],
  ['gzip', 'gzip', 'gzip (Go)'],
];

let dir: string;
let server: ServerProcess;
let url: string;
const sent = new Map<string, Buffer>();

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-http-codings-'));
  const config = path.join(dir, 'config.yaml');
  writeFileSync(config, 'archiver:\n  maxObjectAge: 300ms\nserver:\n  http:\n    maxReceiveBytes: 4MiB\n');
  server = await startServer(['--config', config, '--data-dir', path.join(dir, 'data')]);
  url = `http://127.0.0.1:${server.httpPort}`;
}, 60_000);

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test.each(CASES)('Content-Encoding %s from Go %s (%s): 200', async (header, mode) => {
  const tenant = `${header}-${mode}`.replace(/[^a-z0-9-]/g, '-');
  // A large trace request (several zstd blocks, many snappy chunks), a logs and a metrics request.
  const requests: [string, Buffer][] = [
    ['traces', Buffer.from(traceRequestOfSize(1_500_000, sent.size + 11).proto)],
    ['logs', Buffer.from(logsPayload(sent.size + 12).proto)],
    ['metrics', Buffer.from(metricsPayload(sent.size + 13).proto)],
  ];
  for (const [signal, raw] of requests) {
    const body = goEncode(mode, raw);
    expect(body.equals(raw)).toBe(false);
    const reply = await post(`${url}/v1/${signal}`, body, { ...PROTOBUF, 'content-encoding': header, 'x-scope-orgid': tenant });
    expect([reply.status, reply.body.toString('hex')]).toEqual([200, '']);
    sent.set(`${tenant}/${signal}`, raw);
  }
});

test('every request is archived byte-identical to its uncompressed form (list and get as a user runs them)', async () => {
  const data = path.join(dir, 'data');
  const rows = await waitFor('all requests archived', async () => {
    const listed = await listJson(data);
    return allArchived(listed, sent.size) ? listed : undefined;
  });
  expect(rows).toHaveLength(sent.size);
  // Every request through the read path in-process (one CLI process per request takes minutes on a busy machine)...
  const archived = await readArchive(data);
  for (const { request, bytes } of archived) {
    const expected = sent.get(`${request.tenant}/${request.signal}`);
    expect(expected).toBeDefined();
    expect(bytes.equals(expected!)).toBe(true);
  }
  // ...and the traces request of each coding through `get`.
  for (const row of rows.filter((r) => r.signal === 'traces')) {
    expect((await getBytes(data, row.id)).equals(sent.get(`${row.tenant}/traces`)!)).toBe(true);
  }
}, 240_000);

test('bombs: a zstd frame expanding to 1 GiB and a framed snappy stream over the limit get 413 like a gzip bomb', async () => {
  const zstdBomb = zstdRleFrameWithoutSize(2 ** 30);
  const snappyBomb = encodeSnappyFramed(Buffer.alloc(16 * MIB));
  for (const [encoding, body] of [['zstd', zstdBomb], ['snappy', snappyBomb], ['x-snappy-framed', snappyBomb]] as const) {
    expect(body.length).toBeLessThan(4 * MIB);
    const reply = await post(`${url}/v1/traces`, body, { ...PROTOBUF, 'content-encoding': encoding });
    expect(reply.status).toBe(413);
    const status = decodeStatus(reply.body, 'protobuf');
    expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(status.message).toMatch(/larger than the limit of 4194304 bytes after decompression/);
  }
  // Still serving, and nothing of the bombs was stored.
  const after = await post(`${url}/v1/traces`, goEncode('zstd-http', uniqueTraceRequest(91)), { ...PROTOBUF, 'content-encoding': 'zstd' });
  expect(after.status).toBe(200);
});

test('400 for bodies that are not valid zstd or snappy; the message names the coding', async () => {
  const valid = goEncode('zstd-http', uniqueTraceRequest(92));
  for (const [encoding, body, message] of [
    ['zstd', Buffer.from('not zstd at all'), /not valid zstd data/],
    ['zstd', valid.subarray(0, valid.length - 5), /not valid zstd data/],
    ['snappy', Buffer.from([0x40, 0x00, 0x61]), /not valid snappy data/],
  ] as const) {
    const reply = await post(`${url}/v1/traces`, body, { ...PROTOBUF, 'content-encoding': encoding });
    expect(reply.status).toBe(400);
    const status = decodeStatus(reply.body, 'protobuf');
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.message).toMatch(message);
  }
});

test('a gzip or zstd protobuf body is stored as the client sent it; a JSON body (converted) or a deflate body never is', async () => {
  const data = path.join(dir, 'data');
  const raw = Buffer.from(traceRequestOfSize(700_000, 91).proto);
  const body = gzipSync(raw, { level: 6 });
  expect((await post(`${url}/v1/traces`, body, { ...PROTOBUF, 'content-encoding': 'gzip', 'x-scope-orgid': 'kept-gzip' })).status).toBe(200);
  const json = gzipSync(Buffer.from(JSON.stringify(payloadFor('traces', 92).json)));
  expect((await post(`${url}/v1/traces`, json, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'x-scope-orgid': 'json-gzip' })).status).toBe(200);
  // Archived, not only in the hot tier (which lists a request from the spool before its object seals).
  const archived = (listed: RequestView[], tenant: string): boolean => listed.some((r) => r.tenant === tenant && r.tier === 'archive');
  const rows = await waitFor('both archived', async () => {
    const listed = await listJson(data);
    return archived(listed, 'kept-gzip') && archived(listed, 'json-gzip') ? listed : undefined;
  });
  const kept = rows.find((r) => r.tenant === 'kept-gzip')!;
  expect([kept.codec, kept.length]).toEqual(['gzip', body.length]);
  expect(readFileSync(path.join(data, 'objects', kept.object)).subarray(kept.offset, kept.offset + kept.length).equals(body)).toBe(true);
  expect((await getBytes(data, kept.id)).equals(raw)).toBe(true);
  expect(rows.find((r) => r.tenant === 'json-gzip')!.codec).toBe('zstd');
  const codecOf = (tenant: string): string | undefined => rows.find((r) => r.tenant === tenant && r.signal === 'traces')?.codec;
  expect(codecOf('gzip-gzip')).toBe('gzip');
  expect(codecOf('deflate-zlib')).toBe('zstd');
  expect(codecOf('snappy-snappy-block')).toBe('zstd');
}, 120_000);
