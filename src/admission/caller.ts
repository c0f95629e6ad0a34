// Who may do what, to which tenant: the bearer token (when auth is on), its scopes, and the tenant header, combined the
// same way for every transport (OTLP/gRPC, OTLP/HTTP, CaptureService, and any later one). A transport calls
// `authorize` once, with nothing but the request's headers, before it reads a body or takes an admission reservation:
// that call is the one place where access is decided.
//
// A token bound to tenant A writes to A whether or not it sends the header, and may send A; naming any other tenant
// is PERMISSION_DENIED. On the read side it only ever sees A. Unbound tokens (and every caller when auth is off)
// name their tenant with the header, or get the default tenant (writes) / every tenant (reads).
import { InvalidArgumentError, PermissionDeniedError } from '../errors.js';
import type { BearerAuth, Principal } from './auth.js';
import { DATA_SCOPES, missingScopesMessage, REQUIRED_SCOPES, SCOPES, type Action } from './scopes.js';
import { resolveTenant } from './tenant.js';

/** What a call carries, whatever the transport: the `authorization` header and the tenant header. */
export interface CallerCredentials {
  authorization: string | undefined;
  tenant: string | undefined;
}

export interface CallerPolicyOptions {
  /** Lower-case header name, e.g. x-scope-orgid. */
  tenantHeader: string;
  defaultTenant: string;
}

/** May ingest; `tenant` is where the request is stored. */
export interface IngestGrant {
  readonly action: 'ingest';
  readonly tenant: string;
}

/** May read (or replay); `tenant` is the one tenant visible, undefined for every tenant. */
export interface ReadGrant {
  readonly action: 'read' | 'replay';
  readonly tenant: string | undefined;
  /** The tenant the token is bound to: a request field may not name another. */
  readonly boundTenant: string | undefined;
}

export type Grant = IngestGrant | ReadGrant;

/** Every caller while no token guards the data path: unbound, every scope (as BearerAuth with no tokens). */
const OPEN: Principal = { scopes: new Set(SCOPES) };

export class CallerPolicy {
  /**
   * The data path (ingest, read, replay) needs tokens once any token grants one of its scopes. Tokens that only let a
   * scraper read /metrics do not turn it on: adding one must not lock out Collectors that send no token.
   */
  private readonly guarded: boolean;

  constructor(private readonly auth: BearerAuth, private readonly options: CallerPolicyOptions) {
    this.guarded = DATA_SCOPES.some((scope) => auth.grants(scope));
  }

  get tenantHeader(): string {
    return this.options.tenantHeader;
  }

  get authEnabled(): boolean {
    return this.guarded;
  }

  /**
   * May these credentials do `action`, and as which tenant. Decided from the headers alone.
   * @throws UnauthenticatedError (no valid token), PermissionDeniedError (a scope missing, or a tenant the token is
   * not bound to), InvalidArgumentError (a malformed tenant header).
   */
  authorize(credentials: CallerCredentials, action: 'ingest'): IngestGrant;
  authorize(credentials: CallerCredentials, action: 'read' | 'replay'): ReadGrant;
  authorize(credentials: CallerCredentials, action: Action): Grant;
  authorize(credentials: CallerCredentials, action: Action): Grant {
    const principal = this.guarded ? this.auth.authenticate(credentials.authorization) : OPEN;
    requireScopes(principal, action);
    const named = this.headerTenant(credentials);
    const bound = principal.tenant;
    if (action === 'ingest') {
      if (bound !== undefined && named !== undefined && named !== bound) throw this.denied(bound, named, 'write to');
      return { action, tenant: bound ?? named ?? this.options.defaultTenant };
    }
    if (bound !== undefined && named !== undefined && named !== bound) throw this.denied(bound, named, 'read');
    return { action, tenant: bound ?? named, boundTenant: bound };
  }

  /**
   * The one tenant a read is restricted to, or undefined for every tenant. `asked` is the tenant the request itself
   * names (a filter field, read from the body after `authorize`); it can narrow what the caller sees, never widen it.
   */
  readTenant(grant: ReadGrant, asked: string | undefined): string | undefined {
    const field = asked === undefined || asked === '' ? undefined : resolveTenant(asked, this.options.defaultTenant, 'tenant');
    if (field === undefined) return grant.tenant;
    if (grant.boundTenant !== undefined) {
      if (field !== grant.boundTenant) throw this.denied(grant.boundTenant, field, 'read');
      return field;
    }
    if (grant.tenant !== undefined && field !== grant.tenant) {
      throw new InvalidArgumentError(
        `tenant ${JSON.stringify(field)} differs from the caller's tenant ${JSON.stringify(grant.tenant)} ` +
          `(header ${this.options.tenantHeader}); leave the tenant field empty or make them match`,
      );
    }
    return field;
  }

  private headerTenant(credentials: CallerCredentials): string | undefined {
    const value = credentials.tenant;
    if (value === undefined || value === '') return undefined;
    return resolveTenant(value, this.options.defaultTenant, this.options.tenantHeader);
  }

  private denied(bound: string, other: string, action: string): PermissionDeniedError {
    return new PermissionDeniedError(
      `this token is bound to tenant ${JSON.stringify(bound)} and may not ${action} tenant ${JSON.stringify(other)}`,
    );
  }
}

function requireScopes(principal: Principal, action: Action): void {
  const missing = REQUIRED_SCOPES[action].filter((scope) => !principal.scopes.has(scope));
  if (missing.length > 0) throw new PermissionDeniedError(missingScopesMessage(missing));
}
