// deploy/compose/gen-certs.sh (the compose stack's `certs` one-shot), run for real with the openssl CLI: it writes
// every file the compose services read from the `certs` volume, otlp-capture's TLS loader accepts the server pair,
// the certificate chains to the CA and names the compose service, the two tokens are ones otlp-capture accepts (and
// different), a second run keeps what the first wrote, and a volume from before the read token gets one added.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BearerAuth, loadBearerTokens } from '../../src/admission/auth.js';
import { TlsFiles } from '../../src/transport/tls.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { repoPath } from './repo-yaml.js';

const SCRIPT = repoPath('deploy/compose/gen-certs.sh');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'gen-certs-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function run(): string {
  return execFileSync('sh', [SCRIPT], { env: { ...process.env, CERT_DIR: path.join(dir, 'certs') }, encoding: 'utf8' });
}

test('writes the CA, the server pair and the tokens the compose services read', () => {
  expect(run()).toMatch(/^certs: wrote/);
  expect(readdirSync(path.join(dir, 'certs')).sort()).toEqual(['ca.crt', 'read-token', 'server.crt', 'server.key', 'token']);
});

test('the server certificate chains to the CA and names otlp-capture, localhost and 127.0.0.1', () => {
  const ca = new X509Certificate(readFileSync(path.join(dir, 'certs/ca.crt')));
  const server = new X509Certificate(readFileSync(path.join(dir, 'certs/server.crt')));
  expect(ca.ca).toBe(true);
  expect(server.ca).toBe(false);
  expect(server.verify(ca.publicKey)).toBe(true);
  expect(server.checkHost('otlp-capture')).toBe('otlp-capture');
  expect(server.checkHost('localhost')).toBe('localhost');
  expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
  expect(server.checkHost('elsewhere.example')).toBeUndefined();
});

test('otlp-capture loads the pair as its server TLS, and the token as a bearer token', () => {
  const files = TlsFiles.load(
    { certFile: path.join(dir, 'certs/server.crt'), keyFile: path.join(dir, 'certs/server.key'), requireClientCert: false, reloadIntervalMs: 0 },
    createLogger('silent'),
  );
  files.close();
  const tokens = loadBearerTokens([{ tokenFile: path.join(dir, 'certs/token') }, { tokenFile: path.join(dir, 'certs/read-token'), scopes: ['read', 'replay'] }]);
  expect(tokens.map((t) => t.token)).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/), expect.stringMatching(/^[0-9a-f]{64}$/)]);
  expect(tokens[0]!.token).not.toBe(tokens[1]!.token);
  // The two are accepted together (one secret with two sets of scopes would be refused).
  expect(new BearerAuth(tokens).enabled).toBe(true);
});

test('the key and token are readable by their owner only', () => {
  const mode = (file: string): string => (statSync(path.join(dir, 'certs', file)).mode & 0o777).toString(8);
  expect(mode('server.key')).toBe('400');
  expect(mode('token')).toBe('400');
  expect(mode('read-token')).toBe('400');
  expect(mode('ca.crt')).toBe('444');
});

test('a second run keeps the certificates and tokens', () => {
  const before = readFileSync(path.join(dir, 'certs/token'), 'utf8');
  const readBefore = readFileSync(path.join(dir, 'certs/read-token'), 'utf8');
  expect(run()).toMatch(/^certs: keeping the certificates and tokens/);
  expect(readFileSync(path.join(dir, 'certs/token'), 'utf8')).toBe(before);
  expect(readFileSync(path.join(dir, 'certs/read-token'), 'utf8')).toBe(readBefore);
});

test('a volume made before the read token existed keeps everything and gets a read token', () => {
  const certificate = readFileSync(path.join(dir, 'certs/server.crt'), 'utf8');
  const token = readFileSync(path.join(dir, 'certs/token'), 'utf8');
  unlinkSync(path.join(dir, 'certs/read-token'));
  expect(run()).toMatch(/^certs: keeping the certificates and token in .*; wrote a read token/);
  expect(readFileSync(path.join(dir, 'certs/server.crt'), 'utf8')).toBe(certificate);
  expect(readFileSync(path.join(dir, 'certs/token'), 'utf8')).toBe(token);
  expect(readFileSync(path.join(dir, 'certs/read-token'), 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
  expect((statSync(path.join(dir, 'certs/read-token')).mode & 0o777).toString(8)).toBe('400');
});
