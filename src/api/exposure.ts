// The API listener reads and replays every tenant's data. With no tokens configured, anyone who can connect to it
// may do that: acceptable on loopback (the default), not on an address others can reach — unless the operator says
// so explicitly (a trusted network, a proxy that authenticates).
import { parseListen } from '../config/units.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import { isLoopbackHost } from '../util/loopback.js';

export interface ApiExposure {
  listen: string;
  allowUnauthenticated: boolean;
  /** Any bearer token is configured (then every API call needs one with the right scope). */
  authEnabled: boolean;
}

/** @throws ConfigError when the API would be reachable from the network by anyone. */
export function checkApiExposure(exposure: ApiExposure, logger: Logger): void {
  const host = parseListen(exposure.listen)?.host ?? exposure.listen;
  if (exposure.authEnabled || isLoopbackHost(host)) return;
  if (exposure.allowUnauthenticated) {
    logger.warn(
      { apiListen: exposure.listen },
      'the API listener is reachable from the network without authentication (server.api.allowUnauthenticated: true): anyone who can connect can read and replay every tenant\'s data',
    );
    return;
  }
  throw new ConfigError(
    `server.api.listen is ${exposure.listen}, reachable from the network, but no bearer tokens are configured: anyone ` +
      'who can connect could read and replay every tenant\'s data. Configure a token with the read scope ' +
      '(OTLP_CAPTURE_READ_TOKEN, or auth.bearerTokens with scopes: [read, replay]), listen on loopback ' +
      '(--api-listen 127.0.0.1:4319), or set server.api.allowUnauthenticated: true to accept this',
  );
}
