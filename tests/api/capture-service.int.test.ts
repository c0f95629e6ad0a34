// otlpcapture.v1.CaptureService over a real gRPC connection to an in-process CaptureServer's API listener: requests of
// several signals, tenants and services go in through OTLP Export (the ingest listener), and come back listed (with
// every filter, paged) and fetched (exact bytes, or OTLP JSON), with clear errors for what cannot be answered.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { CaptureServer } from '../../src/app/capture-server.js';
import { loadConfig } from '../../src/config/load.js';
import type { Signal } from '../../src/model.js';
import { toOtlpJson } from '../../src/otlp/json.js';
import { scanRequest } from '../../src/otlp/scanner.js';
import { PROTO_DIR } from '../../src/protos.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { logsPayload, metricsPayload } from '../helpers/otlp-payloads.js';
import { RawOtlpClient } from '../helpers/raw-otlp-client.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';
import { LOOPBACK_LISTENERS } from '../helpers/loopback-listeners.js';

interface Timestamp {
  seconds: string;
  nanos: number;
}

interface CapturedRequest {
  id: string;
  signal: string;
  tenant: string;
  receivedAt: Timestamp;
  items: string;
  services: string[];
  startTime: Timestamp;
  endTime: Timestamp;
  bytes: string;
  objectKey: string;
  offset: string;
  length: string;
  codec: string;
}

interface ListRequest {
  signal?: string;
  service?: string;
  tenant?: string;
  since?: Timestamp;
  until?: Timestamp;
  pageSize?: number;
  pageToken?: string;
  newestFirst?: boolean;
}

interface ListResponse {
  requests: CapturedRequest[];
  nextPageToken: string;
}

interface GetResponse {
  request: CapturedRequest;
  payload?: Buffer;
  json?: string;
  body?: string;
}

type Unary<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  callback: (error: grpc.ServiceError | null, response?: Res) => void,
) => void;

type CaptureClient = grpc.Client & {
  ListRequests: Unary<ListRequest, ListResponse>;
  GetRequest: Unary<{ id: string; format?: string }, GetResponse>;
};

interface Sent {
  signal: Signal;
  tenant: string;
  bytes: Buffer;
  /** Filled once archived: the id the server gave it. */
  id?: string;
}

const TENANT_HEADER = 'x-scope-orgid';
const TRACE_EPOCH_NS = BigInt(Date.UTC(2026, 0, 1)) * 1_000_000n; // uniqueTraceRequest(n) starts at + n µs

let dir: string;
let server: CaptureServer;
let client: CaptureClient;
const sent: Sent[] = [];

function call<Req, Res>(method: Unary<Req, Res>, request: Req, tenant?: string): Promise<Res> {
  const metadata = new grpc.Metadata();
  if (tenant !== undefined) metadata.set(TENANT_HEADER, tenant);
  return new Promise((resolve, reject) =>
    method.call(client, request, metadata, (error, response) => (error ? reject(error) : resolve(response!))),
  );
}

const list = (request: ListRequest, tenant?: string): Promise<ListResponse> => call(client.ListRequests, request, tenant);
const get = (id: string, format?: string, tenant?: string): Promise<GetResponse> =>
  call(client.GetRequest, { id, ...(format ? { format } : {}) }, tenant);

/** Every page until the token runs out; fails on a repeated id or a page over the size. */
async function listAll(request: ListRequest, tenant?: string): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let pageToken = '';
  let pages = 0;
  do {
    const response = await list({ ...request, pageToken }, tenant);
    pages += 1;
    if (request.pageSize) expect(response.requests.length).toBeLessThanOrEqual(request.pageSize);
    ids.push(...response.requests.map((r) => r.id));
    pageToken = response.nextPageToken;
    if (pages > 1000) throw new Error('paging does not end');
  } while (pageToken !== '');
  return { ids, pages };
}

async function rejection(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as grpc.ServiceError;
  }
  throw new Error('the call succeeded');
}

