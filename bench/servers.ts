// Starting the servers under test as child processes on 127.0.0.1, and stopping them.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface RunningServer {
  readonly kind: 'discard' | 'capture';
  readonly pid: number;
  readonly grpcAddress: string;
  /** Admin HTTP port (capture only). */
  readonly adminPort: number | null;
  /** capture: the API listener (CaptureService). */
  readonly apiAddress: string | null;
  output(): string;
  /** Whether the process has exited (on its own, if stop() was not called). */
  hasExited(): boolean;
  /** SIGTERM, then waits; returns how long the graceful stop took (the capture server archives its spool). */
  stop(timeoutMs: number): Promise<{ code: number | null; seconds: number; killed: boolean }>;
}

/** The checkout root: the directory holding bin/otlp-capture.js, found from wherever this file was compiled to. */
export const REPO_ROOT = findRepoRoot(path.dirname(fileURLToPath(import.meta.url)));

function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'bin', 'otlp-capture.js'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`bin/otlp-capture.js not found above ${from}`);
  }
}

/** The bare grpc-js sink; with `floorStages`, plus only those stages of capture's work (see discard-server.ts). */
export function startDiscardServer(maxReceiveBytes: number, env: Record<string, string> = {}, floorStages: readonly string[] = []): Promise<RunningServer> {
  const script = fileURLToPath(new URL('./discard-server.js', import.meta.url));
  const proc = spawn(process.execPath, [script, '127.0.0.1:0', String(maxReceiveBytes), floorStages.join(',')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return whenListening(proc, 'discard', (output) => {
    const match = /\{"listening":(\d+)\}/.exec(output);
    return match ? { grpc: Number(match[1]), admin: null } : null;
  });
}

export interface CaptureServerOptions {
  dataDir: string;
  /** Settings for the YAML config file (schema: src/config/schema.ts). */
  config: Record<string, unknown>;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeFlags?: string[];
  env?: Record<string, string>;
  /** Checkout to run bin/otlp-capture.js from (default: this one). */
  root?: string;
}

export function startCaptureServer(options: CaptureServerOptions): Promise<RunningServer> {
  const configFile = path.join(options.dataDir, '..', `${path.basename(options.dataDir)}.config.json`);
  // YAML is a superset of JSON: the config loader reads this as it is.
  writeFileSync(configFile, JSON.stringify(options.config, null, 2));
  const root = options.root ?? REPO_ROOT;
  const cli = path.join(root, 'bin', 'otlp-capture.js');
  const args = [
    ...(options.nodeFlags ?? []),
    cli, 'serve',
    '--data-dir', options.dataDir,
    '--grpc-listen', '127.0.0.1:0',
    '--http-listen', '127.0.0.1:0',
    '--admin-listen', '127.0.0.1:0',
    // Any free port: another bench (another worktree) on the machine may hold the default :4318.
    '--http-listen', '127.0.0.1:0',
    '--api-listen', '127.0.0.1:0',
    '--config', configFile,
  ];
  const proc = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...options.env, OTLP_CAPTURE_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return whenListening(proc, 'capture', (output) => {
    const match = /"grpc":"[^"]*:(\d+)","admin":"[^"]*:(\d+)".*"api":"[^"]*:(\d+)"/.exec(output);
    return match ? { grpc: Number(match[1]), admin: Number(match[2]), api: Number(match[3]) } : null;
  });
}

function whenListening(
  proc: ChildProcess,
  kind: RunningServer['kind'],
  parsePorts: (output: string) => { grpc: number; admin: number | null; api?: number } | null,
): Promise<RunningServer> {
  let output = '';
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} server did not start within 30 s:\n${output}`)), 30_000);
    let started = false;
    const onData = (chunk: Buffer): void => {
      // Keep the start and the last part: enough to explain a failure without holding every log line.
      output = output.length > 200_000 ? output.slice(0, 20_000) + output.slice(-100_000) : output;
      output += chunk.toString();
      const ports = started ? null : parsePorts(output);
      if (!ports) return;
      started = true;
      clearTimeout(timer);
      resolve({
        kind,
        pid: proc.pid!,
        grpcAddress: `127.0.0.1:${ports.grpc}`,
        adminPort: ports.admin,
        apiAddress: ports.api === undefined ? null : `127.0.0.1:${ports.api}`,
        output: () => output,
        hasExited: () => proc.exitCode !== null || proc.signalCode !== null,
        stop: async (timeoutMs) => {
          const began = Date.now();
          let killed = false;
          if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
          const timer = setTimeout(() => {
            killed = true;
            proc.kill('SIGKILL');
          }, timeoutMs);
          const code = await exited;
          clearTimeout(timer);
          return { code, seconds: (Date.now() - began) / 1000, killed };
        },
      });
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      if (!started) reject(new Error(`${kind} server exited with ${code} before it was ready:\n${output}`));
    });
  });
}
