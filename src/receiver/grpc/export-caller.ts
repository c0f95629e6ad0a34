// Who is exporting: the one place the OTLP Export path turns request headers into the tenant to store under
// (bearer token with the ingest scope and tenant header, decided before any body byte is read).
import type http2 from 'node:http2';
import type { CallerPolicy } from '../../admission/caller.js';

const first = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/**
 * @throws UnauthenticatedError, PermissionDeniedError, InvalidArgumentError (CallerPolicy.authorize).
 */
export function exportTenant(callers: CallerPolicy, headers: http2.IncomingHttpHeaders): string {
  return callers.authorize({ authorization: first(headers.authorization), tenant: first(headers[callers.tenantHeader]) }, 'ingest').tenant;
}
