// A throwaway PKI for TLS tests, made with the openssl CLI: a CA, a server certificate for localhost/127.0.0.1, a
// client certificate from the same CA, and a client certificate from a second, untrusted CA. EC P-256 keys: fast.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface CertPair {
  cert: string;
  key: string;
}

export interface TestPki {
  ca: CertPair;
  server: CertPair;
  client: CertPair;
  /** A CA the server does not trust, and a client certificate it issued. */
  rogueCa: CertPair;
  rogueClient: CertPair;
  /** Issues another certificate from the trusted CA (e.g. a rotated server certificate). */
  issue(name: string, usage: 'server' | 'client'): CertPair;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

function makeCa(dir: string, name: string): CertPair {
  const pair = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', pair.key, '-out', pair.cert, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ], dir);
  return pair;
}

function issueFrom(dir: string, ca: CertPair, name: string, usage: 'server' | 'client'): CertPair {
  const pair = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  writeFileSync(
    ext,
    [
      'basicConstraints=CA:FALSE',
      `extendedKeyUsage=${usage === 'server' ? 'serverAuth' : 'clientAuth'}`,
      ...(usage === 'server' ? ['subjectAltName=DNS:localhost,IP:127.0.0.1'] : []),
    ].join('\n') + '\n',
  );
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', pair.key, '-out', csr, '-subj', `/CN=${name}`], dir);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', pair.cert, '-days', '2', '-extfile', ext], dir);
  return pair;
}

export function makePki(dir: string): TestPki {
  const ca = makeCa(dir, 'test-ca');
  const rogueCa = makeCa(dir, 'rogue-ca');
  return {
    ca,
    server: issueFrom(dir, ca, 'server', 'server'),
    client: issueFrom(dir, ca, 'client', 'client'),
    rogueCa,
    rogueClient: issueFrom(dir, rogueCa, 'rogue-client', 'client'),
    issue: (name, usage) => issueFrom(dir, ca, name, usage),
  };
}

export const pem = (file: string): Buffer => readFileSync(file);
