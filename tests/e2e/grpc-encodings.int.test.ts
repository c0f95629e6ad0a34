// OTLP/gRPC message encodings as the OpenTelemetry Collector's otlp exporter sends them — from a real grpc-go client
// with the Collector's compressors (tests/helpers/grpc-go-client: grpc-go's gzip, klauspost/compress zstd with a
// 512 KiB window, golang/snappy's framed stream) — to a `serve` process: every request archived byte-identical to its
// uncompressed form (read back in-process and with `get`). Bombs in every coding are RESOURCE_EXHAUSTED like a gzip
// bomb, bytes that do not decompress INTERNAL, an unknown encoding UNIMPLEMENTED naming what is supported; nothing
// of them is stored and the server keeps serving.
import http2 from 'node:http2';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { encodeSnappyFramed } from '../../src/compression/snappy-codec.js';
import type { Signal } from '../../src/model.js';
import { readArchive } from '../helpers/archive-reader.js';
import { getBytes, listJson } from '../helpers/capture-cli.js';
import { goEncode } from '../helpers/go-encoder.js';
import { buildGrpcGoClient, grpcGoExport, type GrpcGoCompression } from '../helpers/grpc-go-client.js';
import { logsPayload, metricsPayload, traceRequestOfSize } from '../helpers/otlp-payloads.js';
import { EXPORT_TRACES_PATH, frame, grpcHeaders, rawCall } from '../helpers/raw-grpc-call.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';
import { zstdRleFrameWithoutSize } from '../helpers/zstd-bombs.js';

const MIB = 2 ** 20;
const LIMIT = 4 * MIB;
const COMPRESSIONS: GrpcGoCompression[] = ['none', 'gzip', 'zstd', 'snappy'];

let dir: string;
let server: ServerProcess;
let session: http2.ClientHttp2Session;
const sent = new Map<string, Buffer>();

beforeAll(async () => {
  buildGrpcGoClient();
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-grpc-codings-'));
  const config = path.join(dir, 'config.yaml');
  writeFileSync(config, `archiver:\n  maxObjectAge: 300ms\nserver:\n  grpc:\n    maxReceiveBytes: ${LIMIT}\n`);
  server = await startServer(['--config', config, '--data-dir', path.join(dir, 'data')]);
  session = http2.connect(`http://${server.grpcAddress}`).on('error', () => undefined);
}, 120_000);

afterAll(async () => {
  session?.destroy();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function rejected(reason: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`otlpcapture_requests_rejected_total{signal="traces",reason="${reason}"}`));
  return Number(line?.split(' ').pop() ?? NaN);
}

test.each(COMPRESSIONS)('grpc-go with grpc.UseCompressor(%s): traces, metrics and logs acknowledged', async (compression) => {
  const tenant = `go-${compression}`;
  // A large trace request (several zstd blocks, many snappy chunks), a logs and a metrics request.
  const requests: [Signal, Buffer][] = [
    ['traces', Buffer.from(traceRequestOfSize(1_500_000, sent.size + 21).proto)],
    ['logs', Buffer.from(logsPayload(sent.size + 22).proto)],
    ['metrics', Buffer.from(metricsPayload(sent.size + 23).proto)],
  ];
  for (const [signal, raw] of requests) {
    expect(await grpcGoExport(server.grpcAddress, signal, compression, [raw], tenant)).toEqual([{ code: grpc.status.OK, message: '' }]);
    sent.set(`${tenant}/${signal}`, raw);
  }
}, 60_000);

