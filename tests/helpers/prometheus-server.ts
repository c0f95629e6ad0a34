// A private Prometheus server (Debian's `prometheus` package) per test: loopback, a free port, its TSDB in a temp dir,
// a generated prometheus.yml; queried through its HTTP API. stop() ends the process it started and removes its data.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './clickhouse-server.js';
import { waitFor } from './wait.js';

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PrometheusServer {
  url: string;
  /** An instant query; rejects when Prometheus answers with an error (a bad query, say). */
  query(expr: string): Promise<PromSample[]>;
  /** GET an API path (under /api/v1/) and return its `data`. */
  api<T>(pathAndQuery: string): Promise<T>;
  output(): string;
  stop(): Promise<void>;
}

export async function startPrometheus(configYaml: string): Promise<PrometheusServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-prometheus-'));
  const configFile = path.join(dir, 'prometheus.yml');
  writeFileSync(configFile, configYaml);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const proc: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  proc.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const spawnFailed = new Promise<never>((_, reject) =>
    proc.once('error', (error) => reject(new Error(`cannot run prometheus (install it with ./scripts/install-test-deps.sh): ${error.message}`))),
  );

  const api = async <T>(pathAndQuery: string): Promise<T> => {
    const response = await fetch(`${url}/api/v1/${pathAndQuery}`, { signal: AbortSignal.timeout(10_000) });
    const body = (await response.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${pathAndQuery}: ${body.errorType ?? ''} ${body.error ?? ''}`);
    return body.data;
  };
  const server: PrometheusServer = {
    url,
    api,
    async query(expr) {
      const data = await api<{ resultType: string; result: PromSample[] | [number, string] }>(`query?query=${encodeURIComponent(expr)}`);
      if (data.resultType === 'scalar') return [{ metric: {}, value: data.result as [number, string] }];
      return data.result as PromSample[];
    },
    output: () => output,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.race([
      spawnFailed,
      waitFor('Prometheus to be ready', async () => {
        if (proc.exitCode !== null) throw new Error(`prometheus exited with ${proc.exitCode}:\n${output}`);
        const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
        return ready ? true : undefined;
      }, 20_000, 100),
    ]);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}
