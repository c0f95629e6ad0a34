// A current ClickHouse (chdb, 26.x) behind scripts/chdb-http-server.mjs, as a private server per test file with the
// same interface as Debian's 18.16 server in clickhouse-server.ts: stop() and start() again keep the data (the
// process ends, its data dir stays), dispose() removes everything. Lets one suite run the same adapter code against
// both engines (`describe.each(CLICKHOUSE_ENGINES)`).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, sqlOverHttp, startClickHouse, startedOrCleanedUp, type ClickHouseServer } from './clickhouse-server.js';

const SHIM = fileURLToPath(new URL('../../scripts/chdb-http-server.mjs', import.meta.url));

export async function startChdbServer(options: { password?: string } = {}): Promise<ClickHouseServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-chdb-'));
  const httpPort = await freePort();
  const url = `http://127.0.0.1:${httpPort}`;
  const password = options.password ?? '';
  let proc: ChildProcess | null = null;

  const server: ClickHouseServer = {
    url,
    httpPort,
    dir,
    running: false,
    async start() {
      const child = spawn(process.execPath, [SHIM, '--port', String(httpPort), '--dir', path.join(dir, 'data'), '--password', password], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      proc = child;
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`chdb server did not start in 60 s: ${stderr}`)), 60_000);
        let stdout = '';
        child.stdout!.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          if (stdout.includes('ready ')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`chdb server exited (${code}) during start-up: ${stderr}`));
        });
      });
      server.running = true;
    },
    async stop() {
      const child = proc;
      proc = null;
      server.running = false;
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
    async dispose() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    ...sqlOverHttp(url, password, 'chdb'),
  };
  return startedOrCleanedUp(server, dir);
}

export interface ClickHouseEngine {
  readonly name: string;
  start(options?: { password?: string }): Promise<ClickHouseServer>;
}

/** Both engines the ClickHouse adapter must work on: Debian's server as production's oldest, chdb as current. */
export const CLICKHOUSE_ENGINES: readonly ClickHouseEngine[] = [
  { name: 'ClickHouse 18.16 (Debian server)', start: (options) => startClickHouse(options) },
  { name: 'current ClickHouse (chdb behind the HTTP shim)', start: (options) => startChdbServer(options) },
];
