// The requests the load generator sends: a handful of distinct ~1 MiB OTLP trace requests serialized by
// @opentelemetry/otlp-transformer, encoded once and written to files that the load generator process reads at
// start-up. Two kinds: `instrumented` (tests/helpers/instrumented-traces.ts: what auto-instrumented services send; the
// default) and `rich` (tests/helpers/otlp-payloads.ts traceRequestOfSize: every AnyValue kind, random values — the
// scanner's stress case and compression's worst case, the only kind before issue #16).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { instrumentedTraceRequestOfSize } from '../tests/helpers/instrumented-traces.js';
import { traceRequestOfSize } from '../tests/helpers/otlp-payloads.js';
import type { PayloadKind } from './options.js';

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

export function writePayloads(dir: string, count: number, targetBytes: number, kind: PayloadKind = 'instrumented'): PayloadSet {
  const generate = kind === 'rich' ? traceRequestOfSize : instrumentedTraceRequestOfSize;
  mkdirSync(dir, { recursive: true });
  const files: PayloadFile[] = [];
  let sample: Buffer | undefined;
  for (let seed = 1; seed <= count; seed++) {
    const payload = generate(targetBytes, seed);
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
