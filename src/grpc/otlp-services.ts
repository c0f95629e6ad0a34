// The three OTLP collector services as grpc-js service definitions with identity (de)serializers: the Export
// handler receives the request's raw bytes (already gunzipped by grpc-js) and never builds JS objects for spans.
import type * as grpc from '@grpc/grpc-js';
import type { Signal } from '../model.js';

export const OTLP_SERVICE_NAMES: Record<Signal, string> = {
  traces: 'opentelemetry.proto.collector.trace.v1.TraceService',
  metrics: 'opentelemetry.proto.collector.metrics.v1.MetricsService',
  logs: 'opentelemetry.proto.collector.logs.v1.LogsService',
};

const identity = (value: Buffer): Buffer => value;

export function otlpServiceDefinition(signal: Signal): grpc.ServiceDefinition {
  return {
    Export: {
      path: `/${OTLP_SERVICE_NAMES[signal]}/Export`,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  };
}

/** An Export*ServiceResponse with no partial_success: full success. */
export const EMPTY_EXPORT_RESPONSE = Buffer.alloc(0);
