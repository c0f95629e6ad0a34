// Sends payloads through the real OpenTelemetry JS OTLP/gRPC exporters, as an instrumented app would.
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import type { ExportResult } from '@opentelemetry/core';
import type { GeneratedPayload } from './otlp-payloads.js';

export type Compression = 'gzip' | 'none';

function done(run: (callback: (result: ExportResult) => void) => void): Promise<ExportResult> {
  return new Promise((resolve) => run(resolve));
}

/** Exports the payload's SDK records; resolves with one ExportResult per Export request the exporter made. */
export async function exportPayload(address: string, payload: GeneratedPayload, compression: Compression): Promise<ExportResult[]> {
  const options = { url: `http://${address}`, compression: compression as never };
  const results: ExportResult[] = [];
  if (payload.sdk?.spans) {
    const exporter = new OTLPTraceExporter(options);
    results.push(await done((cb) => exporter.export(payload.sdk!.spans!, cb)));
    await exporter.shutdown();
  }
  if (payload.sdk?.resourceMetrics) {
    const exporter = new OTLPMetricExporter(options);
    for (const resourceMetrics of payload.sdk.resourceMetrics) results.push(await done((cb) => exporter.export(resourceMetrics, cb)));
    await exporter.shutdown();
  }
  if (payload.sdk?.logs) {
    const exporter = new OTLPLogExporter(options);
    results.push(await done((cb) => exporter.export(payload.sdk!.logs!, cb)));
    await exporter.shutdown();
  }
  return results;
}
