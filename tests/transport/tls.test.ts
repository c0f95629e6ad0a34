// TLS files: checked at start with messages that name the file and the problem, reloaded only when a changed set
// is usable; and the server.tls configuration keys (file, environment) with their cross-field rules.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { TlsFiles, type TlsMaterial } from '../../src/transport/tls.js';
import { makePki, pem, type TestPki } from '../helpers/certs.js';

let dir: string;
let pki: TestPki;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-files-'));
  pki = makePki(dir);
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('did not throw');
}

const base = () => ({ certFile: pki.server.cert, keyFile: pki.server.key, requireClientCert: false, reloadIntervalMs: 0 });

describe('TlsFiles.load', () => {
  test('loads certificate, key and client CA', () => {
    const files = TlsFiles.load({ ...base(), clientCaFile: pki.ca.cert, requireClientCert: true }, silentLogger());
    expect(files.material.cert.equals(pem(pki.server.cert))).toBe(true);
    expect(files.material.ca!.equals(pem(pki.ca.cert))).toBe(true);
    expect([files.verifiesClients, files.requireClientCert]).toEqual([true, true]);
    files.close();
  });

  test('a missing file, a key of another certificate, or a CA that is not PEM: ConfigError naming the file', () => {
    const missing = thrown(() => TlsFiles.load({ ...base(), certFile: path.join(dir, 'nope.crt') }, silentLogger()));
    expect(missing).toBeInstanceOf(ConfigError);
    expect(missing.message).toMatch(/^cannot read server\.tls\.certFile .*nope\.crt: ENOENT$/);
    const mismatch = thrown(() => TlsFiles.load({ ...base(), keyFile: pki.client.key }, silentLogger()));
    expect(mismatch.message).toMatch(/cannot use certificate .*server\.crt with key .*client\.key: .*key values mismatch/);
    const garbage = path.join(dir, 'garbage.pem');
    fs.writeFileSync(garbage, 'not a certificate');
    const badCa = thrown(() => TlsFiles.load({ ...base(), clientCaFile: garbage, requireClientCert: true }, silentLogger()));
    expect(badCa.message).toMatch(/client CA .*garbage\.pem is not a PEM certificate/);
  });

  test('half-configured mutual TLS is refused rather than silently accepting any client', () => {
    expect(thrown(() => TlsFiles.load({ ...base(), requireClientCert: true }, silentLogger())).message).toMatch(/requireClientCert needs server\.tls\.clientCaFile/);
    expect(thrown(() => TlsFiles.load({ ...base(), clientCaFile: pki.ca.cert }, silentLogger())).message).toMatch(/clientCaFile is set but requireClientCert is false/);
  });
});

describe('TlsFiles reload', () => {
  test('a changed, usable pair is loaded and announced; an unusable one is skipped until it is fixed', async () => {
    const certFile = path.join(dir, 'live.crt');
    const keyFile = path.join(dir, 'live.key');
    fs.copyFileSync(pki.server.cert, certFile);
    fs.copyFileSync(pki.server.key, keyFile);
    const files = TlsFiles.load({ certFile, keyFile, requireClientCert: false, reloadIntervalMs: 0 }, silentLogger());
    const seen: TlsMaterial[] = [];
    files.onChange((material) => seen.push(material));

    expect(await files.poll()).toBe(false); // nothing changed

    const next = pki.issue('server-next', 'server');
    fs.copyFileSync(next.cert, certFile); // the certificate alone: does not match the key yet
    expect(await files.poll()).toBe(false);
    expect(files.material.cert.equals(pem(pki.server.cert))).toBe(true);
    expect(await files.poll()).toBe(false); // same broken state: not retried, not re-logged

    fs.copyFileSync(next.key, keyFile);
    expect(await files.poll()).toBe(true);
    expect(files.material.cert.equals(pem(next.cert))).toBe(true);
    expect(files.material.key.equals(pem(next.key))).toBe(true);
    expect(seen).toHaveLength(1);

    fs.rmSync(keyFile); // a file gone mid-rotation: keep serving the last good pair
    expect(await files.poll()).toBe(false);
    expect(files.material.key.equals(pem(next.key))).toBe(true);
    files.close();
  });
});

describe('server.tls configuration', () => {
  const load = (env: NodeJS.ProcessEnv, yaml?: string) => {
    let file: string | undefined;
    if (yaml !== undefined) {
      file = path.join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
      fs.writeFileSync(file, yaml);
    }
    return loadConfig({ env, cwd: dir, ...(file ? { file } : {}) });
  };

  test('off by default; server.http defaults to 0.0.0.0:4318 and 64 MiB', () => {
    const config = load({});
    expect(config.server.tls).toBeUndefined();
    expect(config.server.http).toMatchObject({ listen: '0.0.0.0:4318', maxReceiveBytes: 64 * 2 ** 20 });
    expect(load({ OTLP_CAPTURE_HTTP_LISTEN: '127.0.0.1:14318' }).server.http.listen).toBe('127.0.0.1:14318');
  });

  test('from the environment, with paths made absolute against the working directory', () => {
    const config = load({
      OTLP_CAPTURE_TLS_CERT_FILE: 'tls/server.crt',
      OTLP_CAPTURE_TLS_KEY_FILE: '/etc/tls/server.key',
      OTLP_CAPTURE_TLS_CLIENT_CA_FILE: 'tls/ca.crt',
      OTLP_CAPTURE_TLS_REQUIRE_CLIENT_CERT: 'true',
    });
    expect(config.server.tls).toEqual({
      certFile: path.join(dir, 'tls/server.crt'),
      keyFile: '/etc/tls/server.key',
      clientCaFile: path.join(dir, 'tls/ca.crt'),
      requireClientCert: true,
      reloadInterval: 30_000,
    });
  });

  test.each([
    ['server:\n  tls:\n    keyFile: k.pem\n', /server\.tls\.certFile: required: the PEM certificate/],
    ['server:\n  tls:\n    certFile: c.pem\n    keyFile: k.pem\n    requireClientCert: true\n', /server\.tls\.clientCaFile: required when requireClientCert is true/],
    ['server:\n  tls:\n    certFile: c.pem\n    keyFile: k.pem\n    clientCaFile: ca.pem\n', /server\.tls\.requireClientCert: must be true when clientCaFile is set/],
    ['server:\n  tls:\n    certFile: c.pem\n    keyFile: k.pem\n    requireClientCert: yes-please\n', /server\.tls\.requireClientCert: expected true or false, got "yes-please"/],
    ['server:\n  tls:\n    certFile: c.pem\n    keyFile: k.pem\n    reload: 1s\n', /server\.tls: unknown key\(s\) "reload"/],
    ['server:\n  http:\n    listen: "4318"\n', /server\.http\.listen: expected HOST:PORT/],
  ])('%j is refused with a message saying what to fix', (yaml, message) => {
    expect(() => load({}, yaml)).toThrow(message);
  });
});
