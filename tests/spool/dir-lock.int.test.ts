// One process per spool directory, enforced by an OS lock that dies with its holder.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { lockDirectory } from '../../src/spool/dir-lock.js';
import { Spool } from '../../src/spool/spool.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-lock-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('a second spool on the same directory is refused with a clear message, and allowed once the first closes', async () => {
  const first = await Spool.open({ dir, maxBytes: 1 << 20, fsync: 'always' });
  await expect(Spool.open({ dir, maxBytes: 1 << 20, fsync: 'always' })).rejects.toThrow(ConfigError);
  await expect(Spool.open({ dir, maxBytes: 1 << 20, fsync: 'always' })).rejects.toThrow(/in use by another otlp-capture process/);
  await first.close();
  const second = await Spool.open({ dir, maxBytes: 1 << 20, fsync: 'always' });
  await second.close();
});

test('the lock held by another process is seen, and disappears when that process is SIGKILLed', async () => {
  const holderScript = `
    const { lockDirectory } = await import(${JSON.stringify(new URL('../../dist/spool/dir-lock.js', import.meta.url).href)});
    globalThis.held = lockDirectory(${JSON.stringify(dir)});
    console.log('locked');
    setInterval(() => {}, 1000);
  `;
  const holder = spawn(process.execPath, ['--input-type=module', '-e', holderScript], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => holder.once('exit', resolve));
  try {
    await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
    expect(() => lockDirectory(dir)).toThrow(/in use by another otlp-capture process/);
  } finally {
    holder.kill('SIGKILL');
    await exited;
  }
  const lock = lockDirectory(dir);
  lock.release();
});
