// TLS for both OTLP listeners: a certificate and key, and for mutual TLS a client CA. The files are read and checked
// at start (a bad file is a ConfigError, not a listener that refuses every handshake) and polled for changes
// (inode, size, mtime — a Kubernetes Secret update swaps a symlink), so rotated certificates take effect without a
// restart. A changed set that does not load (say the key written before the certificate) is logged and the last
// good one kept; the next poll tries again.
import { readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';

export interface TlsOptions {
  certFile: string;
  keyFile: string;
  /** CA bundle that client certificates must chain to. */
  clientCaFile?: string | undefined;
  requireClientCert: boolean;
  /** How often the files are checked for changes; 0 turns reloading off. */
  reloadIntervalMs: number;
}

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer | undefined;
}

type Listener = (material: TlsMaterial) => void;

export class TlsFiles {
  private readonly listeners = new Set<Listener>();
  private timer: NodeJS.Timeout | null = null;
  private checking = false;
  /** The signature of a changed set that failed to load: not re-read, and logged once, until the files change again. */
  private failedSignature = '';
  private expiry: { material: TlsMaterial; files: { file: string; notAfterMs: number }[] } | null = null;

  private constructor(
    private readonly options: TlsOptions,
    private readonly logger: Logger,
    private current: TlsMaterial,
    private signature: string,
  ) {}

  /** Reads and checks the files now. @throws ConfigError naming the file and the problem. */
  static load(options: TlsOptions, logger: Logger): TlsFiles {
    if (options.requireClientCert && options.clientCaFile === undefined) {
      throw new ConfigError('server.tls.requireClientCert needs server.tls.clientCaFile (the CA client certificates must chain to)');
    }
    if (!options.requireClientCert && options.clientCaFile !== undefined) {
      // Node (and so grpc-js) cannot verify a client certificate only when one is presented: without
      // rejectUnauthorized any certificate would pass. Refuse the half-configured case rather than pretend.
      throw new ConfigError('server.tls.clientCaFile is set but requireClientCert is false: set requireClientCert: true for mutual TLS');
    }
    const material: TlsMaterial = {
      cert: readAtStart('certFile', options.certFile),
      key: readAtStart('keyFile', options.keyFile),
      ...(options.clientCaFile === undefined ? {} : { ca: readAtStart('clientCaFile', options.clientCaFile) }),
    };
    const signature = filesOf(options).map((file) => signatureOf(statSync(file))).join('|');
    check(material, options);
    const files = new TlsFiles(options, logger, material, signature);
    logger.info({ ...describe(material), ...fileNames(options) }, 'TLS certificates loaded');
    return files;
  }

  get material(): TlsMaterial {
    return this.current;
  }

  /** Whether client certificates are asked for and verified against the client CA. */
  get verifiesClients(): boolean {
    return this.options.clientCaFile !== undefined;
  }

  get requireClientCert(): boolean {
    return this.options.requireClientCert;
  }

  /**
   * When the certificates in use expire: the earliest notAfter of the server chain (certFile) and, for mutual TLS,
   * of the client CA bundle. Follows reloads; parsed once per loaded set.
   */
  certificateExpiry(): { file: string; notAfterMs: number }[] {
    if (this.expiry?.material !== this.current) {
      const { certFile, clientCaFile } = this.options;
      const files = [{ file: certFile, pem: this.current.cert }];
      if (clientCaFile !== undefined && this.current.ca !== undefined) files.push({ file: clientCaFile, pem: this.current.ca });
      this.expiry = { material: this.current, files: files.map(({ file, pem }) => ({ file, notAfterMs: earliestNotAfterMs(pem) })) };
    }
    return this.expiry.files;
  }

