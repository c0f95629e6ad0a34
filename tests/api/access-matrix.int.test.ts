// Who may call what, on which listener: every RPC × every kind of caller — no token, an ingest token, a read token,
// a read token bound to tenant A, a read+replay token — on the API listener and on the OTLP ingest listener, against
// one running server. Each cell is what the call returned (status, and for successes what it saw), compared with
// the table the security model promises (README, "Security model").
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CaptureServer } from '../../src/app/capture-server.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { grpcExport, serverStream, unary } from '../helpers/grpc-calls.js';
import { post } from '../helpers/otlp-http-client.js';
import { startRecordingTarget, type RecordingTarget } from '../helpers/recording-otlp-target.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';
import { LOOPBACK_LISTENERS } from '../helpers/loopback-listeners.js';

const TOKENS = {
  ingest: 'ingest-8d1f27c4b09e',
  read: 'read-2a6e91d0c3f5',
  readA: 'read-a-7c40e5b2d918',
  replay: 'replay-5e9b13f7a0c6',
} as const;
const CALLERS = ['none', 'ingest', 'read', 'readA', 'replay'] as const;
type Caller = (typeof CALLERS)[number];

const insecure = grpc.credentials.createInsecure();
const CAPTURE = 'otlpcapture.v1.CaptureService' as const;

let dir: string;
let server: CaptureServer;
let target: RecordingTarget;
let grpcAddress: string;
let apiAddress: string;
let httpUrl: string;
/** Sent per tenant, by trace number (uniqueTraceRequest(n)). */
const SENT = { 'team-a': [1, 2], 'team-b': [3, 4] } as const;
let idOfTeamB = '';

const headersOf = (caller: Caller): Record<string, string> => (caller === 'none' ? {} : { authorization: `Bearer ${TOKENS[caller]}` });
const traceIdOf = (n: number): string => `00c0ffee${'0'.repeat(16)}${(n + 1).toString(16).padStart(8, '0')}`;

function outcome(error: grpc.ServiceError | null, ok: () => string): string {
  if (error === null) return ok();
  const name = grpc.status[error.code];
  return error.code === grpc.status.PERMISSION_DENIED || error.code === grpc.status.UNAUTHENTICATED ? `${name}: ${error.details}` : name!;
}

const tenantsOf = (rows: { tenant: string }[]): string => [...new Set(rows.map((row) => row.tenant))].sort().join(',');

/** Every RPC, as the caller sees it on `address`. */
async function row(address: string, caller: Caller): Promise<Record<string, string>> {
  const headers = headersOf(caller);
  const call = <T>(method: string, request: object) => unary<T>(address, insecure, CAPTURE, method, request, headers);
  const list = await call<{ requests: { tenant: string }[] }>('ListRequests', { page_size: 100 });
  const get = await call<{ payload: Buffer }>('GetRequest', { id: idOfTeamB, format: 'FORMAT_PROTO' });
  const objects = await call<{ objects: { tenant: string }[] }>('ListObjects', {});
  const trace = await call<{ spans: string }>('FindTrace', { trace_id: traceIdOf(SENT['team-b'][0]) });
  const replay = await serverStream<{ done: boolean; delivered: boolean; requests_sent: string }>(address, insecure, CAPTURE, 'Replay', {
    target: target.address,
    tenant: 'team-b',
  }, headers);
  const exported = await grpcExport(address, insecure, uniqueTraceRequest(100 + CALLERS.indexOf(caller)), { ...headers, 'x-scope-orgid': 'team-c' });
  const health = await unary<{ status: string }>(address, insecure, 'grpc.health.v1.Health', 'Check', { service: '' }, headers);
  return {
    ListRequests: outcome(list.error, () => `OK ${tenantsOf(list.response.requests)}`),
    GetRequest: outcome(get.error, () => `OK ${get.response.payload.equals(uniqueTraceRequest(SENT['team-b'][0])) ? 'same bytes' : 'other bytes'}`),
    ListObjects: outcome(objects.error, () => `OK ${tenantsOf(objects.response.objects)}`),
    FindTrace: outcome(trace.error, () => `OK ${trace.response.spans} span`),
    Replay: outcome(replay.error, () => {
      const last = replay.messages.at(-1);
      return last?.done && last.delivered ? `OK delivered ${last.requests_sent}` : `OK not delivered: ${JSON.stringify(last)}`;
    }),
    Export: exported.ok ? 'OK' : `${grpc.status[exported.code]}${exported.code === grpc.status.PERMISSION_DENIED || exported.code === grpc.status.UNAUTHENTICATED ? `: ${exported.details}` : ''}`,
    'Health.Check': outcome(health.error, () => `OK ${health.response.status}`),
  };
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'access-matrix-'));
  target = await startRecordingTarget();
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: path.join(dir, 'data'),
      ...LOOPBACK_LISTENERS,
      'auth.bearerTokens': [
        { token: TOKENS.ingest, scopes: ['ingest'] },
        { token: TOKENS.read, scopes: ['read'] },
        { token: TOKENS.readA, scopes: ['read'], tenant: 'team-a' },
        { token: TOKENS.replay, scopes: ['read', 'replay'] },
      ],
      'replay.allowedTargets': [target.address],
      'archiver.maxObjectAge': '200ms',
      'spool.durability': 'none',
      'log.level': 'silent',
    },
  });
  server = new CaptureServer(config, silentLogger());
  const ports = await server.start();
  grpcAddress = `127.0.0.1:${ports.grpc}`;
  apiAddress = `127.0.0.1:${ports.api}`;
  httpUrl = `http://127.0.0.1:${ports.http}`;
  for (const [tenant, numbers] of Object.entries(SENT)) {
    for (const n of numbers) {
      const sent = await grpcExport(grpcAddress, insecure, uniqueTraceRequest(n), { authorization: `Bearer ${TOKENS.ingest}`, 'x-scope-orgid': tenant });
      expect(sent).toEqual({ ok: true });
    }
  }
  const rows = await waitFor('both tenants archived', async () => {
    const { response } = await unary<{ requests: { id: string; tenant: string; bytes: string; tier: string }[] }>(
      apiAddress, insecure, CAPTURE, 'ListRequests', { page_size: 100 }, headersOf('replay'),
    );
    // Listed from the acknowledgement on (hot tier); archived (ListObjects shows them) once every row says so.
    return response?.requests.length === 4 && response.requests.every((r) => r.tier === 'TIER_ARCHIVE') ? response.requests : undefined;
  });
  idOfTeamB = rows.find((r) => r.tenant === 'team-b')!.id;
}, 60_000);

