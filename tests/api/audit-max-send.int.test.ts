// The API listener's send limit is "at least the largest request ingest accepts, so GetRequest can return any of
// them" (ApiServerOptions.maxSendBytes). A GetRequestResponse holds the request's bytes and its CapturedRequest, so a
// request of exactly that size must still come back — it was RESOURCE_EXHAUSTED ("Sent message larger than max")
// when the limit left no room for the envelope. An ApiServer over a real archive (SQLite index, filesystem blobs).
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { BearerAuth } from '../../src/admission/auth.js';
import { CallerPolicy } from '../../src/admission/caller.js';
import { ApiServer } from '../../src/api/api-server.js';
import { loadConfig } from '../../src/config/load.js';
import { HealthService } from '../../src/grpc/health.js';
import { PROTO_DIR } from '../../src/protos.js';
import { QueryService } from '../../src/query/query-service.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { http2ListenerLimits } from '../../src/transport/http2-limits.js';
import { buildArchive, type BuiltArchive } from '../helpers/archive-builder.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';

const CAPTURE = 'otlpcapture.v1.CaptureService';
/** The largest request "ingest accepts" in this test: the stored request is exactly this long. */
const request = uniqueTraceRequest(1, 256 * 1024);
const LIMIT = request.length;

let dir: string;
let archive: BuiltArchive;
let api: ApiServer;
let client: grpc.Client & Record<string, Function>;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-max-send-'));
  archive = await buildArchive(dir, [{ signal: 'traces', bytes: request }]);
  const config = loadConfig({ env: {}, overrides: { dataDir: path.join(dir, 'data') } });
  api = new ApiServer(
    {
      host: '127.0.0.1',
      port: 0,
      limits: http2ListenerLimits(config.server.api),
      maxSendBytes: LIMIT,
      maxConcurrentReads: 2,
      maxConcurrentReplays: 1,
      maxFindTraceBytes: LIMIT,
      allowedTargets: [],
      retryAfterMs: 1000,
    },
    {
      query: new QueryService(archive.index, archive.blobs),
      health: new HealthService(),
      callers: new CallerPolicy(new BearerAuth([]), { tenantHeader: 'x-scope-orgid', defaultTenant: 'default' }),
      tls: null,
      logger: silentLogger(),
      metrics: new Metrics({ processMetrics: false }),
    },
  );
  const port = await api.listen();
  const definition = protoLoader.loadSync('otlpcapture/v1/capture.proto', { includeDirs: [PROTO_DIR], keepCase: true, longs: String, enums: String, defaults: true });
  const Client = grpc.makeGenericClientConstructor(definition[CAPTURE] as grpc.ServiceDefinition, CAPTURE);
  client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 }) as typeof client;
}, 20_000);

afterAll(async () => {
  client?.close();
  await api?.shutdown(1000);
  await archive?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('GetRequest returns a request exactly as large as the send limit, whole, with its CapturedRequest', async () => {
  const id = archive.requests[0]!.id;
  const { error, response } = await new Promise<{ error: grpc.ServiceError | null; response: { payload: Buffer; request: { id: string; bytes: string } } }>((resolve) =>
    client.GetRequest!({ id, format: 'FORMAT_PROTO' }, new grpc.Metadata(), { deadline: Date.now() + 3000 }, (e: grpc.ServiceError | null, r: never) => resolve({ error: e, response: r })),
  );
  expect(error).toBeNull();
  expect(response.request).toMatchObject({ id, bytes: String(LIMIT) });
  expect(Buffer.compare(response.payload, request)).toBe(0);
});
