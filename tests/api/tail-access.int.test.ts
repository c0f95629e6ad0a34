// CaptureService.Tail and hot_only reads on a server with tokens: Tail needs the read scope; a read token bound to a
// tenant follows that tenant only, and may not ask for another; `since` starts back in time; hot_only ListRequests
// answers what is not archived yet, with TIER_HOT.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { CaptureServer } from '../../src/app/capture-server.js';
import { loadConfig } from '../../src/config/load.js';
import { PROTO_DIR } from '../../src/protos.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { grpcExport, unary } from '../helpers/grpc-calls.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';
import { LOOPBACK_LISTENERS } from '../helpers/loopback-listeners.js';

const TOKENS = { ingest: 'ingest-51c2d9e0a7b3', read: 'read-90f1e7c3b2a4', readA: 'read-a-3d8e6b1f0c92' } as const;
const insecure = grpc.credentials.createInsecure();
const CAPTURE = 'otlpcapture.v1.CaptureService';

let dir: string;
let server: CaptureServer;
let grpcAddress: string;
let apiAddress: string;

interface TailEventMessage {
  request?: { id: string; tenant: string; tier: string };
  missed?: string;
}

/** A Tail call that collects what it is sent until cancelled. */
function tail(request: object, token: string): { events: TailEventMessage[]; error: () => grpc.ServiceError | null; cancel: () => void } {
  const definition = protoLoader.loadSync('otlpcapture/v1/capture.proto', { includeDirs: [PROTO_DIR], longs: String, enums: String, defaults: true, oneofs: true });
  const Client = grpc.makeGenericClientConstructor(definition[CAPTURE] as grpc.ServiceDefinition, CAPTURE);
  const client = new Client(apiAddress, insecure) as unknown as grpc.Client & Record<string, (r: object, m: grpc.Metadata) => grpc.ClientReadableStream<TailEventMessage>>;
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  const call = client.Tail!.call(client, request, metadata);
  const events: TailEventMessage[] = [];
  let failure: grpc.ServiceError | null = null;
  call.on('data', (event: TailEventMessage) => events.push(event));
  call.on('error', (error: grpc.ServiceError) => {
    if (error.code !== grpc.status.CANCELLED) failure = error;
  });
  return { events, error: () => failure, cancel: () => { call.cancel(); client.close(); } };
}

const send = async (n: number, tenant: string): Promise<void> => {
  expect(await grpcExport(grpcAddress, insecure, uniqueTraceRequest(n), { authorization: `Bearer ${TOKENS.ingest}`, 'x-scope-orgid': tenant })).toEqual({ ok: true });
};

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tail-access-'));
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: path.join(dir, 'data'),
      ...LOOPBACK_LISTENERS,
      'auth.bearerTokens': [
        { token: TOKENS.ingest, scopes: ['ingest'] },
        { token: TOKENS.read, scopes: ['read'] },
        { token: TOKENS.readA, scopes: ['read'], tenant: 'team-a' },
      ],
      'archiver.maxObjectAge': '1h',
      'spool.durability': 'none',
      'log.level': 'silent',
    },
  });
  server = new CaptureServer(config, silentLogger());
  const ports = await server.start();
  grpcAddress = `127.0.0.1:${ports.grpc}`;
  apiAddress = `127.0.0.1:${ports.api}`;
}, 30_000);

afterAll(async () => {
  await server?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}, 30_000);

test('a tenant-bound token tails its tenant only; another tenant asked for is refused; since starts back in time', async () => {
  await send(1, 'team-a'); // before the tails: only `since` shows it
  await send(2, 'team-b');
  const bound = tail({}, TOKENS.readA);
  const all = tail({}, TOKENS.read);
  const back = tail({ since: { seconds: String(Math.floor(Date.now() / 1000) - 60), nanos: 0 } }, TOKENS.read);
  const refused = tail({ tenant: 'team-b' }, TOKENS.readA);
  const noToken = tail({}, TOKENS.ingest);
  await new Promise((resolve) => setTimeout(resolve, 500));
  await send(3, 'team-a');
  await send(4, 'team-b');
  await send(5, 'team-a');
  try {
    await waitFor('the tails', async () => (bound.events.length >= 2 && all.events.length >= 3 && back.events.length >= 5 ? true : undefined), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(bound.events.map((e) => e.request!.tenant)).toEqual(['team-a', 'team-a']);
    expect(all.events.map((e) => e.request!.tenant)).toEqual(['team-a', 'team-b', 'team-a']);
    expect(back.events.map((e) => e.request!.tenant)).toEqual(['team-a', 'team-b', 'team-a', 'team-b', 'team-a']);
    for (const event of back.events) expect(event.request!.tier).toBe('TIER_HOT');
    expect(new Set(back.events.map((e) => e.request!.id)).size).toBe(5);
    expect(refused.error()?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(noToken.error()?.code).toBe(grpc.status.PERMISSION_DENIED);
  } finally {
    for (const t of [bound, all, back, refused, noToken]) t.cancel();
  }
  const hot = await unary<{ requests: { tier: string; tenant: string }[] }>(apiAddress, insecure, CAPTURE, 'ListRequests', { hot_only: true }, { authorization: `Bearer ${TOKENS.readA}` });
  expect(hot.error).toBeNull();
  expect(hot.response.requests.map((r) => `${r.tenant}:${r.tier}`)).toEqual(['team-a:TIER_HOT', 'team-a:TIER_HOT', 'team-a:TIER_HOT']);
}, 30_000);
