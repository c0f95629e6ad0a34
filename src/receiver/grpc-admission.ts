// Admission at the headers of an OTLP/gRPC Export. grpc-js reads (and inflates) a request body before the handler
// runs; this interceptor answers UNAVAILABLE + RetryInfo from the headers alone when the server is overloaded, so a
// refused body is never buffered and memory stays near the in-flight budget under overload.
import * as grpc from '@grpc/grpc-js';
import type { Signal } from '../model.js';
import type { Logger } from '../telemetry/logger.js';
import { toGrpcError } from '../grpc/grpc-errors.js';
import type { Ingest } from './ingest.js';
import { OTLP_SERVICE_NAMES } from '../grpc/otlp-services.js';

const SIGNAL_BY_PATH = new Map<string, Signal>(
  Object.entries(OTLP_SERVICE_NAMES).map(([signal, service]) => [`/${service}/Export`, signal as Signal]),
);

export function admissionInterceptor(ingest: Ingest, retryAfterMs: number, logger: Logger): grpc.ServerInterceptor {
  return (method, call) => {
    const signal = SIGNAL_BY_PATH.get(method.path);
    if (signal === undefined) return new grpc.ServerInterceptingCall(call);
    let endReceive: (() => void) | null = null;
    return new grpc.ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, pass) => {
            try {
              endReceive = ingest.beginReceive();
            } catch (error) {
              const mapped = toGrpcError(error, retryAfterMs);
              ingest.recordRejection(signal, mapped.reason);
              logger.debug({ signal, reason: mapped.reason }, 'export refused at its headers');
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