  /** Called with the new material after every successful reload. Returns the unsubscribe function. */
  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  startWatching(): void {
    if (this.timer || this.options.reloadIntervalMs <= 0) return;
    this.timer = setInterval(() => void this.poll(), this.options.reloadIntervalMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.listeners.clear();
  }

  /** Checks the files once; resolves true when new material was loaded. Exposed for tests and for a SIGHUP. */
  async poll(): Promise<boolean> {
    if (this.checking) return false;
    this.checking = true;
    try {
      let signature = '';
      let material: TlsMaterial;
      try {
        signature = (await Promise.all(filesOf(this.options).map(async (file) => signatureOf(await stat(file))))).join('|');
        if (signature === this.signature || signature === this.failedSignature) return false;
        material = {
          cert: await readFile(this.options.certFile),
          key: await readFile(this.options.keyFile),
          ...(this.options.clientCaFile === undefined ? {} : { ca: await readFile(this.options.clientCaFile) }),
        };
        check(material, this.options);
      } catch (error) {
        // Mid-rotation (a file missing or not matching yet) is normal for a moment; keep serving the last good set.
        // Files that could not even be stat'ed have no signature: remember the error instead.
        const failed = signature || `error:${(error as Error).message}`;
        if (failed !== this.failedSignature) {
          this.failedSignature = failed;
          this.logger.warn({ err: (error as Error).message, ...fileNames(this.options) }, 'TLS files changed but cannot be used; keeping the previous certificates');
        }
        return false;
      }
      this.current = material;
      this.signature = signature;
      this.failedSignature = '';
      this.logger.info({ ...describe(material), ...fileNames(this.options) }, 'TLS certificates reloaded');
      for (const listener of this.listeners) listener(material);
      return true;
    } finally {
      this.checking = false;
    }
  }
}

function readAtStart(key: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new ConfigError(`cannot read server.tls.${key} ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

function filesOf(options: TlsOptions): string[] {
  return [options.certFile, options.keyFile, ...(options.clientCaFile === undefined ? [] : [options.clientCaFile])];
}

function signatureOf(stats: { ino: number; size: number; mtimeMs: number }): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeMs}`;
}

function fileNames(options: TlsOptions): Record<string, string> {
  return {
    certFile: options.certFile,
    keyFile: options.keyFile,
    ...(options.clientCaFile === undefined ? {} : { clientCaFile: options.clientCaFile }),
  };
}

/** Lets OpenSSL parse everything and match key to certificate, as the listener will. */
function check(material: TlsMaterial, options: TlsOptions): void {
  try {
    createSecureContext({ cert: material.cert, key: material.key });
  } catch (error) {
    throw new ConfigError(`server.tls: cannot use certificate ${options.certFile} with key ${options.keyFile}: ${(error as Error).message}`);
  }
  if (material.ca !== undefined) {
    try {
      new X509Certificate(material.ca);
    } catch (error) {
      throw new ConfigError(`server.tls: client CA ${options.clientCaFile} is not a PEM certificate: ${(error as Error).message}`);
    }
  }
}

/** The earliest expiry of the PEM certificates in a file (a chain or a CA bundle). */
function earliestNotAfterMs(pem: Buffer): number {
  const blocks = pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const times = blocks.map((block) => Date.parse(new X509Certificate(block).validTo));
  return times.length > 0 ? Math.min(...times) : Date.parse(new X509Certificate(pem).validTo);
}

function describe(material: TlsMaterial): Record<string, string> {
  const cert = new X509Certificate(material.cert);
  return { subject: cert.subject.replace(/\n/g, ', '), validTo: new Date(cert.validTo).toISOString() };
}

/**
 * gRPC server credentials that follow `files`: grpc-js asks a certificate provider for the identity and CA, and
 * swaps the secure context of the bound server when the provider reports new ones.
 */
export function grpcServerCredentials(files: TlsFiles): grpc.ServerCredentials {
  const identityListeners = new Set<grpc.experimental.IdentityCertificateUpdateListener>();
  const caListeners = new Set<grpc.experimental.CaCertificateUpdateListener>();
  const identity = (): grpc.experimental.IdentityCertificateUpdate => ({
    certificate: files.material.cert,
    privateKey: files.material.key,
  });
  const ca = (): grpc.experimental.CaCertificateUpdate | null =>
    files.material.ca === undefined ? null : { caCertificate: files.material.ca };
  files.onChange(() => {
    for (const listener of caListeners) listener(ca());
    for (const listener of identityListeners) listener(identity());
  });
  // Answered on the next tick: grpc-js registers its own watcher only after adding these listeners.
  const provider: grpc.experimental.CertificateProvider = {
    addIdentityCertificateListener: (listener) => {
      identityListeners.add(listener);
      process.nextTick(() => identityListeners.has(listener) && listener(identity()));
    },
    removeIdentityCertificateListener: (listener) => void identityListeners.delete(listener),
    addCaCertificateListener: (listener) => {
      caListeners.add(listener);
      process.nextTick(() => caListeners.has(listener) && listener(ca()));
    },
    removeCaCertificateListener: (listener) => void caListeners.delete(listener),
  };
  // grpc-js names these parameters (ca, identity) but passes them on as (identity, ca): the identity provider goes
  // first. The second is the CA provider; null means client certificates are not asked for.
  return grpc.experimental.createCertificateProviderServerCredentials(
    provider,
    files.verifiesClients ? provider : null,
    files.requireClientCert,
  );
}
