// The CLI's view of another instance's hot tier (`--server`): one pull answers the reads of a listing for a moment —
// every page and every dedup stream of a 1,000-page replay used to pull the whole hot tier again — and is paged
// locally exactly as a fresh pull would be; another selection, or an older snapshot, pulls again.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import * as grpc from '@grpc/grpc-js';
import { CaptureClient } from '../../src/api/capture-client.js';
import { RemoteHotTier } from '../../src/api/remote-hot-tier.js';
import { grpcExport } from '../helpers/grpc-calls.js';
import { logsPayload } from '../helpers/otlp-payloads.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { startCaptureInProcess, type InProcessCapture } from '../helpers/capture-in-process.js';

const insecure = grpc.credentials.createInsecure();
let capture: InProcessCapture;
let client: CaptureClient;
let pulls = 0;

beforeAll(async () => {
  // Objects never seal during the test: everything stays hot.
  capture = await startCaptureInProcess({ 'archiver.maxObjectAge': '10m' });
  for (let n = 0; n < 3; n++) expect(await grpcExport(capture.grpcAddress, insecure, uniqueTraceRequest(n, 50))).toEqual({ ok: true });
  client = new CaptureClient({ address: capture.apiAddress });
  const unary = client.unary.bind(client);
  client.unary = <T>(method: string, request: Record<string, unknown>): Promise<T> => {
    if (method === 'ListRequests') pulls++;
    return unary<T>(method, request);
  };
});

afterAll(async () => {
  client?.close();
  await capture?.dispose();
});

test('pages and repeated reads within the snapshot age share one pull; new filters or an older snapshot pull again', async () => {
  let nowMs = 1_000_000;
  const tier = new RemoteHotTier(client, () => nowMs);
  pulls = 0;
  const all = await tier.list({});
  expect(all).toHaveLength(3);
  expect(all.every((r) => r.tier === 'hot')).toBe(true);
  const ids = all.map((r) => r.id);
  expect([...ids].sort()).toEqual(ids);
  // Paged locally as the index pages: limit, afterId, newest first.
  expect((await tier.list({ limit: 1 })).map((r) => r.id)).toEqual([ids[0]]);
  expect((await tier.list({ afterId: ids[0]!, limit: 1 })).map((r) => r.id)).toEqual([ids[1]]);
  expect((await tier.list({ newestFirst: true, limit: 2 })).map((r) => r.id)).toEqual([ids[2], ids[1]]);
  expect((await tier.list({ newestFirst: true, afterId: ids[1]! })).map((r) => r.id)).toEqual([ids[0]]);
  expect(pulls).toBe(1);
  // Another selection is another pull (and its own snapshot).
  expect(await tier.list({ signal: 'logs' })).toEqual([]);
  expect(pulls).toBe(2);
  expect(await tier.list({ signal: 'traces', limit: 2 })).toHaveLength(2);
  expect(pulls).toBe(3);
  await tier.list({});
  expect(pulls).toBe(3);

  // What arrives later is seen once the snapshot is older than its age limit.
  expect(await grpcExport(capture.grpcAddress, insecure, Buffer.from(logsPayload(9, 2).proto), {}, 'logs')).toEqual({ ok: true });
  expect(await tier.list({})).toHaveLength(3);
  nowMs += 2_000;
  expect(await tier.list({})).toHaveLength(4);
  expect((await tier.list({ signal: 'logs' })).map((r) => r.signal)).toEqual(['logs']);
  expect(pulls).toBe(5);
});
