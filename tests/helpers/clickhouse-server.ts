// A private ClickHouse 18.16 server per test file, started and stopped by the project's own scripts on free ports,
// with its data in a temp dir: stop() and start() again keep the data (an outage), dispose() removes everything.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPTS = fileURLToPath(new URL('../../scripts/', import.meta.url));

export interface ClickHouseServer {
  url: string;
  httpPort: number;
  dir: string;
  running: boolean;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops it and removes its data. */
  dispose(): Promise<void>;
  /** Runs SQL over plain HTTP (not the code under test); rows of a SELECT as JSON objects. */
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  command(sql: string): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startClickHouse(options: { password?: string } = {}): Promise<ClickHouseServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-clickhouse-'));
  const httpPort = await freePort();
  const env = { ...process.env, CLICKHOUSE_PASSWORD: options.password ?? '' };
  const url = `http://127.0.0.1:${httpPort}`;

  const server: ClickHouseServer = {
    url,
    httpPort,
    dir,
    running: false,
    async start() {
      await run(path.join(SCRIPTS, 'start-clickhouse.sh'), [String(httpPort), dir], { env });
      server.running = true;
    },
    async stop() {
      await run(path.join(SCRIPTS, 'stop-clickhouse.sh'), [dir], { env });
      server.running = false;
    },
    async dispose() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    ...sqlOverHttp(url, options.password ?? '', 'ClickHouse'),
  };
  return startedOrCleanedUp(server, dir);
}

/** query (rows of JSONEachRow) and command, POSTed as user `default` to a ClickHouse HTTP interface at `url`. */
export function sqlOverHttp(url: string, password: string, label: string): Pick<ClickHouseServer, 'query' | 'command'> {
  async function post(sql: string): Promise<string> {
    const response = await fetch(url, { method: 'POST', body: sql, headers: { 'X-ClickHouse-User': 'default', 'X-ClickHouse-Key': password } });
    const text = await response.text();
    if (!response.ok) throw new Error(`${label} ${response.status}: ${text}`);
    return text;
  }
  return {
    async query<T>(sql: string): Promise<T[]> {
      const text = await post(`${sql} FORMAT JSONEachRow`);
      return text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as T);
    },
    async command(sql: string) {
      await post(sql);
    },
  };
}

/** Starts the server; its directory is removed when it does not start. */
export async function startedOrCleanedUp(server: ClickHouseServer, dir: string): Promise<ClickHouseServer> {
  try {
    await server.start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return server;
}
