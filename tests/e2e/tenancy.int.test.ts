// Tenancy end to end: tenants come from the header or from the token they are bound to; each tenant's requests land
// under `<tenant>/<signal>/` and nowhere else, whatever hostile tenant or service strings clients send; and the read
// side (CaptureService over gRPC, CLI list/get with --tenant) never returns another tenant's data.
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { readArchive } from '../helpers/archive-reader.js';
import { listJson } from '../helpers/capture-cli.js';
import { grpcExport, unary } from '../helpers/grpc-calls.js';
import { decodeStatus, post } from '../helpers/otlp-http-client.js';
import { runCli, startServer, type ServerProcess } from '../helpers/server-process.js';
import { uniqueTraceRequest } from '../helpers/small-requests.js';
import { waitFor } from '../helpers/wait.js';

const TOKEN_A = 'tenant-a-token-91c2e0';
const TOKEN_B = 'tenant-b-token-5d7fa4';
const ADMIN = 'admin-token-0b38e6';
const PROTOBUF = { 'content-type': 'application/x-protobuf' };
const insecure = grpc.credentials.createInsecure();

const HOSTILE_TENANTS = ['../', '..', '../../etc', '%2e%2e', '%2e%2e%2f', '.%2e', 'a/b', 'a\\b', '.hidden', 'team-a/../team-b', 'x'.repeat(64), 'x'.repeat(10_000), 'team a', 'team-a;team-b', 'tëam'];
const HOSTILE_SERVICES = ['../../../../etc/passwd', '%2e%2e%2f%2e%2e%2f', 'a\u0000b', '/absolute/path', 'C:\\windows', 's'.repeat(100_000), '..'];

interface CapturedRow {
  id: string;
  tenant: string;
  objectKey: string;
}

let dir: string;
let data: string;
let server: ServerProcess;
let httpUrl: string;
let grpcAddress: string;
let apiAddress: string;
/** What each tenant sent and had acknowledged, hex-encoded. */
const sent = new Map<string, string[]>();

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

function record(tenant: string, payload: Buffer): void {
  sent.set(tenant, [...(sent.get(tenant) ?? []), payload.toString('hex')]);
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-tenancy-'));
  data = path.join(dir, 'data');
  const config = path.join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      'auth:',
      '  bearerTokens:',
      // Each writes and reads (scopes say so explicitly: a token without scopes may only ingest).
      `    - { token: ${TOKEN_A}, tenant: team-a, scopes: [ingest, read] }`,
      `    - { token: ${TOKEN_B}, tenant: team-b, scopes: [ingest, read] }`,
      `    - { token: ${ADMIN}, scopes: [ingest, read, replay] }`,
      'archiver:',
      '  maxObjectAge: 200ms',
    ].join('\n'),
  );
  server = await startServer(['--config', config, '--data-dir', data]);
  httpUrl = `http://127.0.0.1:${server.httpPort}`;
  grpcAddress = server.grpcAddress;
  apiAddress = server.apiAddress;

  // team-a without the header (bound token), over both transports; team-b naming itself; the admin token naming
  // team-c and the default tenant.
  let n = 0;
  const viaHttp = async (tenant: string, headers: Record<string, string>, service = 'svc'): Promise<void> => {
    const payload = uniqueTraceRequest(n++, 200, service);
    expect((await post(`${httpUrl}/v1/traces`, payload, { ...PROTOBUF, ...headers })).status).toBe(200);
    record(tenant, payload);
  };
  const viaGrpc = async (tenant: string, headers: Record<string, string>, service = 'svc'): Promise<void> => {
    const payload = uniqueTraceRequest(n++, 200, service);
    expect(await grpcExport(grpcAddress, insecure, payload, headers)).toEqual({ ok: true });
    record(tenant, payload);
  };
  await viaHttp('team-a', bearer(TOKEN_A));
  await viaGrpc('team-a', bearer(TOKEN_A));
  await viaHttp('team-a', { ...bearer(TOKEN_A), 'x-scope-orgid': 'team-a' });
  await viaHttp('team-b', { ...bearer(TOKEN_B), 'X-Scope-OrgID': 'team-b' });
  await viaGrpc('team-b', bearer(TOKEN_B));
  await viaGrpc('team-c', { ...bearer(ADMIN), 'x-scope-orgid': 'team-c' });
  await viaHttp('default', bearer(ADMIN));
  // Hostile service names are data, not names of anything: stored, and never part of a key.
  for (const service of HOSTILE_SERVICES) await viaHttp('team-a', bearer(TOKEN_A), service);
  await viaGrpc('team-b', bearer(TOKEN_B), HOSTILE_SERVICES[0]);

  const total = [...sent.values()].reduce((sum, list) => sum + list.length, 0);
  await waitFor('every request archived', async () => ((await listJson(data)).length >= total ? true : undefined));
}, 60_000);

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('write side', () => {
  test('a token bound to team-a cannot write to another tenant (HTTP 403, gRPC PERMISSION_DENIED)', async () => {
    const payload = uniqueTraceRequest(900);
    const reply = await post(`${httpUrl}/v1/traces`, payload, { ...PROTOBUF, ...bearer(TOKEN_A), 'x-scope-orgid': 'team-b' });
    expect(reply.status).toBe(403);
    expect(await grpcExport(grpcAddress, insecure, payload, { ...bearer(TOKEN_A), 'x-scope-orgid': 'default' })).toMatchObject({
      ok: false,
      code: grpc.status.PERMISSION_DENIED,
    });
  });

  test.each(HOSTILE_TENANTS.map((tenant) => [tenant.length > 40 ? `${tenant.slice(0, 12)}… (${tenant.length})` : tenant, tenant]))(
    'hostile tenant %j is refused on both transports',
    async (_label, tenant) => {
      const payload = uniqueTraceRequest(901);
      const reply = await post(`${httpUrl}/v1/traces`, payload, { ...PROTOBUF, ...bearer(ADMIN), 'x-scope-orgid': tenant });
      expect(reply.status).toBe(400);
      expect(decodeStatus(reply.body, 'protobuf').message).toMatch(/invalid tenant in header x-scope-orgid/);
      // grpc-js will not send non-ASCII metadata at all; HTTP (above) carries it as latin1.
      if (/[^\x20-\x7e]/.test(tenant)) return;
      const outcome = await grpcExport(grpcAddress, insecure, payload, { ...bearer(ADMIN), 'x-scope-orgid': tenant });
      expect(outcome).toMatchObject({ ok: false, code: grpc.status.INVALID_ARGUMENT });
    },
  );

  test('a NUL byte in the tenant header is refused before it reaches the server (HTTP parser), and the server keeps serving', async () => {
    const payload = uniqueTraceRequest(902);
    const status = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(server.httpPort, '127.0.0.1', () => {
        socket.write(
          `POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nAuthorization: Bearer ${ADMIN}\r\n` +
            `X-Scope-OrgID: a\u0000b\r\nContent-Length: ${payload.length}\r\nConnection: close\r\n\r\n`,
        );
        // The body is not sent: the parser refuses at the header, and body bytes the server never reads would make
        // its close a TCP reset that can reach us before its 400 does.
        socket.end();
      });
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      socket.on('end', () => resolve(text.split('\r\n')[0] ?? ''));
      socket.on('error', reject);
    });
    expect(status).toMatch(/^HTTP\/1\.1 400 /);
    expect((await post(`${httpUrl}/v1/traces`, Buffer.alloc(0), { ...PROTOBUF, ...bearer(ADMIN) })).status).toBe(200);
  });
});

