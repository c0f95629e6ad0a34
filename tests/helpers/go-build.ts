// Builds a Go test helper program once per machine (cached by its source's hash) from Debian's Go sources in GOPATH
// mode: scripts/install-test-deps.sh installs golang-go and the libraries the helpers import.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const built = new Map<string, string>();

/** The path of the binary built from `source` (a main.go), building it first when needed. */
export function buildGoProgram(source: string, name: string): string {
  const known = built.get(source);
  if (known) return known;
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 12);
  const dir = path.join(os.tmpdir(), 'otlp-capture-go-helpers');
  const target = path.join(dir, `${name}-${hash}`);
  if (!existsSync(target)) {
    mkdirSync(dir, { recursive: true });
    const partial = `${target}.${process.pid}.tmp`;
    execFileSync('go', ['build', '-o', partial, source], {
      env: { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOCACHE: path.join(dir, 'cache'), GOFLAGS: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    renameSync(partial, target);
  }
  built.set(source, target);
  return target;
}
