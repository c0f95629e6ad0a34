// Replay to an OTLP/gRPC target behind TLS and mutual TLS (a real grpc-js server with a throwaway PKI): --tls with
// --ca, a client certificate, and an authorization header; and what a wrong CA or a missing client certificate does.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Signal } from '../../src/model.js';
import { SIGNALS } from '../../src/model.js';
import { otlpServiceDefinition } from '../../src/grpc/otlp-services.js';
import { GrpcTarget, type GrpcTargetOptions } from '../../src/replay/grpc-target.js';
import { replay, type ReplayOptions } from '../../src/replay/replay-engine.js';
import { buildArchive, type BuiltArchive } from '../helpers/archive-builder.js';
import { makePki, pem, type TestPki } from '../helpers/certs.js';
import { tracePayload } from '../helpers/otlp-payloads.js';

let dir: string;
let pki: TestPki;
let archive: BuiltArchive;
let server: grpc.Server;
let address: string;
const accepted: { signal: Signal; authorization: string }[] = [];
const clients: GrpcTarget[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-tls-'));
  pki = makePki(dir);
  archive = await buildArchive(path.join(dir, 'archive'), [
    { signal: 'traces', bytes: tracePayload(91, 3).proto, receivedAtMs: 1_750_000_000_000 },
    { signal: 'traces', bytes: tracePayload(92, 3).proto, receivedAtMs: 1_750_000_000_001 },
  ]);
  server = new grpc.Server();
  for (const signal of SIGNALS) {
    server.addService(otlpServiceDefinition(signal), {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        accepted.push({ signal, authorization: String(call.metadata.get('authorization')[0] ?? '') });
        callback(null, Buffer.alloc(0));
      },
    });
  }
  // Mutual TLS: the client must present a certificate from the test CA.
  const credentials = grpc.ServerCredentials.createSsl(pem(pki.ca.cert), [{ private_key: pem(pki.server.key), cert_chain: pem(pki.server.cert) }], true);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  address = `127.0.0.1:${port}`;
});

afterAll(async () => {
  for (const client of clients) client.close();
  server.forceShutdown();
  await archive.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const options: ReplayOptions = {
  filter: {}, timeShift: { kind: 'none' }, speed: 'max', concurrency: 2, dryRun: false,
  retry: { initialBackoffMs: 20, maxBackoffMs: 100, maxRetryTimeMs: 600 },
};

function client(settings: Omit<GrpcTargetOptions, 'address'>): GrpcTarget {
  const target = new GrpcTarget({ address, ...settings });
  clients.push(target);
  return target;
}

test('--tls --ca --cert --key with an authorization header: every request arrives, with the header', async () => {
  accepted.length = 0;
  const target = client({ tls: true, caFile: pki.ca.cert, certFile: pki.client.cert, keyFile: pki.client.key, headers: { authorization: 'Bearer s3cret' } });
  const summary = await replay(archive, target, options);
  expect(summary).toMatchObject({ delivered: true, failure: null, sent: { requests: 2 } });
  expect(accepted).toEqual([
    { signal: 'traces', authorization: 'Bearer s3cret' },
    { signal: 'traces', authorization: 'Bearer s3cret' },
  ]);
});

test('an untrusted server certificate or no client certificate: the Export fails (UNAVAILABLE), nothing arrives', async () => {
  accepted.length = 0;
  const payload = Buffer.from(tracePayload(93, 1).proto);
  const wrongCa = await client({ tls: true, caFile: pki.rogueCa.cert, certFile: pki.client.cert, keyFile: pki.client.key }).export('traces', payload);
  expect(wrongCa).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
  if (!wrongCa.ok) expect(wrongCa.details).toMatch(/certificate/i);
  const noClientCert = await client({ tls: true, caFile: pki.ca.cert }).export('traces', payload);
  expect(noClientCert).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
  expect(accepted).toEqual([]);
});

test('a replay whose TLS handshake fails stops at once with the reason, instead of retrying for minutes', async () => {
  accepted.length = 0;
  const patient: ReplayOptions = { ...options, retry: { initialBackoffMs: 20, maxBackoffMs: 100, maxRetryTimeMs: 120_000 } };
  for (const settings of [
    { tls: true, caFile: pki.rogueCa.cert, certFile: pki.client.cert, keyFile: pki.client.key },
    { tls: true, caFile: pki.ca.cert },
  ]) {
    const summary = await replay(archive, client(settings), patient);
    expect(summary.delivered).toBe(false);
    expect(summary.retried).toBe(0);
    expect(summary.failure?.reason).toMatch(/UNAVAILABLE: [\s\S]*\(the TLS handshake with the target failed: check --tls, --ca, --cert and --key\)/);
  }
  expect(accepted).toEqual([]);
});

test('--ca, --cert or --key without --tls, or --cert without --key, are refused before anything connects', () => {
  expect(() => new GrpcTarget({ address, tls: false, caFile: pki.ca.cert })).toThrow(/need --tls/);
  expect(() => new GrpcTarget({ address, tls: true, certFile: pki.client.cert })).toThrow(/--cert and --key go together/);
});
