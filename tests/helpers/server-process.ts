// Runs `otlp-capture serve` as a real child process (the built CLI), and finds its ports from its startup log.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../bin/otlp-capture.js', import.meta.url));

export interface ServerProcess {
  proc: ChildProcess;
  grpcPort: number;
  adminPort: number;
  grpcAddress: string;
  /** OTLP/HTTP (127.0.0.1, any free port unless the test passes --http-listen). */
  httpPort: number;
  /** The API listener (CaptureService), likewise. */
  apiPort: number;
  apiAddress: string;
  /** Everything the server has printed so far (stdout + stderr). */
  output(): string;
  /** Sends the signal and waits for exit; resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
}

export async function startServer(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ServerProcess> {
  const proc = spawn(process.execPath, [CLI, 'serve', '--grpc-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--api-listen', '127.0.0.1:0', ...args], {
    env: { ...process.env, OTLP_CAPTURE_LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const ports = await new Promise<{ grpc: number; admin: number; http: number; api: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in time:\n${output}`)), options.timeoutMs ?? 20_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /"grpc":"[^"]*:(\d+)","admin":"[^"]*:(\d+)","http":"[^"]*:(\d+)","api":"[^"]*:(\d+)"/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ grpc: Number(match[1]), admin: Number(match[2]), http: Number(match[3]), api: Number(match[4]) });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it was ready:\n${output}`));
    });
  });
  return {
    proc,
    grpcPort: ports.grpc,
    adminPort: ports.admin,
    grpcAddress: `127.0.0.1:${ports.grpc}`,
    httpPort: ports.http,
    apiPort: ports.api,
    apiAddress: `127.0.0.1:${ports.api}`,
    output: () => output,
    stop: async (signal = 'SIGTERM', timeoutMs = 30_000) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Runs a CLI command to completion. */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; input?: Buffer } = {}): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    let stderr = '';
    proc.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    proc.on('error', reject);
    proc.on('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(stdout), stderr }));
    proc.stdin.end(options.input);
  });
}
