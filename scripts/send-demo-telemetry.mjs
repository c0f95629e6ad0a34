#!/usr/bin/env node
// Sends a little realistic telemetry (traces, metrics, logs from two services) to an OTLP/gRPC endpoint with the
// OpenTelemetry JS SDK and exporters, as an instrumented application would. For the README's demo.
//   node scripts/send-demo-telemetry.mjs [HOST:PORT]   (default 127.0.0.1:4317)
import { context, trace, SpanStatusCode } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

const endpoint = `http://${process.argv[2] ?? '127.0.0.1:4317'}`;
const options = { url: endpoint, compression: 'gzip' };

async function runService(name) {
  const resource = resourceFromAttributes({ 'service.name': name, 'deployment.environment': 'demo' });
  const tracerProvider = new BasicTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter(options))] });
  const meterProvider = new MeterProvider({
    resource,
    readers: [new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter(options), exportIntervalMillis: 60_000 })],
  });
  const loggerProvider = new LoggerProvider({ resource, processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter(options) })] });

  const tracer = tracerProvider.getTracer('demo');
  const requests = meterProvider.getMeter('demo').createCounter('http.server.requests');
  const latency = meterProvider.getMeter('demo').createHistogram('http.server.duration', { unit: 'ms' });
  const logger = loggerProvider.getLogger('demo');

  for (let i = 0; i < 20; i++) {
    const route = ['/checkout', '/cart', '/login'][i % 3];
    tracer.startActiveSpan(`GET ${route}`, (parent) => {
      parent.setAttribute('http.route', route);
      const child = tracer.startSpan('SELECT orders');
      child.setAttribute('db.system', 'postgresql');
      child.end();
      if (i % 7 === 6) parent.setStatus({ code: SpanStatusCode.ERROR, message: 'payment declined' });
      logger.emit({
        severityNumber: i % 7 === 6 ? SeverityNumber.ERROR : SeverityNumber.INFO,
        body: `handled ${route}`,
        attributes: { 'http.route': route },
        context: trace.setSpan(context.active(), parent),
      });
      parent.end();
    });
    requests.add(1, { 'http.route': route });
    latency.record(5 + (i % 5) * 12, { 'http.route': route });
  }
  await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown(), loggerProvider.shutdown()]);
}

await Promise.all([runService('checkout'), runService('frontend')]);
console.log(`sent traces, metrics and logs of services checkout and frontend to ${endpoint}`);
