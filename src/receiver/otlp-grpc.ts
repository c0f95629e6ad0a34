// OTLP/gRPC Export handlers: the tenant the interceptor decided at the headers (grpc-admission.ts), then the shared
// ingest step; errors mapped to gRPC statuses.
import type * as grpc from '@grpc/grpc-js';
import type { IngestGrant } from '../admission/caller.js';
import { grantOf } from '../grpc/call-grants.js';
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
  options: OtlpGrpcOptions,
  logger: Logger,
): void {
  for (const signal of SIGNALS) {
    server.addService(otlpServiceDefinition(signal), { Export: exportHandler(signal, ingest, options, logger) });
  }
}

function exportHandler(
  signal: Signal,
  ingest: Ingest,
  options: OtlpGrpcOptions,
  logger: Logger,
): grpc.handleUnaryCall<Buffer, Buffer> {
  return (call, callback) => {
    const run = async (): Promise<void> => {
      const { tenant } = grantOf<IngestGrant>(call.metadata, 'ingest');
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
