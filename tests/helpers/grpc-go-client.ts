// A real grpc-go client (tests/helpers/grpc-go-client/main.go, grpc-go from Debian's golang-google-grpc-dev) with
// the Collector's gRPC compressors registered: sends raw OTLP requests as Exports and reports each call's status.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Signal } from '../../src/model.js';
import { buildGoProgram } from './go-build.js';

export type GrpcGoCompression = 'none' | 'gzip' | 'zstd' | 'snappy';

export interface GrpcGoResult {
  code: number;
  message: string;
}

const SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'grpc-go-client', 'main.go');

/** Builds the client now (a first build takes a while; call it in beforeAll). */
export function buildGrpcGoClient(): string {
  return buildGoProgram(SOURCE, 'grpc-go-client');
}

/** Exports `requests` one after another over one connection; one result per request, in order. */
export async function grpcGoExport(
  address: string,
  signal: Signal,
  compression: GrpcGoCompression,
  requests: Buffer[],
  tenant = '',
): Promise<GrpcGoResult[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'grpc-go-client-'));
  try {
    const files = requests.map((request, i) => {
      const file = path.join(dir, `${i}.bin`);
      writeFileSync(file, request);
      return file;
    });
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(buildGrpcGoClient(), [address, signal, compression, tenant, ...files], { maxBuffer: 16 * 2 ** 20 }, (error, out, err) =>
        error ? reject(new Error(`grpc-go client failed: ${error.message}\n${err}`)) : resolve(out),
      ),
    );
    return stdout.trim().split('\n').map((line) => JSON.parse(line) as GrpcGoResult);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
