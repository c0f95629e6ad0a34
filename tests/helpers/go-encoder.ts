// Compresses request bodies with the Go libraries the OpenTelemetry Collector uses (tests/helpers/go-encoder/main.go,
// built once per machine from Debian's Go sources; scripts/install-test-deps.sh installs them).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildGoProgram } from './go-build.js';

export type GoEncoding = 'zstd-http' | 'zstd-grpc' | 'snappy-block' | 'snappy-framed' | 'zlib' | 'gzip';

const SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'go-encoder', 'main.go');

/** `raw` compressed as the Collector's Go code does for `mode`. */
export function goEncode(mode: GoEncoding, raw: Buffer): Buffer {
  return execFileSync(buildGoProgram(SOURCE, 'go-encoder'), [mode], { input: raw, maxBuffer: 256 * 2 ** 20 });
}
