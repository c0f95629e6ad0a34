// Bearer-token authentication for OTLP Export and CaptureService calls. Compatible with the Collector's
// `bearertokenauth` extension and with plain exporter `headers: { authorization: "Bearer <token>" }`. Each token
// carries its scopes (what it may be used for) and optionally the one tenant it is bound to.
//
// Tokens are secrets: they are compared in constant time (SHA-256 digests, so neither content nor length leaks
// through timing), and no message built here ever contains a token, configured or presented.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, UnauthenticatedError } from '../errors.js';
import { DEFAULT_SCOPES, SCOPES, type Scope } from './scopes.js';

/** One configured token: inline or read from a file (a mounted Secret), optionally bound to a tenant. */
export interface BearerTokenSource {
  token?: string | undefined;
  tokenFile?: string | undefined;
  tenant?: string | undefined;
  /** Default: ingest only. */
  scopes?: readonly Scope[] | undefined;
}

export interface BearerToken {
  token: string;
  tenant?: string | undefined;
  scopes: readonly Scope[];
}

/**
 * Who is calling. `tenant` is the tenant the token is bound to; undefined when the caller may name any tenant.
 * `scopes` is what the token allows (everything when authentication is off).
 */
export interface Principal {
  tenant?: string | undefined;
  scopes: ReadonlySet<Scope>;
}

const EVERY_SCOPE: ReadonlySet<Scope> = new Set(SCOPES);

/** RFC 6750 b64token is narrower; any printable ASCII without spaces survives every header path unchanged. */
const TOKEN_PATTERN = /^[\x21-\x7e]+$/;
const BEARER_PATTERN = /^bearer[ \t]+(\S+)[ \t]*$/i;

/** Resolves `tokenFile` entries (file content without surrounding whitespace) and checks every token's shape. */
export function loadBearerTokens(sources: readonly BearerTokenSource[]): BearerToken[] {
  return sources.map((source, i) => {
    const where = `auth.bearerTokens[${i}]`;
    let token = source.token;
    if (source.tokenFile !== undefined) {
      try {
        token = readFileSync(source.tokenFile, 'utf8').trim();
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? String(error);
        throw new ConfigError(`cannot read ${where}.tokenFile ${source.tokenFile}: ${code}`);
      }
      if (token === '') throw new ConfigError(`${where}.tokenFile ${source.tokenFile} is empty`);
    }
    if (token === undefined || token === '') throw new ConfigError(`${where}: set token or tokenFile`);
    if (!TOKEN_PATTERN.test(token)) {
      throw new ConfigError(`${where}: a token must be printable ASCII without spaces (the token is not shown)`);
    }
    const scopes = [...new Set(source.scopes ?? DEFAULT_SCOPES)].sort();
    return source.tenant === undefined ? { token, scopes } : { token, tenant: source.tenant, scopes };
  });
}

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

export class BearerAuth {
  private readonly entries: readonly { digest: Buffer; principal: Principal }[];

  /** No tokens: authentication is off and every caller is an unbound principal with every scope. */
  constructor(tokens: readonly (Omit<BearerToken, 'scopes'> & { scopes?: readonly Scope[] })[]) {
    const seen = new Map<string, string>();
    for (const [i, token] of tokens.entries()) {
      const key = digest(token.token).toString('hex');
      // Which tenant or which powers would it be? The same secret in two entries is a mistake (often the ingest
      // token reused as the read token); refusing it keeps the two powers apart.
      const shape = `${token.tenant ?? ''}|${[...new Set(token.scopes ?? DEFAULT_SCOPES)].sort().join(',')}`;
      if (seen.has(key) && seen.get(key) !== shape) {
        throw new ConfigError(`auth.bearerTokens[${i}]: the same token is configured twice with different tenants or scopes`);
      }
      seen.set(key, shape);
    }
    this.entries = tokens.map(({ token, tenant, scopes }) => ({
      digest: digest(token),
      principal: { ...(tenant === undefined ? {} : { tenant }), scopes: new Set(scopes ?? DEFAULT_SCOPES) },
    }));
  }

  get enabled(): boolean {
    return this.entries.length > 0;
  }

  /** Whether any configured token carries `scope`. */
  grants(scope: Scope): boolean {
    return this.entries.some((entry) => entry.principal.scopes.has(scope));
  }

  /**
   * The principal for an `authorization` header value.
   * @throws UnauthenticatedError when authentication is on and the header is missing, not Bearer, or not a token.
   */
  authenticate(authorization: string | undefined): Principal {
    if (!this.enabled) return { scopes: EVERY_SCOPE };
    if (authorization === undefined || authorization === '') {
      throw new UnauthenticatedError('missing bearer token: send the header "authorization: Bearer <token>"');
    }
    const presented = BEARER_PATTERN.exec(authorization)?.[1];
    if (presented === undefined) throw new UnauthenticatedError('the authorization header is not of the form "Bearer <token>"');
    const wanted = digest(presented);
    let match: Principal | undefined;
    // Every entry is compared, so the time taken does not say which one (or whether any) matched.
    for (const entry of this.entries) {
      if (timingSafeEqual(wanted, entry.digest) && match === undefined) match = entry.principal;
    }
    if (match === undefined) throw new UnauthenticatedError('invalid bearer token');
    return match;
  }
}