function timestamp(ns: bigint): Timestamp {
  return { seconds: (ns / 1_000_000_000n).toString(), nanos: Number(ns % 1_000_000_000n) };
}

function ns(value: Timestamp): bigint {
  return BigInt(value.seconds) * 1_000_000_000n + BigInt(value.nanos);
}

const idsOf = (items: Sent[]): string[] => items.map((s) => s.id!).sort();

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capture-service-'));
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: path.join(dir, 'data'),
      ...LOOPBACK_LISTENERS,
      'archiver.maxObjectAge': '200ms',
      'spool.durability': 'none',
      'log.level': 'silent',
    },
  });
  server = new CaptureServer(config, silentLogger());
  const ports = await server.start();
  const address = `127.0.0.1:${ports.grpc}`;
  const apiAddress = `127.0.0.1:${ports.api}`;

  const add = (signal: Signal, tenant: string, bytes: Uint8Array): void => {
    sent.push({ signal, tenant, bytes: Buffer.from(bytes) });
  };
  for (let n = 0; n < 5; n++) add('traces', 'alpha', uniqueTraceRequest(n, 200, 'svc-a'));
  for (let n = 5; n < 8; n++) add('traces', 'alpha', uniqueTraceRequest(n, 200, 'svc-b'));
  add('logs', 'alpha', logsPayload(1, 5).proto);
  add('metrics', 'alpha', metricsPayload(2).proto);
  for (let n = 10; n < 13; n++) add('traces', 'beta', uniqueTraceRequest(n, 200, 'svc-a'));
  add('logs', 'beta', logsPayload(3, 4).proto);
  for (let n = 20; n < 22; n++) add('traces', 'default', uniqueTraceRequest(n, 200, 'svc-c'));
  add('metrics', 'default', metricsPayload(4).proto);

  const otlp = new RawOtlpClient(address, { compression: 'gzip' });
  for (const item of sent) {
    const headers: Record<string, string> = item.tenant === 'default' ? {} : { [TENANT_HEADER]: item.tenant };
    expect(await otlp.export(item.signal, item.bytes, headers)).toEqual({ ok: true });
  }
  otlp.close();

  const definition = protoLoader.loadSync('otlpcapture/v1/capture.proto', {
    includeDirs: [PROTO_DIR],
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const Client = grpc.makeGenericClientConstructor(
    definition['otlpcapture.v1.CaptureService'] as grpc.ServiceDefinition,
    'CaptureService',
  );
  client = new Client(apiAddress, grpc.credentials.createInsecure()) as unknown as CaptureClient;

  const all = await waitFor('every request archived', async () => {
    const response = await list({ pageSize: 1000 });
    // Listed from the acknowledgement on (hot tier); archived once every row says so.
    return response.requests.length >= sent.length && response.requests.every((r) => (r as { tier?: string }).tier === 'TIER_ARCHIVE')
      ? response.requests
      : undefined;
  });
  expect(all).toHaveLength(sent.length);
  // Tell the requests apart by their bytes: each sent one is stored exactly once.
  const byBytes = new Map(sent.map((item) => [item.bytes.toString('base64'), item]));
  for (const row of all) {
    const { payload } = await get(row.id, 'FORMAT_PROTO');
    const item = byBytes.get(payload!.toString('base64'));
    expect(item).toBeDefined();
    expect(item!.id).toBeUndefined();
    item!.id = row.id;
  }
}, 60_000);

