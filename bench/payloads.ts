// The requests the load generator sends: a handful of distinct ~1 MiB OTLP trace requests of realistic SDK spans,
// serialized by @opentelemetry/otlp-transformer (tests/helpers/otlp-payloads.ts), encoded once and written to files
// that the load generator process reads at start-up.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { traceRequestOfSize } from '../tests/helpers/otlp-payloads.js';

export interface PayloadFile {
  path: string;
  bytes: number;
  spans: number;
}

export interface PayloadSet {
  files: PayloadFile[];
  /** The first request, kept in memory for the scanner measurement. */
  sample: Buffer;
}

export function writePayloads(dir: string, count: number, targetBytes: number): PayloadSet {
  mkdirSync(dir, { recursive: true });
  const files: PayloadFile[] = [];
  let sample: Buffer | undefined;
  for (let seed = 1; seed <= count; seed++) {
    const payload = traceRequestOfSize(targetBytes, seed);
    const file = path.join(dir, `traces-${seed}.binpb`);
    writeFileSync(file, payload.proto);
    files.push({ path: file, bytes: payload.proto.length, spans: payload.expected.items });
    sample ??= Buffer.from(payload.proto);
  }
  return { files, sample: sample! };
}

export interface LoadedPayload extends PayloadFile {
  data: Buffer;
}

export function readPayloads(files: readonly PayloadFile[]): LoadedPayload[] {
  return files.map((file) => ({ ...file, data: readFileSync(file.path) }));
}