describe('storage layout', () => {
  test('every object key is <tenant>/<signal>/YYYY/MM/DD/HH/<ulid>.otlpc for a tenant that was sent', async () => {
    const rows = await listJson(data);
    expect(new Set(rows.map((row) => row.tenant))).toEqual(new Set(['team-a', 'team-b', 'team-c', 'default']));
    for (const row of rows) {
      expect(row.object).toMatch(new RegExp(`^${row.tenant}/traces/\\d{4}/\\d{2}/\\d{2}/\\d{2}/[0-9A-HJKMNP-TV-Z]{26}\\.otlpc$`));
    }
  });

  test('hostile service names were stored as data (listed as sent) and appear in no key or file name', async () => {
    const rows = await listJson(data, '--tenant', 'team-a');
    const services = new Set(rows.flatMap((row) => row.services));
    for (const service of HOSTILE_SERVICES) expect(services.has(service)).toBe(true);
    const files = walk(path.join(data, 'objects'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      expect(file).toMatch(/^(team-a|team-b|team-c|default)\/traces\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/[0-9A-Z]{26}\.otlpc$/);
    }
    // Nothing was written next to the data directory either.
    expect(readdirSync(dir).sort()).toEqual(['config.yaml', 'data']);
    expect(readdirSync(data).sort()).toEqual(expect.arrayContaining(['index.sqlite', 'objects', 'spool']));
  });
});

/** Files under `root`, as '/'-separated paths relative to it. */
function walk(root: string, prefix = ''): string[] {
  return readdirSync(path.join(root, prefix)).flatMap((name) => {
    const relative = prefix ? `${prefix}/${name}` : name;
    return statSync(path.join(root, relative)).isDirectory() ? walk(root, relative) : [relative];
  });
}

describe('read side: CaptureService', () => {
  async function list(headers: Record<string, string>, request: object = {}): Promise<{ error: grpc.ServiceError | null; rows: CapturedRow[] }> {
    const { error, response } = await unary<{ requests: { id: string; tenant: string; object_key: string }[] }>(
      apiAddress, insecure, 'otlpcapture.v1.CaptureService', 'ListRequests', { page_size: 1000, ...request }, headers,
    );
    return { error, rows: (response?.requests ?? []).map((r) => ({ id: r.id, tenant: r.tenant, objectKey: r.object_key })) };
  }

  async function get(headers: Record<string, string>, id: string): Promise<{ error: grpc.ServiceError | null; payload?: Buffer }> {
    const { error, response } = await unary<{ payload?: Buffer }>(apiAddress, insecure, 'otlpcapture.v1.CaptureService', 'GetRequest', { id, format: 'FORMAT_PROTO' }, headers);
    return { error, ...(response?.payload ? { payload: response.payload } : {}) };
  }

  test('a bound token lists its own tenant only, with or without naming it', async () => {
    for (const [token, tenant] of [[TOKEN_A, 'team-a'], [TOKEN_B, 'team-b']] as const) {
      for (const [headers, request] of [[bearer(token), {}], [{ ...bearer(token), 'x-scope-orgid': tenant }, {}], [bearer(token), { tenant }]] as const) {
        const { error, rows } = await list(headers, request);
        expect(error).toBeNull();
        expect(rows.length).toBe(sent.get(tenant)!.length);
        expect(rows.every((row) => row.tenant === tenant && row.objectKey.startsWith(`${tenant}/`))).toBe(true);
      }
    }
  });

  test('a bound token naming another tenant (header or field) is PERMISSION_DENIED; no token is UNAUTHENTICATED', async () => {
    expect((await list({ ...bearer(TOKEN_A), 'x-scope-orgid': 'team-b' })).error?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect((await list(bearer(TOKEN_A), { tenant: 'team-b' })).error?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect((await list({})).error?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await list(bearer('nope'))).error?.code).toBe(grpc.status.UNAUTHENTICATED);
  });

  test("GetRequest: another tenant's id is NOT_FOUND for a bound token; its own is returned byte for byte", async () => {
    const { rows: all } = await list(bearer(ADMIN));
    const ofB = all.find((row) => row.tenant === 'team-b')!;
    const ofA = all.find((row) => row.tenant === 'team-a')!;
    const stolen = await get(bearer(TOKEN_A), ofB.id);
    expect(stolen.error?.code).toBe(grpc.status.NOT_FOUND);
    expect(stolen.error?.details).toBe(`no captured request with id ${JSON.stringify(ofB.id)}`);
    const own = await get(bearer(TOKEN_A), ofA.id);
    expect(own.error).toBeNull();
    expect(sent.get('team-a')).toContain(own.payload!.toString('hex'));
    expect((await get({}, ofA.id)).error?.code).toBe(grpc.status.UNAUTHENTICATED);
  });

  test('an unbound token sees every tenant, or the one it names', async () => {
    const { rows } = await list(bearer(ADMIN));
    const total = [...sent.values()].reduce((sum, l) => sum + l.length, 0);
    expect(rows.length).toBe(total);
    const { rows: onlyC } = await list({ ...bearer(ADMIN), 'x-scope-orgid': 'team-c' });
    expect(onlyC.map((row) => row.tenant)).toEqual(['team-c']);
  });

  test('hostile tenant strings in the read API are INVALID_ARGUMENT, never a query', async () => {
    for (const tenant of ['../team-b', '%2e%2e', 'team-a/../team-b']) {
      expect((await list(bearer(ADMIN), { tenant })).error?.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect((await list({ ...bearer(ADMIN), 'x-scope-orgid': tenant })).error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    }
  });
});

describe('read side: CLI', () => {
  test('list --tenant shows that tenant only, with exactly what it sent', async () => {
    // Bytes read in-process (one CLI process per request would take long); `get` itself is checked below.
    const bytesById = new Map((await readArchive(data)).map((entry) => [entry.request.id, entry.bytes.toString('hex')]));
    for (const tenant of ['team-a', 'team-b', 'team-c', 'default']) {
      const rows = await listJson(data, '--tenant', tenant);
      expect(rows.every((row) => row.tenant === tenant)).toBe(true);
      expect(rows.map((row) => bytesById.get(row.id)).sort()).toEqual([...sent.get(tenant)!].sort());
    }
  });

  test("get --tenant: another tenant's id is not found (exit 1); its own is returned", async () => {
    const ofB = (await listJson(data, '--tenant', 'team-b'))[0]!;
    const asA = await runCli(['get', ofB.id, '--data-dir', data, '--tenant', 'team-a']);
    expect(asA.code).toBe(1);
    expect(asA.stderr).toMatch(/no captured request with id/);
    expect(asA.stdout.length).toBe(0);
    const asB = await runCli(['get', ofB.id, '--data-dir', data, '--tenant', 'team-b']);
    expect(asB.code).toBe(0);
    expect(sent.get('team-b')).toContain(asB.stdout.toString('hex'));
  });

  test('a hostile --tenant is a usage error (exit 2), for list and get', async () => {
    for (const args of [['list', '--tenant', '../team-b'], ['get', '01ARZ3NDEKTSV4RRFFQ69G5FAV', '--tenant', '%2e%2e']]) {
      const result = await runCli([...args, '--data-dir', data]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/is not a tenant name/);
    }
  });
});
