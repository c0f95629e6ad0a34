// OTLP/gRPC Export handlers: caller (token, tenant) from metadata, then the shared ingest step; errors mapped to gRPC
// statuses.
import type * as grpc from '@grpc/grpc-js';
import type { CallerPolicy } from '../admission/caller.js';
import { grpcCredentials } from '../grpc/caller-metadata.js';
import { SIGNALS, type Signal } from '../model.js';
import type { Logger } from '../telemetry/logger.js';
import { toGrpcError } from '../grpc/grpc-errors.js';
import type { Ingest } from './ingest.js';
import { EMPTY_EXPORT_RESPONSE, otlpServiceDefinition } from '../grpc/otlp-services.js';

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
