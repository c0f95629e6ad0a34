// Replay as the target sees it on the wire. With --compression gzip each Export travels as a gzip'd gRPC message
// (grpc-encoding: gzip, compressed flag set) that decompresses to exactly the archived bytes; without it, the bytes go
// out as they are. Headers go with every Export, a -bin header's base64 value as those bytes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Signal } from '../../src/model.js';
import { GrpcTarget } from '../../src/replay/grpc-target.js';
import { replay, type ReplayOptions } from '../../src/replay/replay-engine.js';
import { buildArchive, type BuiltArchive } from '../helpers/archive-builder.js';
import { logsPayload, tracePayload } from '../helpers/otlp-payloads.js';
import { startWireRecordingTarget, type WireRecordingTarget } from '../helpers/wire-recording-target.js';

let dir: string;
let archive: BuiltArchive;
let target: WireRecordingTarget;
const originals: Buffer[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-compression-'));
  const entries: { signal: Signal; bytes: Uint8Array; receivedAtMs: number }[] = [
    { signal: 'traces', bytes: tracePayload(5, 200).proto, receivedAtMs: 1_750_000_000_000 },
    { signal: 'logs', bytes: logsPayload(6, 300).proto, receivedAtMs: 1_750_000_000_100 },
  ];
  for (const entry of entries) originals.push(Buffer.from(entry.bytes));
  archive = await buildArchive(dir, entries, 2);
  target = await startWireRecordingTarget();
});

afterAll(async () => {
  await target.close();
  await archive.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const options: ReplayOptions = { filter: {}, timeShift: { kind: 'none' }, speed: 'max', concurrency: 2, dryRun: false };
const sortedHex = (buffers: Buffer[]): string[] => buffers.map((b) => b.toString('hex')).sort();

test('gzip: compressed on the wire, the archived bytes once decompressed', async () => {
  target.arrivals.length = 0;
  const client = new GrpcTarget({ address: target.address, tls: false, compression: 'gzip' });
  try {
    expect(client.describe()).toBe(`http://${target.address} (gzip)`);
    const summary = await replay(archive, client, options);
    expect(summary.delivered).toBe(true);
  } finally {
    client.close();
  }
  expect(target.arrivals).toHaveLength(originals.length);
  for (const arrival of target.arrivals) {
    expect(arrival).toMatchObject({ encoding: 'gzip', compressed: true });
    expect(arrival.wire.length).toBeLessThan(arrival.bytes.length / 2);
  }
  expect(sortedHex(target.arrivals.map((a) => a.bytes))).toEqual(sortedHex(originals));
});

test('none (the default): the archived bytes go out as they are', async () => {
  target.arrivals.length = 0;
  const client = new GrpcTarget({ address: target.address, tls: false });
  try {
    expect((await replay(archive, client, options)).delivered).toBe(true);
  } finally {
    client.close();
  }
  for (const arrival of target.arrivals) expect(arrival.compressed).toBe(false);
  expect(target.arrivals.every((a) => a.encoding === undefined || a.encoding === 'identity')).toBe(true);
  expect(sortedHex(target.arrivals.map((a) => a.wire))).toEqual(sortedHex(originals));
});

test('headers: text as given, a -bin header as the bytes its base64 names', async () => {
  target.arrivals.length = 0;
  const bytes = Buffer.from([0, 1, 2, 0xfe, 0xff]);
  const client = new GrpcTarget({
    address: target.address,
    tls: false,
    headers: { 'x-scope-orgid': 'replayed', 'x-probe-bin': bytes.toString('base64').replace(/=+$/, '') },
  });
  try {
    expect((await replay(archive, client, options)).delivered).toBe(true);
  } finally {
    client.close();
  }
  expect(target.arrivals).toHaveLength(originals.length);
  for (const arrival of target.arrivals) {
    expect(arrival.headers['x-scope-orgid']).toBe('replayed');
    expect(Buffer.from(arrival.headers['x-probe-bin']!, 'base64')).toEqual(bytes);
  }
  expect(() => new GrpcTarget({ address: target.address, tls: false, headers: { 'x-probe-bin': 'not base64!' } })).toThrow(
    'header x-probe-bin: the value of a -bin header is base64 of the bytes to send',
  );
});