afterAll(async () => {
  client?.close();
  const stopped = await server?.stop(10_000);
  expect(stopped).toEqual({ drained: true });
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('ListRequests', () => {
  test('with no filter: every request once, in id order, with what the scanner finds in it', async () => {
    const { requests } = await list({});
    expect(requests.map((r) => r.id)).toEqual(idsOf(sent));
    for (const item of sent) {
      const row = requests.find((r) => r.id === item.id)!;
      const scan = scanRequest(item.signal, item.bytes);
      expect(row).toMatchObject({
        signal: `SIGNAL_${item.signal.toUpperCase()}`,
        tenant: item.tenant,
        items: String(scan.items),
        services: scan.services,
        bytes: String(item.bytes.length),
      });
      // Sent gzip-compressed: the archive codec, or the client's gzip member kept as the block (archiver.keepClientBlocks).
      expect(['zstd', 'gzip']).toContain(row.codec);
      expect(ns(row.startTime)).toBe(scan.startNs);
      expect(ns(row.endTime)).toBe(scan.endNs);
      expect(row.objectKey).toMatch(new RegExp(`^${item.tenant}/${item.signal}/\\d{4}/\\d{2}/\\d{2}/\\d{2}/[0-9A-Z]{26}\\.otlpc$`));
      expect(Number(row.length)).toBeGreaterThan(0);
      const receivedMs = Number(ns(row.receivedAt) / 1_000_000n);
      expect(Math.abs(Date.now() - receivedMs)).toBeLessThan(5 * 60_000);
    }
  });

  test('paging through page_token returns every request exactly once, in id order', async () => {
    for (const pageSize of [1, 4, 5, sent.length, sent.length + 1]) {
      const { ids, pages } = await listAll({ pageSize });
      expect(ids).toEqual(idsOf(sent));
      expect(pages).toBe(Math.max(1, Math.ceil(sent.length / pageSize)));
    }
    // An exact multiple of the page size does not end in an empty page.
    const first = await list({ pageSize: sent.length });
    expect(first.nextPageToken).toBe('');
  });

  test('paging combines with filters', async () => {
    const alphaTraces = sent.filter((s) => s.tenant === 'alpha' && s.signal === 'traces');
    const { ids } = await listAll({ tenant: 'alpha', signal: 'SIGNAL_TRACES', pageSize: 3 });
    expect(ids).toEqual(idsOf(alphaTraces));
    const svcA = sent.filter((s) => s.signal === 'traces' && scanRequest('traces', s.bytes).services.includes('svc-a'));
    expect(svcA).toHaveLength(8);
    expect((await listAll({ service: 'svc-a', pageSize: 2 })).ids).toEqual(idsOf(svcA));
  });

  test.each([
    ['SIGNAL_TRACES', 'traces'],
    ['SIGNAL_METRICS', 'metrics'],
    ['SIGNAL_LOGS', 'logs'],
  ] as const)('signal %s', async (signal, name) => {
    const { requests } = await list({ signal });
    expect(requests.map((r) => r.id)).toEqual(idsOf(sent.filter((s) => s.signal === name)));
    expect(requests.length).toBeGreaterThan(0);
  });

  test('a signal this server does not know (a newer client\'s enum value) is INVALID_ARGUMENT, not an internal error', async () => {
    const error = await rejection(list({ signal: 4 as unknown as string }));
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.details).toMatch(/unknown signal 4/);
  });

  test('SIGNAL_UNSPECIFIED means every signal', async () => {
    expect((await list({ signal: 'SIGNAL_UNSPECIFIED' })).requests).toHaveLength(sent.length);
  });

  test('service', async () => {
    const services = new Set(sent.flatMap((s) => scanRequest(s.signal, s.bytes).services));
    expect(services.size).toBeGreaterThan(3);
    for (const service of services) {
      const expected = sent.filter((s) => scanRequest(s.signal, s.bytes).services.includes(service));
      expect((await list({ service })).requests.map((r) => r.id)).toEqual(idsOf(expected));
    }
    expect((await list({ service: 'svc-b' })).requests).toHaveLength(3);
    expect((await list({ service: 'no-such-service' })).requests).toEqual([]);
  });

  test('tenant: by the field, by the x-scope-orgid header, or both when they agree', async () => {
    for (const tenant of ['alpha', 'beta', 'default']) {
      const expected = idsOf(sent.filter((s) => s.tenant === tenant));
      expect((await list({ tenant })).requests.map((r) => r.id)).toEqual(expected);
      expect((await list({}, tenant)).requests.map((r) => r.id)).toEqual(expected);
      expect((await list({ tenant }, tenant)).requests.map((r) => r.id)).toEqual(expected);
    }
    expect((await list({ tenant: 'nobody' })).requests).toEqual([]);
  });

  test('a tenant field naming another tenant than the header is refused, not a way around the header', async () => {
    const error = await rejection(list({ tenant: 'beta' }, 'alpha'));
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.details).toMatch(/tenant "beta" differs from the caller's tenant "alpha" \(header x-scope-orgid\)/);
  });

  test('an invalid tenant, in the field or the header, is INVALID_ARGUMENT saying what is allowed', async () => {
    for (const [field, header] of [['../etc', undefined], [undefined, '%2e%2e']] as const) {
      const error = await rejection(list(field ? { tenant: field } : {}, header));
      expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(error.details).toMatch(/invalid tenant/);
      expect(error.details).toMatch(/A-Z a-z 0-9 \. _ -/);
    }
  });

  test('since / until select requests whose data time range overlaps [since, until], to the nanosecond', async () => {
    const scans = new Map(sent.map((s) => [s, scanRequest(s.signal, s.bytes)]));
    const expectWindow = async (since: bigint | undefined, until: bigint | undefined): Promise<string[]> => {
      const expected = sent.filter((s) => {
        const scan = scans.get(s)!;
        return (since === undefined || scan.endNs! >= since) && (until === undefined || scan.startNs! <= until);
      });
      const request: ListRequest = {};
      if (since !== undefined) request.since = timestamp(since);
      if (until !== undefined) request.until = timestamp(until);
      const ids = (await list(request)).requests.map((r) => r.id);
      expect(ids).toEqual(idsOf(expected));
      return ids;
    };
    const trace = (n: number): Sent => sent.find((s) => s.signal === 'traces' && scanRequest('traces', s.bytes).startNs === TRACE_EPOCH_NS + BigInt(n) * 1000n)!;

    // The OTLP payload generators use 2023 timestamps, the small trace requests 2026.
    const in2026 = await expectWindow(TRACE_EPOCH_NS - 1_000_000_000n, undefined);
    expect(in2026).toHaveLength(13);
    const before2024 = await expectWindow(undefined, BigInt(Date.UTC(2024, 0, 1)) * 1_000_000n);
    expect(before2024).toHaveLength(4);

    // A single instant: trace 21 starts 1 ns later and is out; trace 20 starts exactly then and is in.
    const instant = TRACE_EPOCH_NS + 21_000n - 1n;
    const atInstant = await expectWindow(instant, instant);
    expect(atInstant).toContain(trace(20).id);
    expect(atInstant).not.toContain(trace(21).id);
    expect(await expectWindow(instant + 1n, instant + 1n)).toContain(trace(21).id);
    // Trace 0 ends at +5 ms exactly: in for since = that instant, out 1 ns after.
    const end0 = TRACE_EPOCH_NS + 5_000_000n;
    expect(await expectWindow(end0, undefined)).toContain(trace(0).id);
    expect(await expectWindow(end0 + 1n, undefined)).not.toContain(trace(0).id);
    // Nothing in a window before any data.
    expect(await expectWindow(0n, 1_000_000_000n)).toEqual([]);
  });

  test('a page token this server did not issue is INVALID_ARGUMENT', async () => {
    for (const pageToken of ['garbage!!', Buffer.from('not-a-ulid').toString('base64url'), 'AAAA']) {
      const error = await rejection(list({ pageToken }));
      expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(error.details).toMatch(/is not a listing cursor/);
    }
    // A real token, but of another selection: refused rather than paging through something else.
    const first = await list({ pageSize: 1, tenant: 'alpha' });
    expect(first.nextPageToken).not.toBe('');
    const error = await rejection(list({ pageSize: 1, tenant: 'beta', pageToken: first.nextPageToken }));
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.details).toMatch(/continues a listing with other filters/);
  });

  test('newest_first pages from the newest request back, and its tokens keep that order', async () => {
    for (const pageSize of [1, 3, sent.length]) {
      const { ids } = await listAll({ pageSize, newestFirst: true });
      expect(ids).toEqual(idsOf(sent).reverse());
    }
    const first = await list({ pageSize: 2, newestFirst: true });
    // The token carries the order: the next page continues newest first without asking again.
    const second = await list({ pageSize: 2, pageToken: first.nextPageToken });
    expect([...first.requests, ...second.requests].map((r) => r.id)).toEqual(idsOf(sent).reverse().slice(0, 4));
  });

  test('page_size 0 means the default page (100), and more than the maximum is capped, not refused', async () => {
    expect((await list({ pageSize: 0 })).requests).toHaveLength(sent.length);
    expect((await list({ pageSize: 1_000_000 })).requests).toHaveLength(sent.length);
  });
});

