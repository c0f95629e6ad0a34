// ListRequests over a retry storm's run of duplicates: one page reads a bounded number of index rows and answers a
// short page with a page token, instead of one call scanning the whole selection; following the tokens still shows
// every distinct request exactly once.
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_DIR } from '../../src/protos.js';
import { SqliteIndexStore } from '../../src/index/sqlite-index-store.js';
import type { ArchivedRequest, ObjectMeta } from '../../src/model.js';
import { requestFingerprint } from '../../src/util/fingerprint.js';
import { createUlidGenerator } from '../../src/util/ulid.js';
import { startCaptureInProcess, type InProcessCapture } from '../helpers/capture-in-process.js';

const CAPTURE = 'otlpcapture.v1.CaptureService';
const DUPLICATES = 12_000;

interface RequestsPage {
  requests: { id: string; duplicates: string }[];
  next_page_token: string;
}
type Stub = grpc.Client & { ListRequests(request: object, options: grpc.CallOptions, callback: (e: grpc.ServiceError | null, r: RequestsPage) => void): void };

let capture: InProcessCapture;
let client: Stub;
let distinctIds: string[];

function rows(key: string, payloads: Buffer[], startMs: number): { object: ObjectMeta; requests: ArchivedRequest[] } {
  const nextId = createUlidGenerator();
  const requests = payloads.map((bytes, i): ArchivedRequest => ({
    id: nextId(startMs + Math.floor(i / 100)),
    tenant: 'default',
    signal: 'traces',
    receivedAtMs: startMs + Math.floor(i / 100),
    items: 1,
    services: ['svc'],
    startNs: 1n,
    endNs: 2n,
    rawBytes: bytes.length,
    objectKey: key,
    offset: i * bytes.length,
    length: bytes.length,
    codec: 'none',
    crc32: 0,
    fingerprint: requestFingerprint(bytes),
  }));
  const object: ObjectMeta = {
    key, tenant: 'default', signal: 'traces', createdAtMs: startMs, sealedAtMs: startMs, requestCount: requests.length,
    rawBytes: payloads.reduce((n, p) => n + p.length, 0), storedBytes: 0, codec: 'none', startNs: 1n, endNs: 2n,
  };
  return { object, requests };
}

beforeAll(async () => {
  capture = await startCaptureInProcess();
  // The server's own index file: one object of a request, its 12,000 retried copies within the dedup window, and
  // one other request after them.
  const index = new SqliteIndexStore(path.join(capture.dataDir, 'index.sqlite'));
  await index.start();
  const startMs = Date.now() - 60_000;
  const storm = rows('default/traces/storm.otlpc', [...Array.from({ length: DUPLICATES + 1 }, () => Buffer.from('retried')), Buffer.from('other')], startMs);
  await index.commitObject(storm.object, storm.requests);
  await index.close();
  distinctIds = [storm.requests[0]!.id, storm.requests[DUPLICATES + 1]!.id];
  const definition = protoLoader.loadSync('otlpcapture/v1/capture.proto', { includeDirs: [PROTO_DIR], keepCase: true, longs: String, enums: String, defaults: true });
  const Client = grpc.makeGenericClientConstructor(definition[CAPTURE] as grpc.ServiceDefinition, CAPTURE);
  client = new Client(capture.apiAddress, grpc.credentials.createInsecure()) as unknown as Stub;
}, 60_000);

afterAll(async () => {
  client?.close();
  await capture?.dispose();
});

function listRequests(request: object): Promise<RequestsPage> {
  return new Promise((resolve, reject) =>
    client.ListRequests(request, { deadline: Date.now() + 20_000 }, (error, response) => (error ? reject(error) : resolve(response))),
  );
}

test('a page stops at its scan bound with a token; the tokens lead to every distinct request once', async () => {
  const first = await listRequests({ page_size: 10 });
  // 10,000 rows read: the first request and a run of its duplicates, then a token where the scan stopped.
  expect(first.requests.map((r) => r.id)).toEqual([distinctIds[0]]);
  expect(first.next_page_token).not.toBe('');
  const seen = [...first.requests.map((r) => r.id)];
  let token = first.next_page_token;
  let pages = 1;
  while (token !== '') {
    const page = await listRequests({ page_size: 10, page_token: token });
    seen.push(...page.requests.map((r) => r.id));
    token = page.next_page_token;
    expect(++pages).toBeLessThanOrEqual(3);
  }
  expect(seen).toEqual(distinctIds);
  // With duplicates shown, a page is full again.
  const all = await listRequests({ page_size: 1000, with_duplicates: true });
  expect(all.requests).toHaveLength(1000);
}, 60_000);
