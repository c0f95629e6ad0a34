// OTLP/gRPC Export handlers: caller (token, tenant) from metadata, then the shared ingest step; errors mapped to gRPC
// statuses.
import type * as grpc from '@grpc/grpc-js';
import type { CallerCredentials, CallerPolicy } from '../admission/caller.js';
import { SIGNALS, type Signal } from '../model.js';
import type { Logger } from '../telemetry/logger.js';
import { toGrpcError } from './grpc-errors.js';
import type { Ingest } from './ingest.js';
import { EMPTY_EXPORT_RESPONSE, otlpServiceDefinition } from './otlp-services.js';

export interface OtlpGrpcOptions {
  retryAfterMs: number;
}

export function addOtlpServices(
  server: grpc.Server,
  ingest: Ingest,
  callers: CallerPolicy,
  options: OtlpGrpcOptions,
  logger: Logger,
): void {
  for (const signal of SIGNALS) {
    server.addService(otlpServiceDefinition(signal), { Export: exportHandler(signal, ingest, callers, options, logger) });
  }
}

/** The authorization and tenant metadata of a call (ASCII values; binary ones are ignored). */
export function grpcCredentials(metadata: grpc.Metadata, tenantHeader: string): CallerCredentials {
  const first = (key: string): string | undefined => {
    const value = metadata.get(key)[0];
    return typeof value === 'string' ? value : undefined;
  };
  return { authorization: first('authorization'), tenant: first(tenantHeader) };
}

function exportHandler(
  signal: Signal,
  ingest: Ingest,
  callers: CallerPolicy,
  options: OtlpGrpcOptions,
  logger: Logger,
): grpc.handleUnaryCall<Buffer, Buffer> {
  return (call, callback) => {
    const run = async (): Promise<void> => {
      const tenant = callers.writeTenant(grpcCredentials(call.metadata, callers.tenantHeader));
      await ingest.accept(signal, tenant, call.request);
    };
    run().then(
      () => callback(null, EMPTY_EXPORT_RESPONSE),
      (error: unknown) => {
        const mapped = toGrpcError(error, options.retryAfterMs);
        ingest.recordRejection(signal, mapped.reason);
        if (mapped.unexpected) logger.error({ err: error, signal }, 'export failed');
        else logger.debug({ signal, reason: mapped.reason, message: mapped.status.details }, 'export refused');
        callback(mapped.status as grpc.ServerErrorResponse, null);
      },
    );
  };
}