describe('GetRequest', () => {
  test('FORMAT_PROTO (and FORMAT_UNSPECIFIED) return exactly the bytes the client sent, with the request row', async () => {
    const { requests } = await list({});
    for (const item of sent) {
      for (const format of ['FORMAT_PROTO', 'FORMAT_UNSPECIFIED', undefined]) {
        const response = await get(item.id!, format);
        expect(response.body).toBe('payload');
        expect(response.payload!.equals(item.bytes)).toBe(true);
        expect(response.request).toEqual(requests.find((r) => r.id === item.id));
      }
    }
  });

  test('FORMAT_JSON returns the OTLP JSON of the sent bytes', async () => {
    for (const item of sent) {
      const response = await get(item.id!, 'FORMAT_JSON');
      expect(response.body).toBe('json');
      expect(JSON.parse(response.json!)).toEqual(toOtlpJson(item.signal, item.bytes));
      expect(response.request.id).toBe(item.id);
    }
    // Spot check against the spec, not only against our own converter: hex ids, lowerCamelCase, string int64.
    const trace = sent.find((s) => s.signal === 'traces')!;
    const json = JSON.parse((await get(trace.id!, 'FORMAT_JSON')).json!);
    const span = json.resourceSpans[0].scopeSpans[0].spans[0];
    expect(span.traceId).toMatch(/^00c0ffee0{16}[0-9a-f]{8}$/);
    expect(span.startTimeUnixNano).toMatch(/^\d+$/);
  });

  test('an unknown id is NOT_FOUND, naming the id', async () => {
    for (const id of ['01ARZ3NDEKTSV4RRFFQ69G5FAV', 'no-such-request']) {
      const error = await rejection(get(id, 'FORMAT_PROTO'));
      expect(error.code).toBe(grpc.status.NOT_FOUND);
      expect(error.details).toBe(`no captured request with id ${JSON.stringify(id)}`);
    }
  });

  test('a format this server does not know is INVALID_ARGUMENT, not silently the protobuf bytes', async () => {
    const error = await rejection(get(sent[0]!.id!, 7 as unknown as string));
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.details).toMatch(/unknown format 7/);
  });

  test('an empty id is INVALID_ARGUMENT', async () => {
    const error = await rejection(get(''));
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.details).toBe('id is required');
  });

  test("another tenant's request is NOT_FOUND for a caller with a tenant header; found by its own tenant", async () => {
    const alpha = sent.find((s) => s.tenant === 'alpha')!;
    const asBeta = await rejection(get(alpha.id!, 'FORMAT_PROTO', 'beta'));
    expect(asBeta.code).toBe(grpc.status.NOT_FOUND);
    expect(asBeta.details).toBe(`no captured request with id ${JSON.stringify(alpha.id)}`); // no hint that it exists
    expect((await get(alpha.id!, 'FORMAT_PROTO', 'alpha')).payload!.equals(alpha.bytes)).toBe(true);
    const defaultOne = sent.find((s) => s.tenant === 'default')!;
    expect((await rejection(get(defaultOne.id!, 'FORMAT_JSON', 'alpha'))).code).toBe(grpc.status.NOT_FOUND);
    expect((await get(defaultOne.id!, 'FORMAT_JSON', 'default')).request.tenant).toBe('default');
  });
});
