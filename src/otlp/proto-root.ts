// protobufjs reflection of the OTLP collector services, loaded once on first use from our own .proto files.
// Only the JSON views and tools decode fully; the ingest path uses the wire scanner instead.
import path from 'node:path';
import protobuf from 'protobufjs';
import type { Signal } from '../model.js';
import { PROTO_DIR } from '../protos.js';

const SERVICE_FILES: Record<Signal, string> = {
  traces: 'opentelemetry/proto/collector/trace/v1/trace_service.proto',
  metrics: 'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
  logs: 'opentelemetry/proto/collector/logs/v1/logs_service.proto',
};

const REQUEST_TYPES: Record<Signal, string> = {
  traces: 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest',
  metrics: 'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest',
  logs: 'opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest',
};

const RESPONSE_TYPES: Record<Signal, string> = {
  traces: 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse',
  metrics: 'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse',
  logs: 'opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse',
};

let root: protobuf.Root | undefined;

/** The Root holding the three OTLP collector services and everything they import; field names in lowerCamelCase. */
export function otlpRoot(): protobuf.Root {
  if (root === undefined) {
    const loaded = new protobuf.Root();
    // Imports are written relative to the proto root ("opentelemetry/proto/common/v1/common.proto").
    loaded.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(PROTO_DIR, target));
    loaded.loadSync(Object.values(SERVICE_FILES), { keepCase: false });
    loaded.resolveAll();
    root = loaded;
  }
  return root;
}

/** The Export request message type of a signal (e.g. ExportTraceServiceRequest). */
export function requestType(signal: Signal): protobuf.Type {
  return otlpRoot().lookupType(REQUEST_TYPES[signal]);
}

/** The Export response message type of a signal (e.g. ExportTraceServiceResponse). */
export function responseType(signal: Signal): protobuf.Type {
  return otlpRoot().lookupType(RESPONSE_TYPES[signal]);
}

/** Any OTLP message type by its full name, e.g. `opentelemetry.proto.trace.v1.Span`. */
export function otlpType(fullName: string): protobuf.Type {
  return otlpRoot().lookupType(fullName);
}
