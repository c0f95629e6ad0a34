// A two-node ClickHouse 18.16 cluster with Debian's ZooKeeper on loopback, per test file, started and stopped by the
// project's own scripts (scripts/start-clickhouse-cluster.sh) on free ports, data in a temp dir. One node can be
// stopped and started again on its ports and data (a restart).
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from './clickhouse-server.js';

const run = promisify(execFile);
const SCRIPTS = fileURLToPath(new URL('../../scripts/', import.meta.url));

export interface ClusterNode {
  url: string;
  httpPort: number;
  tcpPort: number;
  dir: string;
}

export interface ClickHouseCluster {
  name: string;
  nodes: [ClusterNode, ClusterNode];
  stopNode(index: 0 | 1): Promise<void>;
  startNode(index: 0 | 1): Promise<void>;
  /** SQL over plain HTTP on one node (not the code under test); rows of a SELECT as JSON objects. */
  query<T = Record<string, unknown>>(index: 0 | 1, sql: string): Promise<T[]>;
  command(index: 0 | 1, sql: string): Promise<void>;
  dispose(): Promise<void>;
}

export async function startClickHouseCluster(name = 'otlp_capture_cluster'): Promise<ClickHouseCluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-cluster-'));
  const ports: number[] = [];
  while (ports.length < 7) {
    const port = await freePort();
    if (!ports.includes(port)) ports.push(port);
  }
  const [zk, h1, t1, i1, h2, t2, i2] = ports as [number, number, number, number, number, number, number];
  const nodes: [ClusterNode, ClusterNode] = [
    { url: `http://127.0.0.1:${h1}`, httpPort: h1, tcpPort: t1, dir: path.join(dir, 'node1') },
    { url: `http://127.0.0.1:${h2}`, httpPort: h2, tcpPort: t2, dir: path.join(dir, 'node2') },
  ];
  try {
    await run(path.join(SCRIPTS, 'start-clickhouse-cluster.sh'), [dir, String(zk), `${h1},${t1},${i1}`, `${h2},${t2},${i2}`, name]);
  } catch (error) {
    await run(path.join(SCRIPTS, 'stop-clickhouse-cluster.sh'), [dir, '--purge']).catch(() => undefined);
    throw error;
  }
  const post = async (index: 0 | 1, sql: string): Promise<string> => {
    const response = await fetch(nodes[index].url, { method: 'POST', body: sql });
    const text = await response.text();
    if (!response.ok) throw new Error(`ClickHouse node ${index + 1} ${response.status}: ${text}`);
    return text;
  };
  return {
    name,
    nodes,
    stopNode: async (index) => void (await run(path.join(SCRIPTS, 'stop-clickhouse.sh'), [nodes[index].dir])),
    startNode: async (index) =>
      void (await run(path.join(SCRIPTS, 'start-clickhouse.sh'), [String(nodes[index].httpPort), nodes[index].dir, String(nodes[index].tcpPort)])),
    query: async <T>(index: 0 | 1, sql: string): Promise<T[]> =>
      (await post(index, `${sql} FORMAT JSONEachRow`))
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as T),
    command: async (index, sql) => void (await post(index, sql)),
    dispose: async () => void (await run(path.join(SCRIPTS, 'stop-clickhouse-cluster.sh'), [dir, '--purge'])),
  };
}
