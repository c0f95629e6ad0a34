// A stop signal that arrives while serve is still starting ends it at once with exit 0. Where serve is PID 1 (a
// container) a signal without a handler is ignored, so without one this early the orchestrator would wait out its
// grace period. Outside a container the difference shows as how the process ends: killed by the signal (no handler)
// or exiting 0 (handled).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { CLI } from '../../helpers/server-process.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'serve-early-signal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function exitOf(child: ReturnType<typeof spawn>): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('serve: a stop signal during start-up', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('%s while the configuration is being read exits 0 and creates nothing', async (signal) => {
    // The configuration is a FIFO: serve blocks reading it until this test writes, which pins the signal to the
    // moment between serve's first line and the server's construction.
    const fifo = path.join(dir, `config-${signal}.yaml`);
    execFileSync('mkfifo', [fifo]);
    const dataDir = path.join(dir, `data-${signal}`);
    const child = spawn(process.execPath, [CLI, 'serve', '--config', fifo, '--data-dir', dataDir,
      '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--api-listen', '127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = exitOf(child);
    // Opening the write end completes once serve has opened the read end: it is inside the read now.
    const writer = await open(fifo, 'w');
    child.kill(signal);
    await writer.write('log:\n  level: info\n');
    await writer.close();
    const { code, signal: killedBy } = await exited;
    expect({ code, killedBy, stderr }).toEqual({ code: 0, killedBy: null, stderr: '' });
    expect(() => execFileSync('test', ['-e', dataDir])).toThrow();
  });
});