test('bombs from grpc-go (16 MiB of zeros, a few KiB on the wire) in gzip, zstd and snappy: RESOURCE_EXHAUSTED naming the limit', async () => {
  const before = await rejected('too_large');
  const zeros = Buffer.alloc(16 * MIB);
  for (const compression of ['gzip', 'zstd', 'snappy'] as const) {
    const [result] = await grpcGoExport(server.grpcAddress, 'traces', compression, [zeros]);
    expect(result?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(result?.message).toBe(`request message is larger than the limit of ${LIMIT} bytes after ${compression} decompression (server.grpc.maxReceiveBytes)`);
  }
  expect(await rejected('too_large')).toBe(before + 3);
}, 60_000);

test('a hand-built zstd frame expanding to 1 GiB (32 KiB on the wire) and a framed snappy bomb: RESOURCE_EXHAUSTED', async () => {
  for (const [encoding, body] of [['zstd', zstdRleFrameWithoutSize(2 ** 30)], ['snappy', encodeSnappyFramed(Buffer.alloc(16 * MIB))]] as const) {
    expect(body.length).toBeLessThan(LIMIT);
    const answer = await rawCall(session, grpcHeaders(EXPORT_TRACES_PATH, { 'grpc-encoding': encoding }), frame(body, true));
    expect(answer.grpcStatus).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(decodeURIComponent(answer.grpcMessage ?? '')).toMatch(new RegExp(`larger than the limit of ${LIMIT} bytes after ${encoding} decompression`));
  }
});

test('bytes that are not valid zstd or snappy: INTERNAL naming the coding; a raw snappy block is taken too', async () => {
  const valid = goEncode('zstd-grpc', uniqueTraceRequest(94));
  for (const [encoding, body] of [
    ['zstd', Buffer.from('not zstd at all')],
    ['zstd', valid.subarray(0, valid.length - 5)],
    ['snappy', Buffer.from([0x40, 0x00, 0x61])],
  ] as const) {
    const answer = await rawCall(session, grpcHeaders(EXPORT_TRACES_PATH, { 'grpc-encoding': encoding }), frame(body, true));
    expect(answer.grpcStatus).toBe(grpc.status.INTERNAL);
    expect(decodeURIComponent(answer.grpcMessage ?? '')).toMatch(new RegExp(`^cannot decompress the ${encoding} request message: `));
  }
  const raw = uniqueTraceRequest(95);
  const block = await rawCall(session, grpcHeaders(EXPORT_TRACES_PATH, { 'grpc-encoding': 'snappy', 'x-scope-orgid': 'raw-snappy-block' }), frame(goEncode('snappy-block', raw), true));
  expect(block.grpcStatus).toBe(grpc.status.OK);
  sent.set('raw-snappy-block/traces', raw);
});

test('an unknown grpc-encoding: UNIMPLEMENTED, and grpc-accept-encoding lists what is decoded', async () => {
  const answer = await rawCall(session, grpcHeaders(EXPORT_TRACES_PATH, { 'grpc-encoding': 'lz4' }), frame(Buffer.from('whatever'), true));
  expect(answer.grpcStatus).toBe(grpc.status.UNIMPLEMENTED);
  expect(answer.headers['grpc-accept-encoding']).toBe('identity,gzip,deflate,zstd,snappy');
  expect(decodeURIComponent(answer.grpcMessage ?? '')).toBe('grpc-encoding "lz4" is not supported: use one of identity,gzip,deflate,zstd,snappy');
});

test('every acknowledged request is archived byte-identical to its uncompressed form; nothing else is', async () => {
  const data = path.join(dir, 'data');
  const rows = await waitFor('all requests archived', async () => {
    const listed = await listJson(data);
    return listed.length >= sent.size ? listed : undefined;
  }, 60_000);
  expect(rows).toHaveLength(sent.size);
  const archived = await readArchive(data);
  expect(archived).toHaveLength(sent.size);
  for (const { request, bytes } of archived) {
    const expected = sent.get(`${request.tenant}/${request.signal}`);
    expect(expected).toBeDefined();
    expect(bytes.equals(expected!)).toBe(true);
  }
  // The zstd and snappy traces through `get`, as a user runs it.
  for (const row of rows.filter((r) => r.signal === 'traces' && (r.tenant === 'go-zstd' || r.tenant === 'go-snappy'))) {
    expect((await getBytes(data, row.id)).equals(sent.get(`${row.tenant}/traces`)!)).toBe(true);
  }
}, 240_000);

test('a gzip or zstd body that can stand as a block is stored exactly as the client sent it; others are compressed here', async () => {
  const data = path.join(dir, 'data');
  // By hand, so that the bytes on the wire are known: the object must hold exactly them as the request's block.
  const raw = Buffer.from(traceRequestOfSize(700_000, 77).proto);
  const body = gzipSync(raw, { level: 6 });
  const answer = await rawCall(session, grpcHeaders(EXPORT_TRACES_PATH, { 'grpc-encoding': 'gzip', 'x-scope-orgid': 'kept-gzip' }), frame(body, true));
  expect(answer.grpcStatus).toBe(grpc.status.OK);
  sent.set('kept-gzip/traces', raw);
  const rows = await waitFor('the hand-sent request archived', async () => {
    const listed = await listJson(data);
    // Archived, not only in the hot tier (which lists a request from the spool before its object seals).
    return listed.some((r) => r.tenant === 'kept-gzip' && r.tier === 'archive') ? listed : undefined;
  }, 60_000);
  const kept = rows.find((r) => r.tenant === 'kept-gzip')!;
  expect(kept.codec).toBe('gzip');
  expect(kept.length).toBe(body.length);
  const objectFile = path.join(data, 'objects', kept.object);
  expect(readFileSync(objectFile).subarray(kept.offset, kept.offset + kept.length).equals(body)).toBe(true);
  expect((await getBytes(data, kept.id)).equals(raw)).toBe(true);
  // The archive codec is zstd (level 1): a gzip block can only be grpc-go's own member, and the Collector's zstd frames
  // (klauspost, level 3) are kept too; the uncompressed and the snappy requests were compressed here (zstd).
  const codecOf = (tenant: string): string | undefined => rows.find((r) => r.tenant === tenant && r.signal === 'traces')?.codec;
  expect(codecOf('go-gzip')).toBe('gzip');
  expect(codecOf('go-zstd')).toBe('zstd');
  expect(codecOf('go-none')).toBe('zstd');
  expect(codecOf('go-snappy')).toBe('zstd');
  const metrics = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
  const keptGzip = metrics.split('\n').find((l) => l.startsWith('otlpcapture_archive_client_blocks_total{signal="traces",codec="gzip"}'));
  expect(Number(keptGzip?.split(' ').pop())).toBeGreaterThanOrEqual(2);
}, 120_000);
