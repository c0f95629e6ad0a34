// Who may write and read which tenant: the bearer token (when auth is on) and the tenant header, combined the same
// way for every transport (OTLP/gRPC, OTLP/HTTP, CaptureService).
//
// A token bound to tenant A writes to A whether or not it sends the header, and may send A; naming any other tenant
// is PERMISSION_DENIED. On the read side it only ever sees A. Unbound tokens (and every caller when auth is off)
// name their tenant with the header, or get the default tenant.
import { InvalidArgumentError, PermissionDeniedError } from '../errors.js';
import type { BearerAuth } from './auth.js';
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

export class CallerPolicy {
  constructor(private readonly auth: BearerAuth, private readonly options: CallerPolicyOptions) {}

  get tenantHeader(): string {
    return this.options.tenantHeader;
  }

  get authEnabled(): boolean {
    return this.auth.enabled;
  }

  /**
   * The tenant an Export is stored under.
   * @throws UnauthenticatedError, InvalidArgumentError (malformed tenant), PermissionDeniedError (another tenant).
   */
  writeTenant(credentials: CallerCredentials): string {
    const principal = this.auth.authenticate(credentials.authorization);
    const named = this.headerTenant(credentials);
    if (principal.tenant === undefined) return named ?? this.options.defaultTenant;
    if (named !== undefined && named !== principal.tenant) throw this.denied(principal.tenant, named, 'write to');
    return principal.tenant;
  }

  /**
   * The one tenant a read is restricted to, or undefined for every tenant. `asked` is the tenant the request itself
   * names (a filter field); it can narrow what the caller sees, never widen it.
   */
  readTenant(credentials: CallerCredentials, asked?: string): string | undefined {
    const principal = this.auth.authenticate(credentials.authorization);
    const named = this.headerTenant(credentials);
    const field = asked === undefined || asked === '' ? undefined : resolveTenant(asked, this.options.defaultTenant, 'tenant');
    if (principal.tenant !== undefined) {
      for (const other of [named, field]) {
        if (other !== undefined && other !== principal.tenant) throw this.denied(principal.tenant, other, 'read');
      }
      return principal.tenant;
    }
    if (field === undefined) return named;
    if (named !== undefined && field !== named) {
      throw new InvalidArgumentError(
        `tenant ${JSON.stringify(field)} differs from the caller's tenant ${JSON.stringify(named)} ` +
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
