// Tenant names come from a request header: untrusted. They become part of object keys and paths, so only a
// conservative alphabet is accepted, and anything else is refused with a message saying what is allowed.
import { InvalidArgumentError } from '../errors.js';

const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function isValidTenant(value: string): boolean {
  return TENANT_PATTERN.test(value) && !value.includes('..');
}

export function resolveTenant(headerValue: string | undefined, defaultTenant: string, headerName: string): string {
  if (headerValue === undefined || headerValue === '') return defaultTenant;
  if (!isValidTenant(headerValue)) {
    throw new InvalidArgumentError(
      `invalid tenant in header ${headerName}: ${JSON.stringify(headerValue.slice(0, 80))}; ` +
        'use 1-63 characters of A-Z a-z 0-9 . _ - starting with a letter or digit',
    );
  }
  return headerValue;
}
