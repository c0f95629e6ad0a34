// `serve` in the test process (CaptureServer), on ephemeral loopback ports and a temporary data dir.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CaptureServer } from '../../src/app/capture-server.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { LOOPBACK_LISTENERS } from './loopback-listeners.js';

export interface InProcessCapture {
  server: CaptureServer;
  grpcAddress: string;
  /** The read API's listener (CaptureService). */
  apiAddress: string;
  adminPort: number;
  dataDir: string;
  /** Stops the server (draining its spool into the archive) once; later calls do nothing. */
  stop(): Promise<void>;
  /** Stops it if still running and removes the data dir. */
  dispose(): Promise<void>;
}

export async function startCaptureInProcess(overrides: Record<string, unknown> = {}): Promise<InProcessCapture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capture-inproc-'));
  const dataDir = path.join(dir, 'data');
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir,
      ...LOOPBACK_LISTENERS,
      'spool.durability': 'none',
      'log.level': 'silent',
      ...overrides,
    },
  });
  const server = new CaptureServer(config, silentLogger());
  const ports = await server.start();
  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> => (stopped ??= server.stop(20_000).then(() => undefined));
  return {
    server,
    grpcAddress: `127.0.0.1:${ports.grpc}`,
    apiAddress: `127.0.0.1:${ports.api}`,
    adminPort: ports.admin,
    dataDir,
    stop,
    dispose: async () => {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
