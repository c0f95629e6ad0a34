// Compresses request bodies with the Go libraries the OpenTelemetry Collector uses (tests/helpers/go-encoder/main.go,
// built once per machine from Debian's Go sources; scripts/install-test-deps.sh installs them).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type GoEncoding = 'zstd-http' | 'zstd-grpc' | 'snappy-block' | 'snappy-framed' | 'zlib' | 'gzip';

const SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'go-encoder', 'main.go');

let binary: string | undefined;

function build(): string {
  if (binary) return binary;
  const hash = createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 12);
  const dir = path.join(os.tmpdir(), 'otlp-capture-go-encoder');
  const target = path.join(dir, `go-encoder-${hash}`);
  if (!existsSync(target)) {
    mkdirSync(dir, { recursive: true });
    const partial = `${target}.${process.pid}.tmp`;
    execFileSync('go', ['build', '-o', partial, SOURCE], {
      env: { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOCACHE: path.join(dir, 'cache'), GOFLAGS: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    renameSync(partial, target);
  }
  binary = target;
  return target;
}

/** `raw` compressed as the Collector's Go code does for `mode`. */
export function goEncode(mode: GoEncoding, raw: Buffer): Buffer {
  return execFileSync(build(), [mode], { input: raw, maxBuffer: 256 * 2 ** 20 });
}
