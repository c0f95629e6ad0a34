// Access and admission at the headers of an OTLP/gRPC Export. grpc-js reads a request body only once the handler
// asks for it (the stream stays paused until then), so an answer given here — from the headers alone — means the
// body is never read into memory: a caller without a valid token, with the wrong scope or tenant, or arriving while
// the server is overloaded is refused before it costs a byte of body or an admission reservation.
import * as grpc from '@grpc/grpc-js';
import type { CallerPolicy } from '../admission/caller.js';
import { grpcCredentials } from '../grpc/caller-metadata.js';
import { attachGrant } from '../grpc/call-grants.js';
import { toGrpcError } from '../grpc/grpc-errors.js';
import { OTLP_SERVICE_NAMES } from '../grpc/otlp-services.js';
import type { Signal } from '../model.js';
import type { Logger } from '../telemetry/logger.js';
import type { Ingest } from './ingest.js';

const SIGNAL_BY_PATH = new Map<string, Signal>(
  Object.entries(OTLP_SERVICE_NAMES).map(([signal, service]) => [`/${service}/Export`, signal as Signal]),
);

export function admissionInterceptor(ingest: Ingest, callers: CallerPolicy, retryAfterMs: number, logger: Logger): grpc.ServerInterceptor {
  return (method, call) => {
    const signal = SIGNAL_BY_PATH.get(method.path);
    if (signal === undefined) return new grpc.ServerInterceptingCall(call);
    let endReceive: (() => void) | null = null;
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, pass) => {
            try {
              // Who, which tenant, and may they ingest — before any reservation is taken.
              attachGrant(metadata, callers.authorize(grpcCredentials(metadata, callers.tenantHeader), 'ingest'));
              endReceive = ingest.beginReceive();
            } catch (error) {
              const mapped = toGrpcError(error, retryAfterMs);
              ingest.recordRejection(signal, mapped.reason);
              if (mapped.unexpected) logger.error({ err: error, signal }, 'export refused at its headers');
              else logger.debug({ signal, reason: mapped.reason, message: mapped.status.details }, 'export refused at its headers');
              call.sendStatus({ code: grpc.status.UNAVAILABLE, details: '', metadata: new grpc.Metadata(), ...mapped.status });
              return;
            }
            pass(metadata);
          },
          onReceiveMessage: (message, pass) => {
            endReceive?.();
            pass(message);
          },
          onReceiveHalfClose: (pass) => {
            endReceive?.();
            pass();
          },
          onCancel: () => endReceive?.(),
        });
      },
      sendStatus: (status, next) => {
        endReceive?.();
        next(status);
      },
    });
  };
}
