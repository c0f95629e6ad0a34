// CaptureService against gRPC conventions, as generated clients and grpcurl see it: status messages stay small
// whatever the caller sent (a huge id once wedged the caller's whole connection), page tokens of ListObjects and
// ListRequests are checked and refused naming page_token, out-of-range Timestamps and tenant fields are
// INVALID_ARGUMENT naming their field, and a Replay header's value (the target's credentials) never comes back in
// an error.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_DIR } from '../../src/protos.js';
import { MAX_DETAILS_BYTES } from '../../src/grpc/status-details.js';
import { grpcExport } from '../helpers/grpc-calls.js';
import { logsPayload } from '../helpers/otlp-payloads.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';
import { startCaptureInProcess, type InProcessCapture } from '../helpers/capture-in-process.js';

const insecure = grpc.credentials.createInsecure();
const CAPTURE = 'otlpcapture.v1.CaptureService';
const TENANT_HEADER = 'x-scope-orgid';

type Callback = (error: grpc.ServiceError | null, response: unknown) => void;
type CaptureStub = grpc.Client & Record<string, (request: object, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback) => void> & {
  Replay(request: object, metadata: grpc.Metadata, options: grpc.CallOptions): grpc.ClientReadableStream<unknown>;
  Tail(request: object, metadata: grpc.Metadata, options: grpc.CallOptions): grpc.ClientReadableStream<unknown>;
};

interface ObjectsPage {
  objects: { key: string; tenant: string; signal: string }[];
  next_page_token: string;
}
interface RequestsPage {
  requests: { id: string }[];
  next_page_token: string;
}

let capture: InProcessCapture;
let client: CaptureStub;

/** One unary call on the shared client (one connection), with a deadline so a wedged call fails instead of hanging. */
function call<T>(method: string, request: object, tenant?: string): Promise<{ error: grpc.ServiceError | null; response: T }> {
  const metadata = new grpc.Metadata();
  if (tenant !== undefined) metadata.set(TENANT_HEADER, tenant);
  return new Promise((resolve) =>
    client[method]!.call(client, request, metadata, { deadline: Date.now() + 3000 }, (error, response) => resolve({ error, response: response as T })),
  );
}

async function refusal(method: string, request: object, tenant?: string): Promise<grpc.ServiceError> {
  const { error } = await call(method, request, tenant);
  if (!error) throw new Error(`${method} succeeded`);
  return error;
}

beforeAll(async () => {
  capture = await startCaptureInProcess({ 'archiver.maxObjectAge': '200ms' });
  const { grpcAddress } = capture;
  // Several objects: two tenants, two signals.
  for (let n = 0; n < 3; n++) expect(await grpcExport(grpcAddress, insecure, uniqueTraceRequest(n, 50), { [TENANT_HEADER]: 'alpha' })).toEqual({ ok: true });
  expect(await grpcExport(grpcAddress, insecure, Buffer.from(logsPayload(1, 3).proto), { [TENANT_HEADER]: 'alpha' }, 'logs')).toEqual({ ok: true });
  for (let n = 3; n < 5; n++) expect(await grpcExport(grpcAddress, insecure, uniqueTraceRequest(n, 50), { [TENANT_HEADER]: 'beta' })).toEqual({ ok: true });

  const definition = protoLoader.loadSync('otlpcapture/v1/capture.proto', { includeDirs: [PROTO_DIR], keepCase: true, longs: String, enums: String, defaults: true });
  const Client = grpc.makeGenericClientConstructor(definition[CAPTURE] as grpc.ServiceDefinition, CAPTURE);
  client = new Client(capture.apiAddress, insecure) as unknown as CaptureStub;
  await waitFor('every request archived, in three objects at least', async () => {
    const objects = await call<ObjectsPage>('ListObjects', {});
    const requests = await call<{ requests: { tier: string }[] }>('ListRequests', {});
    return (objects.response?.objects.length ?? 0) >= 3 &&
      requests.response?.requests.length === 6 &&
      requests.response.requests.every((r) => r.tier === 'TIER_ARCHIVE')
      ? true
      : undefined;
  });
}, 30_000);

afterAll(async () => {
  client?.close();
  await capture?.dispose();
});

test('a huge id is NOT_FOUND with a bounded message, and the same connection goes on serving', async () => {
  const error = await refusal('GetRequest', { id: 'x'.repeat(100_000) });
  expect(error.code).toBe(grpc.status.NOT_FOUND);
  expect(Buffer.byteLength(error.details)).toBeLessThanOrEqual(MAX_DETAILS_BYTES);
  expect(error.details).toMatch(/^no captured request with id "xxx.*…$/);
  // Multi-byte text is cut on a character, not inside one.
  const wide = await refusal('GetRequest', { id: '€'.repeat(5000) });
  expect(wide.code).toBe(grpc.status.NOT_FOUND);
  expect(Buffer.byteLength(wide.details)).toBeLessThanOrEqual(MAX_DETAILS_BYTES);
  expect(wide.details).not.toContain('\uFFFD');
  const after = await call<RequestsPage>('ListRequests', { page_size: 1 });
  expect(after.error).toBeNull();
  expect(after.response.requests).toHaveLength(1);
});

test('ListObjects: following next_page_token lists every object once; a tampered token is INVALID_ARGUMENT naming page_token', async () => {
  const keys: string[] = [];
  let token = '';
  do {
    const { error, response } = await call<ObjectsPage>('ListObjects', { page_size: 1, page_token: token });
    expect(error).toBeNull();
    keys.push(...response.objects.map((o) => o.key));
    token = response.next_page_token;
  } while (token !== '' && keys.length < 100);
  const all = (await call<ObjectsPage>('ListObjects', { page_size: 1000 })).response.objects.map((o) => o.key);
  expect(keys).toEqual(all);

  const first = (await call<ObjectsPage>('ListObjects', { page_size: 1 })).response;
  const valid = first.next_page_token;
  // One character changed in what carries the listing's digest (the start of the token).
  const flipped = valid.slice(0, 5) + (valid[5] === 'A' ? 'B' : 'A') + valid.slice(6);
  for (const page_token of ['garbage!!', 'AAAA', Buffer.from(first.objects[0]!.key).toString('base64url'), flipped]) {
    const error = await refusal('ListObjects', { page_size: 1, page_token });
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.details).toMatch(/page_token/);
  }
});