afterAll(async () => {
  await server?.stop(10_000);
  await target?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const UNAUTHENTICATED = 'UNAUTHENTICATED: missing bearer token: send the header "authorization: Bearer <token>"';
const LACKS_READ = 'PERMISSION_DENIED: this token lacks the "read" scope';
const LACKS_INGEST = 'PERMISSION_DENIED: this token lacks the "ingest" scope';

test('the API listener: read RPCs need read, Replay needs read and replay, a bound token sees its tenant only; Export is not served', async () => {
  const table: Record<string, Record<string, string>> = {};
  for (const caller of CALLERS) table[caller] = await row(apiAddress, caller);
  expect(table).toEqual({
    none: {
      ListRequests: UNAUTHENTICATED,
      GetRequest: UNAUTHENTICATED,
      ListObjects: UNAUTHENTICATED,
      FindTrace: UNAUTHENTICATED,
      Replay: UNAUTHENTICATED,
      Export: 'UNIMPLEMENTED',
      'Health.Check': 'OK SERVING',
    },
    ingest: {
      ListRequests: LACKS_READ,
      GetRequest: LACKS_READ,
      ListObjects: LACKS_READ,
      FindTrace: LACKS_READ,
      Replay: 'PERMISSION_DENIED: this token lacks the "read" and "replay" scopes',
      Export: 'UNIMPLEMENTED',
      'Health.Check': 'OK SERVING',
    },
    read: {
      ListRequests: 'OK team-a,team-b',
      GetRequest: 'OK same bytes',
      ListObjects: 'OK team-a,team-b',
      FindTrace: 'OK 1 span',
      Replay: 'PERMISSION_DENIED: this token lacks the "replay" scope',
      Export: 'UNIMPLEMENTED',
      'Health.Check': 'OK SERVING',
    },
    readA: {
      ListRequests: 'OK team-a',
      // Another tenant's request and trace do not exist for this caller.
      GetRequest: 'NOT_FOUND',
      ListObjects: 'OK team-a',
      FindTrace: 'NOT_FOUND',
      Replay: 'PERMISSION_DENIED: this token lacks the "replay" scope',
      Export: 'UNIMPLEMENTED',
      'Health.Check': 'OK SERVING',
    },
    replay: {
      ListRequests: 'OK team-a,team-b',
      GetRequest: 'OK same bytes',
      ListObjects: 'OK team-a,team-b',
      FindTrace: 'OK 1 span',
      Replay: 'OK delivered 2',
      Export: 'UNIMPLEMENTED',
      'Health.Check': 'OK SERVING',
    },
  });
  // Only the one allowed Replay reached the target: team-b's two requests, byte for byte.
  expect(target.accepted.map((a) => a.bytes.toString('hex')).sort()).toEqual(SENT['team-b'].map((n) => uniqueTraceRequest(n).toString('hex')).sort());
}, 60_000);

test('the OTLP listener: CaptureService is not served to anyone; Export needs the ingest scope', async () => {
  const table: Record<string, Record<string, string>> = {};
  for (const caller of CALLERS) table[caller] = await row(grpcAddress, caller);
  const unimplemented = { ListRequests: 'UNIMPLEMENTED', GetRequest: 'UNIMPLEMENTED', ListObjects: 'UNIMPLEMENTED', FindTrace: 'UNIMPLEMENTED', Replay: 'UNIMPLEMENTED', 'Health.Check': 'OK SERVING' };
  expect(table).toEqual({
    none: { ...unimplemented, Export: UNAUTHENTICATED },
    ingest: { ...unimplemented, Export: 'OK' },
    read: { ...unimplemented, Export: LACKS_INGEST },
    readA: { ...unimplemented, Export: LACKS_INGEST },
    replay: { ...unimplemented, Export: LACKS_INGEST },
  });
}, 60_000);

test('OTLP/HTTP: the same decision — 401 without a token, 403 naming the scope for read tokens, 200 for the ingest token', async () => {
  const statuses: Record<string, number> = {};
  for (const caller of CALLERS) {
    const reply = await post(`${httpUrl}/v1/traces`, uniqueTraceRequest(200 + CALLERS.indexOf(caller)), { 'content-type': 'application/x-protobuf', ...headersOf(caller) });
    statuses[caller] = reply.status;
  }
  expect(statuses).toEqual({ none: 401, ingest: 200, read: 403, readA: 403, replay: 403 });
});
