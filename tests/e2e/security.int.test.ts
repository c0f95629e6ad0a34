// TLS, mutual TLS and bearer tokens on both OTLP listeners of a real `serve` process, with certificates made for the
// test: clients without a (trusted) client certificate never get through the handshake; with one they still need a
// valid token; health and reflection stay open; /metrics from the network needs a metrics token; rotated certificate
// files are picked up without a restart; and no token ever shows up in the logs.
import { mkdtempSync, renameSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { listJson } from '../helpers/capture-cli.js';
import { makePki, pem, type CertPair, type TestPki } from '../helpers/certs.js';
import { grpcExport as exportTo, unary as unaryAt } from '../helpers/grpc-calls.js';
import { decodeStatus, post } from '../helpers/otlp-http-client.js';
import { tracePayload } from '../helpers/otlp-payloads.js';
import { runCli, startServer, type ServerProcess } from '../helpers/server-process.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';
import { nonLoopbackAddress } from '../helpers/network-address.js';

const BOUND_TOKEN = 'team-a-4f2d9c81e7b05a63';
/** OTLP_CAPTURE_BEARER_TOKEN: ingest only. */
const ADMIN_TOKEN = 'admin-b7e1c0d95a2f4e68';
/** OTLP_CAPTURE_READ_TOKEN: read and replay. */
const READ_TOKEN = 'reader-3e91d07c5ab24f16';
/** OTLP_CAPTURE_METRICS_TOKEN: /metrics only. */
const METRICS_TOKEN = 'scraper-c58e2a917f0b3d44';

let dir: string;
let pki: TestPki;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-security-'));
  pki = makePki(dir);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function clientCredentials(client?: CertPair, ca: string = pki.ca.cert): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(pem(ca), client ? pem(client.key) : null, client ? pem(client.cert) : null);
}

const grpcExport = (port: number, credentials: grpc.ChannelCredentials, payload: Buffer, headers: Record<string, string> = {}) =>
  exportTo(`127.0.0.1:${port}`, credentials, payload, headers);
const unary = (port: number, credentials: grpc.ChannelCredentials, service: 'grpc.health.v1.Health' | 'otlpcapture.v1.CaptureService', method: string, request: object, headers: Record<string, string> = {}) =>
  unaryAt(`127.0.0.1:${port}`, credentials, service, method, request, headers);

/** The subject CN of the certificate a listener presents in a fresh handshake. */
function presentedCn(port: number, alpn: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: pem(pki.ca.cert), servername: 'localhost', ALPNProtocols: [alpn] }, () => {
      const cn = socket.getPeerCertificate().subject?.CN;
      socket.destroy();
      resolve(String(cn));
    });
    socket.on('error', reject);
  });
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const PROTOBUF = { 'content-type': 'application/x-protobuf' };

