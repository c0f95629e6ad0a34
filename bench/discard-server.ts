// The baseline: a bare grpc-js server that acknowledges every trace Export and drops it. Same service definition
// (identity deserializer: the handler gets the raw, already gunzipped bytes) and the same receive limit as
// `otlp-capture serve`, so what the capture server adds on top is exactly its own work.
//
// With STAGES it becomes a "floor" server: the same bare receive plus only the named stages of what capture must do
// per request, each done the cheapest way this bench knows, to show what any design pays before its own overheads:
//   durable  append [length, crc32, payload] to a segment file and acknowledge only after an fdatasync covering it
//            (one sync at a time, the requests that arrive meanwhile share the next one); 64 MiB segments are
//            unlinked once synced, as the spool releases archived ones
//   zstd     compress each request at zstd level 1 on the project's worker pool (as the archiver does) and append
//            the frame to an object file, unlinked every 64 MiB
//   scan     validate the request and collect its trace ids and time range with the ingest scanner
// Usage: node discard-server.js HOST:PORT MAX_RECEIVE_BYTES [STAGES, e.g. durable,zstd,scan]
//        — prints {"listening":PORT} once bound.
import { closeSync, fdatasync, fdatasyncSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { EMPTY_EXPORT_RESPONSE, otlpServiceDefinition } from '../src/grpc/otlp-services.js';
import { zstdCompress } from '../src/compression/zstd-workers.js';
import { scanRequest } from '../src/otlp/scanner.js';

const [address = '127.0.0.1:0', maxReceive = String(64 * 2 ** 20), stageList = ''] = process.argv.slice(2);
const maxReceiveBytes = Number(maxReceive);
const STAGES = ['durable', 'zstd', 'scan'] as const;
type Stage = (typeof STAGES)[number];
const stages = new Set(stageList.split(',').filter((s) => s !== '') as Stage[]);
for (const stage of stages) {
  if (!STAGES.includes(stage)) {
    process.stderr.write(`unknown stage ${stage}: use ${STAGES.join(', ')}\n`);
    process.exit(2);
  }
}

const SEGMENT_BYTES = 64 * 2 ** 20;
const dir = stages.size > 0 ? mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-floor-')) : '';

/** A file appended to and replaced by a fresh one every SEGMENT_BYTES; the full one is unlinked. */
class RollingFile {
  private fd = -1;
  private written = 0;
  private sequence = 0;
  private current = '';
  /** The previous full file: closed and unlinked at the next roll, when no sync can still be running on it. */
  private previous: { fd: number; file: string } | null = null;
  constructor(private readonly name: string, private readonly durable: boolean) {}

  append(pieces: readonly Uint8Array[]): void {
    if (this.fd < 0 || this.written >= SEGMENT_BYTES) this.roll();
    for (const piece of pieces) {
      writeSync(this.fd, piece);
      this.written += piece.length;
    }
  }

  get descriptor(): number {
    return this.fd;
  }

  private roll(): void {
    if (this.previous) {
      closeSync(this.previous.fd);
      unlinkSync(this.previous.file);
    }
    if (this.fd >= 0) {
      // What was written to it since the last group sync is covered here: the next sync is on the new file.
      if (this.durable) fdatasyncSync(this.fd);
      this.previous = { fd: this.fd, file: this.current };
    }
    this.current = path.join(dir, `${this.name}-${this.sequence++}`);
    this.fd = openSync(this.current, 'w');
    this.written = 0;
  }
}

/** Group commit: callers wait for a sync that started after their write; one fdatasync at a time. */
class GroupSync {
  private running = false;
  private waiting: Array<() => void> = [];
  constructor(private readonly file: RollingFile) {}

  afterWrite(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (!this.running) this.sync();
    });
  }

  private sync(): void {
    const batch = this.waiting;
    this.waiting = [];
    this.running = true;
    fdatasync(this.file.descriptor, (error) => {
      this.running = false;
      if (error) throw error;
      for (const resolve of batch) resolve();
      if (this.waiting.length > 0) this.sync();
    });
  }
}

const spool = stages.has('durable') ? new RollingFile('segment', true) : null;
const spoolSync = spool ? new GroupSync(spool) : null;
const objects = stages.has('zstd') ? new RollingFile('object', false) : null;

async function keep(payload: Buffer): Promise<void> {
  if (stages.has('scan')) scanRequest('traces', payload);
  const compressed = objects ? zstdCompress(payload, 1) : null;
  if (spool && spoolSync) {
    const head = Buffer.allocUnsafe(8);
    head.writeUInt32LE(payload.length, 0);
    head.writeUInt32LE(crc32(payload), 4);
    spool.append([head, payload]);
    await spoolSync.afterWrite();
  }
  if (compressed && objects) objects.append([await compressed]);
}

const server = new grpc.Server({
  'grpc.max_receive_message_length': maxReceiveBytes,
  'grpc.max_send_message_length': Math.max(maxReceiveBytes, 64 * 2 ** 20),
});
const discard: grpc.handleUnaryCall<Buffer, Buffer> = (call, callback) => {
  if (stages.size === 0) return callback(null, EMPTY_EXPORT_RESPONSE);
  keep(call.request).then(
    () => callback(null, EMPTY_EXPORT_RESPONSE),
    (error: Error) => callback({ code: grpc.status.INVALID_ARGUMENT, details: error.message }),
  );
};
server.addService(otlpServiceDefinition('traces'), { Export: discard });
server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) {
    process.stderr.write(`discard server cannot listen on ${address}: ${error.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ listening: port })}\n`);
});
process.on('SIGTERM', () =>
  server.tryShutdown(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }),
);
