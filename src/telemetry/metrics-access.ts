// Who may read the admin listener's /metrics. Its series carry tenant labels and each tenant's traffic, so the
// network gets them only with a bearer token that has the `metrics` scope; a caller on loopback (the host itself, or
// the Pod's own containers) needs none. /healthz and /readyz are not gated (probes come from the network), but
// /readyz tells why it is not ready only to those this gate lets in: the reason can name endpoints and paths.
// `server.admin.allowUnauthenticatedMetrics` opens /metrics to everyone (a trusted network, a proxy that authenticates).
import type { BearerAuth } from '../admission/auth.js';
import { missingScopesMessage } from '../admission/scopes.js';
import { UnauthenticatedError } from '../errors.js';
import { isLoopbackHost, isLoopbackPeer } from '../util/loopback.js';

export type MetricsAccess = { allowed: true } | { allowed: false; status: 401 | 403; message: string };

const ALLOWED: MetricsAccess = { allowed: true };

export class MetricsGate {
  constructor(private readonly auth: BearerAuth, private readonly allowUnauthenticated: boolean) {}

  /** Decided from the peer's address and the `authorization` header alone. */
  check(peerAddress: string | undefined, authorization: string | undefined): MetricsAccess {
    // A token that is presented is checked wherever it comes from: a wrong one is an error, not a fallback.
    if (this.auth.enabled && authorization !== undefined && authorization !== '') {
      let scopes;
      try {
        scopes = this.auth.authenticate(authorization).scopes;
      } catch (error) {
        if (error instanceof UnauthenticatedError) return { allowed: false, status: 401, message: error.message };
        throw error;
      }
      return scopes.has('metrics') ? ALLOWED : { allowed: false, status: 403, message: missingScopesMessage(['metrics']) };
    }
    if (this.allowUnauthenticated || isLoopbackPeer(peerAddress)) return ALLOWED;
    if (this.auth.enabled) {
      return {
        allowed: false,
        status: 401,
        message: 'missing bearer token: /metrics is served to the network only with a token that has the "metrics" scope ' +
          '(send the header "authorization: Bearer <token>")',
      };
    }
    return {
      allowed: false,
      status: 403,
      message: '/metrics is served to loopback callers only while no bearer tokens are configured: configure a token with ' +
        'the "metrics" scope (OTLP_CAPTURE_METRICS_TOKEN, or auth.bearerTokens with scopes: [metrics]) and scrape with it, ' +
        'or set server.admin.allowUnauthenticatedMetrics: true',
    };
  }
}

/**
 * What an operator should know at start about who can scrape: null when nothing is surprising (admin on loopback,
 * /metrics opened on purpose, or a token with the metrics scope exists), else a sentence for the log.
 */
export function metricsReachNote(adminHost: string, auth: BearerAuth, allowUnauthenticated: boolean): string | null {
  if (allowUnauthenticated || isLoopbackHost(adminHost) || auth.grants('metrics')) return null;
  return '/metrics answers loopback callers only: no token has the "metrics" scope, so a Prometheus on another host ' +
    'gets 401/403 (set OTLP_CAPTURE_METRICS_TOKEN and scrape with it, or server.admin.allowUnauthenticatedMetrics: true)';
}
