// otlpcapture_tls_certificate_expiry_timestamp_seconds: the earliest notAfter of the files a listener serves with
// now — the server chain and, for mutual TLS, the client CA bundle — and it follows a rotation.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TlsFiles } from '../../src/transport/tls.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { exportCertificateExpiry } from '../../src/telemetry/tls-expiry.js';

let dir: string;

/** A self-signed EC certificate valid for `days`, written as name.crt / name.key. */
function selfSigned(name: string, days: number): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', String(days), '-subj', `/CN=${name}`,
  ], { stdio: 'pipe' });
  return { cert, key };
}

const notAfterSeconds = (file: string): number => Date.parse(new X509Certificate(readFileSync(file)).validTo) / 1000;

async function expiry(metrics: Metrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of (await metrics.render()).matchAll(/^otlpcapture_tls_certificate_expiry_timestamp_seconds\{listener="(\w+)",file="([^"]+)"\} (\S+)$/gm)) {
    out[`${m[1]} ${path.basename(m[2]!)}`] = Number(m[3]);
  }
  return out;
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tls-expiry-'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('the served certificate expiry is exported per listener and file, and moves when the files are rotated', async () => {
  const first = selfSigned('first', 10);
  const later = selfSigned('later', 90);
  const certFile = path.join(dir, 'tls.crt');
  const keyFile = path.join(dir, 'tls.key');
  copyFileSync(first.cert, certFile);
  copyFileSync(first.key, keyFile);
  const files = TlsFiles.load({ certFile, keyFile, requireClientCert: false, reloadIntervalMs: 0 }, silentLogger());
  const metrics = new Metrics({ processMetrics: false });
  exportCertificateExpiry(metrics, 'otlp', files);

  expect(await expiry(metrics)).toEqual({ 'otlp tls.crt': notAfterSeconds(first.cert) });
  const days = (notAfterSeconds(first.cert) - Date.now() / 1000) / 86_400;
  expect(days).toBeGreaterThan(9.9);
  expect(days).toBeLessThanOrEqual(10);

  copyFileSync(later.cert, certFile);
  copyFileSync(later.key, keyFile);
  expect(await files.poll()).toBe(true);
  expect(await expiry(metrics)).toEqual({ 'otlp tls.crt': notAfterSeconds(later.cert) });
  expect(notAfterSeconds(later.cert)).toBeGreaterThan(notAfterSeconds(first.cert) + 79 * 86_400);
});

test('a chain and a CA bundle count by their earliest certificate; the client CA gets its own series', async () => {
  const leaf = selfSigned('leaf', 60);
  const shortLived = selfSigned('intermediate', 5);
  const caA = selfSigned('ca-a', 30);
  const caB = selfSigned('ca-b', 3);
  const chain = path.join(dir, 'chain.crt');
  writeFileSync(chain, Buffer.concat([readFileSync(leaf.cert), readFileSync(shortLived.cert)]));
  const bundle = path.join(dir, 'clients.crt');
  writeFileSync(bundle, Buffer.concat([readFileSync(caA.cert), readFileSync(caB.cert)]));
  const files = TlsFiles.load(
    { certFile: chain, keyFile: leaf.key, clientCaFile: bundle, requireClientCert: true, reloadIntervalMs: 0 },
    silentLogger(),
  );
  const metrics = new Metrics({ processMetrics: false });
  exportCertificateExpiry(metrics, 'api', files);
  expect(await expiry(metrics)).toEqual({
    'api chain.crt': notAfterSeconds(shortLived.cert),
    'api clients.crt': notAfterSeconds(caB.cert),
  });
});