test("ListObjects: a token of another listing — other signal, or another tenant's — is refused, not paged through", async () => {
  const traces = (await call<ObjectsPage>('ListObjects', { page_size: 1, signal: 'SIGNAL_TRACES' })).response;
  expect(traces.next_page_token).not.toBe('');
  const otherSignal = await refusal('ListObjects', { page_size: 1, signal: 'SIGNAL_LOGS', page_token: traces.next_page_token });
  expect(otherSignal.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(otherSignal.details).toMatch(/page_token continues a listing with other filters/);

  const alpha = (await call<ObjectsPage>('ListObjects', { page_size: 1 }, 'alpha')).response;
  expect(alpha.next_page_token).not.toBe('');
  const asBeta = await refusal('ListObjects', { page_size: 1, page_token: alpha.next_page_token }, 'beta');
  expect(asBeta.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(asBeta.details).toMatch(/page_token/);
  // The same token with its own listing goes on.
  const next = await call<ObjectsPage>('ListObjects', { page_size: 1, page_token: alpha.next_page_token }, 'alpha');
  expect(next.error).toBeNull();
  expect(next.response.objects.every((o) => o.tenant === 'alpha')).toBe(true);
});

test('ListRequests: a bad page_token is INVALID_ARGUMENT naming page_token, in request fields rather than CLI flags', async () => {
  const tampered = await refusal('ListRequests', { page_token: 'garbage!!' });
  expect(tampered.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(tampered.details).toMatch(/^page_token: .*is not a listing cursor/);

  const first = (await call<RequestsPage>('ListRequests', { page_size: 1 }, 'alpha')).response;
  const otherTenant = await refusal('ListRequests', { page_size: 1, page_token: first.next_page_token }, 'beta');
  expect(otherTenant.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(otherTenant.details).toMatch(/^page_token: .*continues a listing with other filters/);
  expect(otherTenant.details).not.toMatch(/--/);

  // An oldest-first token asked to go on newest first.
  const order = await refusal('ListRequests', { page_size: 1, newest_first: true, page_token: first.next_page_token }, 'alpha');
  expect(order.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(order.details).toMatch(/page_token/);
  expect(order.details).toMatch(/newest_first/);
});

test('Timestamps outside google.protobuf.Timestamp (nanos beyond 0..999999999, years past 9999) are INVALID_ARGUMENT naming the field', async () => {
  const nanos = await refusal('ListRequests', { since: { seconds: '10', nanos: 2_000_000_000 } });
  expect(nanos.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(nanos.details).toMatch(/^since: nanos/);
  const negative = await refusal('ListRequests', { until: { seconds: '10', nanos: -1 } });
  expect(negative.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(negative.details).toMatch(/^until: nanos/);
  const far = await refusal('ListRequests', { until: { seconds: '999999999999', nanos: 0 } });
  expect(far.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(far.details).toMatch(/^until: seconds/);
  // Tail's since too: refused at once rather than followed from a shifted time.
  const tail = await new Promise<grpc.ServiceError | null>((resolve) => {
    const stream = client.Tail({ since: { seconds: '10', nanos: -5 } }, new grpc.Metadata(), { deadline: Date.now() + 3000 });
    stream.on('data', () => undefined);
    stream.on('error', resolve);
    stream.on('end', () => resolve(null));
  });
  expect(tail?.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(tail?.details).toMatch(/^since: nanos/);
  // A valid one still selects.
  const ok = await call<RequestsPage>('ListRequests', { since: { seconds: '0', nanos: 999_999_999 } });
  expect(ok.error).toBeNull();
  expect(ok.response.requests).toHaveLength(6);
});

test('an invalid tenant field is INVALID_ARGUMENT naming the field, not a header', async () => {
  for (const method of ['ListRequests', 'ListObjects', 'FindTrace']) {
    const error = await refusal(method, { tenant: '../etc', trace_id: 'ab'.repeat(16) });
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.details).toMatch(/^invalid tenant in field tenant: "\.\.\/etc"/);
  }
});

test("Replay: a header the target could not be sent is INVALID_ARGUMENT naming it, without the header's value", async () => {
  const secret = 'Bearer s3cr3t-9f2c7d1e\u0001';
  const { error, messages } = await new Promise<{ error: grpc.ServiceError | null; messages: unknown[] }>((resolve) => {
    const messages: unknown[] = [];
    const stream = client.Replay({ dry_run: true, headers: { authorization: secret } }, new grpc.Metadata(), { deadline: Date.now() + 3000 });
    stream.on('data', (message) => messages.push(message));
    stream.on('error', (e: grpc.ServiceError) => resolve({ error: e, messages }));
    stream.on('end', () => resolve({ error: null, messages }));
  });
  expect(messages).toEqual([]);
  expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(error?.details).toMatch(/headers\["authorization"\]/);
  expect(error?.details).not.toContain('s3cr3t');
});