describe('mutual TLS and bearer tokens on both listeners', () => {
  let server: ServerProcess;
  let httpsUrl: string;
  const tlsClient = () => ({ ca: pem(pki.ca.cert), cert: pem(pki.client.cert), key: pem(pki.client.key) });

  beforeAll(async () => {
    const tokenFile = path.join(dir, 'team-a.token');
    writeFileSync(tokenFile, `${BOUND_TOKEN}\n`);
    const config = path.join(dir, 'mtls.yaml');
    writeFileSync(
      config,
      [
        'server:',
        '  tls:',
        '    requireClientCert: true',
        'auth:',
        '  bearerTokens:',
        `    - { tokenFile: ${tokenFile}, tenant: team-a, scopes: [ingest, read] }`,
        'archiver:',
        '  maxObjectAge: 200ms',
      ].join('\n'),
    );
    // The admin listener on every address, as deployed, so that a caller from the network can be tried.
    server = await startServer(['--config', config, '--data-dir', path.join(dir, 'mtls-data'), '--admin-listen', '0.0.0.0:0'], {
      env: {
        OTLP_CAPTURE_TLS_CERT_FILE: pki.server.cert,
        OTLP_CAPTURE_TLS_KEY_FILE: pki.server.key,
        OTLP_CAPTURE_TLS_CLIENT_CA_FILE: pki.ca.cert,
        OTLP_CAPTURE_BEARER_TOKEN: ADMIN_TOKEN,
        OTLP_CAPTURE_READ_TOKEN: READ_TOKEN,
        OTLP_CAPTURE_METRICS_TOKEN: METRICS_TOKEN,
        // Everything a refusal can log, logged.
        OTLP_CAPTURE_LOG_LEVEL: 'trace',
      },
    });
    httpsUrl = `https://127.0.0.1:${server.httpPort}`;
  });

  afterAll(async () => {
    await server?.stop();
  });

  test('the startup log says TLS is mutual and auth is on', () => {
    expect(server.output()).toMatch(/"tls":"mutual","auth":"bearer"/);
  });

  test('gRPC: no client certificate, an untrusted one, or plaintext: the call never reaches the server', async () => {
    const payload = uniqueTraceRequest(1);
    for (const credentials of [clientCredentials(), clientCredentials(pki.rogueClient), grpc.credentials.createInsecure()]) {
      const outcome = await grpcExport(server.grpcPort, credentials, payload, bearer(ADMIN_TOKEN));
      expect(outcome).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
    }
  });

  test('HTTP: no client certificate, an untrusted one, or plaintext HTTP: refused at the connection', async () => {
    const payload = uniqueTraceRequest(2);
    await expect(post(`${httpsUrl}/v1/traces`, payload, { ...PROTOBUF, ...bearer(ADMIN_TOKEN) }, { tls: { ca: pem(pki.ca.cert) } })).rejects.toThrow();
    await expect(
      post(`${httpsUrl}/v1/traces`, payload, { ...PROTOBUF, ...bearer(ADMIN_TOKEN) }, { tls: { ca: pem(pki.ca.cert), cert: pem(pki.rogueClient.cert), key: pem(pki.rogueClient.key) } }),
    ).rejects.toThrow();
    await expect(post(`http://127.0.0.1:${server.httpPort}/v1/traces`, payload, PROTOBUF)).rejects.toThrow();
    // A client that does not trust the server's CA refuses it too.
    await expect(post(`${httpsUrl}/v1/traces`, payload, PROTOBUF, { tls: { cert: pem(pki.client.cert), key: pem(pki.client.key) } })).rejects.toThrow(/self.signed|unable to verify|certificate/i);
  });

  test('gRPC with a client certificate: token missing or wrong → UNAUTHENTICATED; right → OK; bound token, other tenant → PERMISSION_DENIED', async () => {
    const credentials = clientCredentials(pki.client);
    const payload = uniqueTraceRequest(3);
    expect(await grpcExport(server.grpcPort, credentials, payload)).toEqual({ ok: false, code: grpc.status.UNAUTHENTICATED, details: expect.stringMatching(/missing bearer token/) });
    expect(await grpcExport(server.grpcPort, credentials, payload, bearer('not-the-token'))).toEqual({ ok: false, code: grpc.status.UNAUTHENTICATED, details: 'invalid bearer token' });
    expect(await grpcExport(server.grpcPort, credentials, payload, { authorization: `Basic ${ADMIN_TOKEN}` })).toMatchObject({ ok: false, code: grpc.status.UNAUTHENTICATED });
    expect(await grpcExport(server.grpcPort, credentials, payload, { ...bearer(BOUND_TOKEN), 'x-scope-orgid': 'team-b' })).toEqual({
      ok: false,
      code: grpc.status.PERMISSION_DENIED,
      details: 'this token is bound to tenant "team-a" and may not write to tenant "team-b"',
    });
    expect(await grpcExport(server.grpcPort, credentials, payload, bearer(BOUND_TOKEN))).toEqual({ ok: true });
    expect(await grpcExport(server.grpcPort, credentials, uniqueTraceRequest(4), { ...bearer(ADMIN_TOKEN), 'x-scope-orgid': 'team-b' })).toEqual({ ok: true });
  });

  test('HTTP with a client certificate: 401 + WWW-Authenticate without a valid token, 403 for another tenant, 200 with the right one', async () => {
    const payload = uniqueTraceRequest(5);
    const options = { tls: tlsClient() };
    for (const headers of [{}, bearer('not-the-token'), { authorization: `Basic ${ADMIN_TOKEN}` }]) {
      const reply = await post(`${httpsUrl}/v1/traces`, payload, { ...PROTOBUF, ...headers }, options);
      expect(reply.status).toBe(401);
      expect(reply.headers['www-authenticate']).toBe('Bearer');
      expect(decodeStatus(reply.body, 'protobuf').code).toBe(grpc.status.UNAUTHENTICATED);
    }
    const other = await post(`${httpsUrl}/v1/traces`, payload, { ...PROTOBUF, ...bearer(BOUND_TOKEN), 'x-scope-orgid': 'team-b' }, options);
    expect(other.status).toBe(403);
    expect(decodeStatus(other.body, 'protobuf')).toMatchObject({ code: grpc.status.PERMISSION_DENIED, message: expect.stringMatching(/bound to tenant "team-a"/) });
    const ok = await post(`${httpsUrl}/v1/traces`, payload, { ...PROTOBUF, ...bearer(BOUND_TOKEN), 'x-scope-orgid': 'team-a' }, options);
    expect(ok.status).toBe(200);
  });

  test('the OpenTelemetry exporters (gRPC and HTTP) work with mutual TLS and a bearer header, as a Collector would', async () => {
    const { sdk } = tracePayload(77, 12);
    const grpcExporter = new GrpcTraceExporter({
      url: `https://localhost:${server.grpcPort}`,
      credentials: clientCredentials(pki.client),
      metadata: (() => {
        const metadata = new grpc.Metadata();
        metadata.set('authorization', `Bearer ${BOUND_TOKEN}`);
        return metadata;
      })(),
    });
    const httpExporter = new ProtoTraceExporter({
      url: `${httpsUrl.replace('127.0.0.1', 'localhost')}/v1/traces`,
      headers: { Authorization: `Bearer ${BOUND_TOKEN}` },
      httpAgentOptions: tlsClient(),
    });
    for (const exporter of [grpcExporter, httpExporter]) {
      const result = await new Promise<ExportResult>((resolve) => exporter.export(sdk!.spans!, resolve));
      expect(result).toEqual({ code: ExportResultCode.SUCCESS });
      await exporter.shutdown();
    }
  });

  test('health needs no token; CaptureService (on the API listener, same mutual TLS) needs a read token, and a bound token lists its own tenant only', async () => {
    const credentials = clientCredentials(pki.client);
    for (const port of [server.grpcPort, server.apiPort]) {
      const health = await unary(port, credentials, 'grpc.health.v1.Health', 'Check', { service: '' });
      expect(health).toEqual({ error: null, response: { status: 'SERVING' } });
    }
    // The API listener asks for the client certificate too.
    expect((await unary(server.apiPort, clientCredentials(), 'grpc.health.v1.Health', 'Check', { service: '' })).error?.code).toBe(grpc.status.UNAVAILABLE);
    const anonymous = await unary(server.apiPort, credentials, 'otlpcapture.v1.CaptureService', 'ListRequests', {});
    expect(anonymous.error?.code).toBe(grpc.status.UNAUTHENTICATED);
    // The token every Collector holds may write, not read.
    const ingestOnly = await unary(server.apiPort, credentials, 'otlpcapture.v1.CaptureService', 'ListRequests', {}, bearer(ADMIN_TOKEN));
    expect(ingestOnly.error?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(ingestOnly.error?.details).toBe('this token lacks the "read" scope');
    // And the ingest port does not serve the read API at all.
    const onIngestPort = await unary(server.grpcPort, credentials, 'otlpcapture.v1.CaptureService', 'ListRequests', {}, bearer(READ_TOKEN));
    expect(onIngestPort.error?.code).toBe(grpc.status.UNIMPLEMENTED);
    // The exporters' test sent one payload twice (gRPC and HTTP): with_duplicates lists both copies.
    const rows = await waitFor('team-a and team-b requests archived', async () => {
      const all = await unary(server.apiPort, credentials, 'otlpcapture.v1.CaptureService', 'ListRequests', { page_size: 1000, with_duplicates: true }, bearer(READ_TOKEN));
      const requests = (all.response as { requests: { tenant: string }[] }).requests;
      return requests.some((r) => r.tenant === 'team-b') && requests.filter((r) => r.tenant === 'team-a').length >= 4 ? requests : undefined;
    });
    const asTeamA = await unary(server.apiPort, credentials, 'otlpcapture.v1.CaptureService', 'ListRequests', { page_size: 1000, with_duplicates: true }, bearer(BOUND_TOKEN));
    const teamA = (asTeamA.response as { requests: { tenant: string }[] }).requests;
    expect(teamA.length).toBe(rows.filter((r) => r.tenant === 'team-a').length);
    expect(teamA.every((r) => r.tenant === 'team-a')).toBe(true);
    const peek = await unary(server.apiPort, credentials, 'otlpcapture.v1.CaptureService', 'ListRequests', { tenant: 'team-b' }, bearer(BOUND_TOKEN));
    expect(peek.error?.code).toBe(grpc.status.PERMISSION_DENIED);
    // The read token may not write.
    const write = await grpcExport(server.grpcPort, credentials, uniqueTraceRequest(90), bearer(READ_TOKEN));
    expect(write).toEqual({ ok: false, code: grpc.status.PERMISSION_DENIED, details: 'this token lacks the "ingest" scope' });
  });

  test('admin listener: health open to the network; /metrics from the network only with the metrics token, which may do nothing else', async () => {
    const fromNetwork = `http://${nonLoopbackAddress()}:${server.adminPort}`;
    expect((await fetch(`${fromNetwork}/readyz`)).status).toBe(200);
    const anonymous = await fetch(`${fromNetwork}/metrics`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    expect(await anonymous.text()).not.toMatch(/otlpcapture_/);
    for (const token of [ADMIN_TOKEN, READ_TOKEN, BOUND_TOKEN]) {
      const other = await fetch(`${fromNetwork}/metrics`, { headers: bearer(token) });
      expect(other.status).toBe(403);
      expect(await other.text()).toBe('this token lacks the "metrics" scope\n');
    }
    const scraped = await fetch(`${fromNetwork}/metrics`, { headers: bearer(METRICS_TOKEN) });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toMatch(/otlpcapture_requests_rejected_total\{signal="traces",reason="unauthenticated"\} [1-9]/);
    // The scraper's token cannot write or read telemetry.
    const credentials = clientCredentials(pki.client);
    expect(await grpcExport(server.grpcPort, credentials, uniqueTraceRequest(91), bearer(METRICS_TOKEN))).toEqual({
      ok: false,
      code: grpc.status.PERMISSION_DENIED,
      details: 'this token lacks the "ingest" scope',
    });
    const list = await unary(server.apiPort, credentials, 'otlpcapture.v1.CaptureService', 'ListRequests', {}, bearer(METRICS_TOKEN));
    expect(list.error?.code).toBe(grpc.status.PERMISSION_DENIED);
  });

  test('no token appears anywhere in the logs, even at trace level, and refusals were counted', async () => {
    const output = server.output();
    expect(output).toMatch(/"level":"debug"/); // refusals were logged
    for (const secret of [BOUND_TOKEN, ADMIN_TOKEN, READ_TOKEN, METRICS_TOKEN, 'not-the-token', BOUND_TOKEN.slice(0, 12), ADMIN_TOKEN.slice(0, 12), READ_TOKEN.slice(0, 12), METRICS_TOKEN.slice(0, 12)]) {
      expect(output).not.toContain(secret);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
    expect(metrics).toMatch(/otlpcapture_requests_rejected_total\{signal="traces",reason="unauthenticated"\} [1-9]/);
    expect(metrics).toMatch(/otlpcapture_requests_rejected_total\{signal="traces",reason="permission_denied"\} [1-9]/);
  });
});

describe('server TLS with certificate rotation', () => {
  let server: ServerProcess;
  let certFile: string;
  let keyFile: string;

  /** Replaces a file the way a Secret update does: a new file renamed over the old. */
  function replace(target: string, source: string): void {
    const temp = `${target}.new`;
    copyFileSync(source, temp);
    renameSync(temp, target);
  }

  beforeAll(async () => {
    certFile = path.join(dir, 'live.crt');
    keyFile = path.join(dir, 'live.key');
    copyFileSync(pki.server.cert, certFile);
    copyFileSync(pki.server.key, keyFile);
    const config = path.join(dir, 'tls.yaml');
    writeFileSync(config, `server:\n  tls:\n    certFile: ${certFile}\n    keyFile: ${keyFile}\n    reloadInterval: 200ms\narchiver:\n  maxObjectAge: 200ms\n`);
    server = await startServer(['--config', config, '--data-dir', path.join(dir, 'tls-data')]);
  });

  afterAll(async () => {
    await server?.stop();
  });

  test('TLS without client certificates: a TLS client is served, a plaintext one is not', async () => {
    expect(await grpcExport(server.grpcPort, clientCredentials(), uniqueTraceRequest(10))).toEqual({ ok: true });
    expect(await grpcExport(server.grpcPort, grpc.credentials.createInsecure(), uniqueTraceRequest(11))).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
    const reply = await post(`https://127.0.0.1:${server.httpPort}/v1/traces`, uniqueTraceRequest(12), PROTOBUF, { tls: { ca: pem(pki.ca.cert) } });
    expect(reply.status).toBe(200);
    expect(server.output()).toMatch(/"tls":"server","auth":"off"/);
  });

  test('rotated files are served by both listeners without a restart; a half-written rotation keeps the old pair', async () => {
    expect(await presentedCn(server.grpcPort, 'h2')).toBe('server');
    expect(await presentedCn(server.httpPort, 'http/1.1')).toBe('server');

    const next = pki.issue('server-rotated', 'server');
    // Only the certificate first: it does not match the key, so the old pair stays in use.
    replace(certFile, next.cert);
    await waitFor('the mismatch to be noticed', async () => (/TLS files changed but cannot be used/.test(server.output()) ? true : undefined));
    expect(await presentedCn(server.grpcPort, 'h2')).toBe('server');
    expect(await presentedCn(server.httpPort, 'http/1.1')).toBe('server');

    replace(keyFile, next.key);
    await waitFor('gRPC to present the rotated certificate', async () => ((await presentedCn(server.grpcPort, 'h2')) === 'server-rotated' ? true : undefined));
    await waitFor('HTTP to present the rotated certificate', async () => ((await presentedCn(server.httpPort, 'http/1.1')) === 'server-rotated' ? true : undefined));
    expect(server.output()).toMatch(/TLS certificates reloaded/);
    // And the listeners still work end to end.
    expect(await grpcExport(server.grpcPort, clientCredentials(), uniqueTraceRequest(13))).toEqual({ ok: true });
    const reply = await post(`https://127.0.0.1:${server.httpPort}/v1/traces`, uniqueTraceRequest(14), PROTOBUF, { tls: { ca: pem(pki.ca.cert) } });
    expect(reply.status).toBe(200);
  });

  test('everything acknowledged over TLS was archived', async () => {
    const rows = await waitFor('archived', async () => {
      const listed = await listJson(path.join(dir, 'tls-data'));
      return listed.length >= 4 ? listed : undefined;
    });
    expect(rows).toHaveLength(4);
  });
});

describe('start-up with unusable credentials', () => {
  test('a missing certificate, a key that does not match, or an unreadable token file: exit 2 with one clear line', async () => {
    const data = path.join(dir, 'never');
    const cases: [Record<string, string>, RegExp][] = [
      [{ OTLP_CAPTURE_TLS_CERT_FILE: path.join(dir, 'missing.crt'), OTLP_CAPTURE_TLS_KEY_FILE: pki.server.key }, /^otlp-capture: cannot read server\.tls\.certFile .*missing\.crt: ENOENT\n$/],
      [{ OTLP_CAPTURE_TLS_CERT_FILE: pki.server.cert, OTLP_CAPTURE_TLS_KEY_FILE: pki.client.key }, /cannot use certificate .*server\.crt with key .*client\.key/],
      [{ OTLP_CAPTURE_TLS_CERT_FILE: pki.server.cert, OTLP_CAPTURE_TLS_KEY_FILE: pki.server.key, OTLP_CAPTURE_TLS_CLIENT_CA_FILE: pki.ca.cert }, /server\.tls\.requireClientCert: must be true when clientCaFile is set/],
    ];
    for (const [env, message] of cases) {
      const result = await runCli(['serve', '--data-dir', data, '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--api-listen', '127.0.0.1:0'], { env });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
    }
    const config = path.join(dir, 'bad-token.yaml');
    writeFileSync(config, `auth:\n  bearerTokens:\n    - tokenFile: ${path.join(dir, 'no-such-token')}\n`);
    const result = await runCli(['serve', '--config', config, '--data-dir', data, '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--api-listen', '127.0.0.1:0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/cannot read auth\.bearerTokens\[0\]\.tokenFile .*no-such-token: ENOENT/);
  });
});
