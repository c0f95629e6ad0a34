// The ClickHouse index on a cluster (index.clickhouse.cluster): two ClickHouse 18.16 servers, one shard each, and
// Debian's ZooKeeper on loopback (scripts/start-clickhouse-cluster.sh). The schema is created ON CLUSTER with
// Replicated tables and Distributed ones over them; rows written through one server are read through the other and
// are spread over both shards; a server restarted while rows are written loses none (the outbox retries).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClickHouseIndexStore } from '../../src/index/clickhouse-index-store.js';
import type { ArchivedRequest } from '../../src/model.js';
import { startClickHouseCluster, type ClickHouseCluster } from '../helpers/clickhouse-cluster.js';
import { waitFor } from '../helpers/wait.js';
import { makeObject } from './index-store-contract.js';

const DATABASE = 'otlp_capture_cluster_test';
const T1 = '0af7651916cd43dd8448eb211c80319c';
let cluster: ClickHouseCluster;
let dir: string;
const open: ClickHouseIndexStore[] = [];

beforeAll(async () => {
  cluster = await startClickHouseCluster();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ch-cluster-'));
}, 120_000);

afterAll(async () => {
  for (const store of open.splice(0).reverse()) await store.close().catch(() => undefined);
  await cluster?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
}, 60_000);

function store(node: 0 | 1, options: { readonly?: boolean; outbox?: string } = {}): ClickHouseIndexStore {
  const s = new ClickHouseIndexStore({
    url: cluster.nodes[node].url,
    database: DATABASE,
    cluster: cluster.name,
    outboxPath: path.join(dir, options.outbox ?? 'outbox.sqlite'),
    readonly: options.readonly ?? false,
    batchIntervalMs: 20,
    retryInitialBackoffMs: 100,
    retryMaxBackoffMs: 500,
    closeTimeoutMs: 20_000,
  });
  open.push(s);
  return s;
}

const sorted = (rs: ArchivedRequest[]): ArchivedRequest[] => [...rs].sort((a, b) => (a.id < b.id ? -1 : 1));
const plain = (r: ArchivedRequest): ArchivedRequest => {
  const { traceIds: _, ...rest } = r;
  return rest;
};

describe('ClickHouse index on a two-server cluster', () => {
  const written: ArchivedRequest[] = [];

  it('creates the schema ON CLUSTER; what one server writes the other reads, spread over both shards', async () => {
    const writer = store(0);
    await writer.start();
    for (const [table, engine] of [
      ['requests_local', 'ReplicatedReplacingMergeTree'],
      ['requests', 'Distributed'],
      ['request_ids', 'Distributed'],
      ['trace_requests', 'Distributed'],
      ['retired_objects', 'ReplicatedReplacingMergeTree'],
    ]) {
      for (const node of [0, 1] as const) {
        const [row] = await cluster.query<{ engine: string }>(node, `SELECT engine FROM system.tables WHERE database = '${DATABASE}' AND name = '${table}'`);
        expect(row?.engine).toBe(engine);
      }
    }
    for (let i = 0; i < 6; i++) {
      const built = makeObject(i % 2 ? 'acme' : 'globex', 'traces', Array.from({ length: 30 }, () => ({ services: ['checkout'] })));
      const requests = built.requests.map((r, j) => (j === 0 ? { ...r, traceIds: [T1] } : r));
      await writer.commitObject(built.object, requests);
      written.push(...requests);
    }
    expect(await writer.flushOutbox()).toBe(true);

    const reader = store(1, { readonly: true, outbox: 'absent.sqlite' });
    await reader.start();
    expect(await reader.listRequests({ limit: 1000 })).toEqual(sorted(written).map(plain));
    expect(await reader.listRequests({ newestFirst: true, limit: 7, tenant: 'acme' })).toEqual(
      sorted(written.filter((r) => r.tenant === 'acme')).reverse().slice(0, 7).map(plain),
    );
    expect(await reader.countRequests({})).toBe(180);
    expect(await reader.countRequests({ service: 'checkout', tenant: 'globex' })).toBe(90);
    expect((await reader.findTraceRequests(T1)).map((r) => r.id)).toEqual(sorted(written.filter((r) => r.traceIds)).map((r) => r.id));
    expect(await reader.getRequest(written[45]!.id)).toEqual(plain(written[45]!));
    // Sharded by a hash of the request id: each server holds part of the rows, together all of them once.
    const local = await Promise.all(
      ([0, 1] as const).map(async (node) => Number((await cluster.query<{ n: string }>(node, `SELECT toString(count()) AS n FROM ${DATABASE}.requests_local`))[0]!.n)),
    );
    expect(local.every((n) => n > 30)).toBe(true);
    expect(local[0]! + local[1]!).toBe(180);
  }, 60_000);

  it('a server restarted while rows are written: the outbox retries and nothing is lost or doubled', async () => {
    const writer = store(0);
    await writer.start();
    const during: ArchivedRequest[] = [];
    const commit = async (): Promise<void> => {
      const built = makeObject('acme', 'logs', Array.from({ length: 20 }, () => ({})));
      await writer.commitObject(built.object, built.requests);
      during.push(...built.requests);
    };
    for (let i = 0; i < 3; i++) await commit();
    await cluster.stopNode(1);
    try {
      for (let i = 0; i < 5; i++) {
        await commit(); // durable in the outbox; the inserts into node 2's shard fail and are retried
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await waitFor('the writer to notice the outage', async () => (writer.outboxStatus().backendAvailable ? undefined : true), 10_000, 20);
      expect(writer.outboxStatus().objects).toBeGreaterThan(0);
    } finally {
      await cluster.startNode(1);
    }
    await waitFor('the outbox to drain', async () => (writer.outboxStatus().objects === 0 ? true : undefined), 30_000, 50);
    const reader = store(1, { readonly: true, outbox: 'absent.sqlite' });
    await reader.start();
    const all = sorted([...written, ...during]).map(plain);
    expect(await reader.listRequests({ limit: 1000 })).toEqual(all);
    expect(await reader.countRequests({})).toBe(all.length);
    written.push(...during);
  }, 60_000);

  it('retention on the cluster: a deleted object is gone for readers on every server, its rows removed on every shard', async () => {
    const writer = store(0, { outbox: 'retention.sqlite' });
    await writer.start();
    const victim = written[0]!;
    const object = await writer.getObject(victim.objectKey);
    expect(object).not.toBeNull();
    const ids = written.filter((r) => r.objectKey === victim.objectKey).map((r) => r.id);
    await writer.deleteObject(victim.objectKey, ids);
    const reader = store(1, { readonly: true, outbox: 'absent.sqlite' });
    await reader.start();
    expect(await reader.getObject(victim.objectKey)).toBeNull();
    expect(await reader.getRequest(victim.id)).toBeNull();
    expect(await reader.countRequests({})).toBe(written.length - ids.length);
    await writer.purgeRetiredNow();
    await waitFor('the rows to be removed on both shards', async () => {
      let left = 0;
      for (const node of [0, 1] as const) {
        const [row] = await cluster.query<{ n: string }>(node, `SELECT toString(count()) AS n FROM ${DATABASE}.requests_local WHERE object_key = '${victim.objectKey}'`);
        left += Number(row!.n);
      }
      return left === 0 ? true : undefined;
    }, 30_000, 200);
  }, 60_000);
});
