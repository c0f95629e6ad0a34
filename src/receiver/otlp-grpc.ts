// OTLP/gRPC Export handlers: tenant from metadata, then the shared ingest step; errors mapped to gRPC statuses.
import type * as grpc from '@grpc/grpc-js';
import { resolveTenant } from '../admission/tenant.js';
import { SIGNALS, type Signal } from '../model.js';
import type { Logger } from '../telemetry/logger.js';
import { toGrpcError } from './grpc-errors.js';
import type { Ingest } from './ingest.js';
import { EMPTY_EXPORT_RESPONSE, otlpServiceDefinition } from './otlp-services.js';

export interface OtlpGrpcOptions {
  tenantHeader: string;
  defaultTenant: string;
  retryAfterMs: number;
}

export function addOtlpServices(server: grpc.Server, ingest: Ingest, options: OtlpGrpcOptions, logger: Logger): void {
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
      const header = call.metadata.get(options.tenantHeader)[0];
      const tenant = resolveTenant(typeof header === 'string' ? header : undefined, options.defaultTenant, options.tenantHeader);
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
