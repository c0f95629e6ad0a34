import * as grpc from '@grpc/grpc-js';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { API_SERVICES } from '../../src/api/api-server.js';
import { addReflection } from '../../src/grpc/reflection.js';
import { HealthService } from '../../src/grpc/health.js';
import { INGEST_SERVICES } from '../../src/receiver/grpc-server.js';
import {
  ReflectionClient, fetchLikeGrpcurl, reachableTypes, symbolTable, unresolvableReferences,
  type FileDescriptor, type ReflectionVersion,
} from '../helpers/reflection-client.js';
import { startServiceServer, type RunningServiceServer } from '../helpers/service-servers.js';

/** Each service and the real file that defines it (proto-loader would invent e.g. grpc_health_v1.proto). */
const INGEST_FILES: Record<string, string> = {
  'opentelemetry.proto.collector.trace.v1.TraceService': 'opentelemetry/proto/collector/trace/v1/trace_service.proto',
  'opentelemetry.proto.collector.metrics.v1.MetricsService':
    'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
  'opentelemetry.proto.collector.logs.v1.LogsService': 'opentelemetry/proto/collector/logs/v1/logs_service.proto',
  'grpc.health.v1.Health': 'grpc/health/v1/health.proto',
  'grpc.reflection.v1.ServerReflection': 'grpc/reflection/v1/reflection.proto',
  'grpc.reflection.v1alpha.ServerReflection': 'grpc/reflection/v1alpha/reflection.proto',
};
const API_FILES: Record<string, string> = {
  'otlpcapture.v1.CaptureService': 'otlpcapture/v1/capture.proto',
  'grpc.health.v1.Health': 'grpc/health/v1/health.proto',
  'grpc.reflection.v1.ServerReflection': 'grpc/reflection/v1/reflection.proto',
  'grpc.reflection.v1alpha.ServerReflection': 'grpc/reflection/v1alpha/reflection.proto',
};
const SERVICE_FILES = INGEST_FILES;
const EXPORT_TRACE_REQUEST = '.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest';

let server: RunningServiceServer;
let address: string;
let apiServer: RunningServiceServer;
let apiAddress: string;

beforeAll(async () => {
  // As the two listeners reflect: the ingest one (OTLP, health) on the OTLP listener's own HTTP/2 server, and the API
  // one (CaptureService, health) on grpc-js.
  server = await startServiceServer('otlp-capture http2', (target) => {
    addReflection(target, INGEST_SERVICES);
    new HealthService().addTo(target);
  });
  address = server.address;
  apiServer = await startServiceServer('grpc-js', (target) => {
    addReflection(target, API_SERVICES);
    new HealthService().addTo(target);
  });
  apiAddress = apiServer.address;
});

afterAll(async () => {
  await server.stop();
  await apiServer.stop();
});

describe.each<ReflectionVersion>(['v1', 'v1alpha'])('each listener reflects exactly what it serves (%s)', (version) => {
  test('the ingest listener: the OTLP services, health and reflection; nothing of CaptureService', async () => {
    const client = new ReflectionClient(address, version);
    try {
      expect((await client.listServices()).sort()).toEqual(Object.keys(INGEST_FILES).sort());
      await expect(client.fileContainingSymbol('otlpcapture.v1.CaptureService')).rejects.toThrow(/"error_code":5/);
      await expect(client.fileByFilename('otlpcapture/v1/capture.proto')).rejects.toThrow(/"error_code":5/);
    } finally {
      client.close();
    }
  });

  test('the API listener: CaptureService, health and reflection, each as strictly resolvable as grpcurl requires; no OTLP service', async () => {
    const client = new ReflectionClient(apiAddress, version);
    try {
      expect((await client.listServices()).sort()).toEqual(Object.keys(API_FILES).sort());
      for (const [service, file] of Object.entries(API_FILES)) {
        const files = await fetchLikeGrpcurl(client, service);
        expect(unresolvableReferences(files)).toEqual([]);
        expect(symbolTable(files.values()).get(`.${service}`)).toMatchObject({ kind: 'service', file });
      }
      await expect(client.fileContainingSymbol('opentelemetry.proto.collector.trace.v1.TraceService')).rejects.toThrow(/"error_code":5/);
    } finally {
      client.close();
    }
  });
});

describe.each<ReflectionVersion>(['v1', 'v1alpha'])('server reflection %s', (version) => {
  let client: ReflectionClient;
  beforeAll(() => {
    client = new ReflectionClient(address, version);
  });
  afterAll(() => client.close());

  test('list_services names every service the listener serves and the reflection services', async () => {
    const services = await client.listServices();
    expect(services).toEqual(expect.arrayContaining(Object.keys(SERVICE_FILES)));
  });

  test.each(Object.entries(SERVICE_FILES))(
    '%s resolves as strictly as grpcurl requires', async (service, file) => {
      const files = await fetchLikeGrpcurl(client, service);
      expect(unresolvableReferences(files)).toEqual([]);
      expect(symbolTable(files.values()).get(`.${service}`)).toMatchObject({ kind: 'service', file });
    });

  test('file_containing_symbol answers with the file that defines the symbol first', async () => {
    const [first] = await client.fileContainingSymbol('opentelemetry.proto.collector.trace.v1.TraceService');
    expect(first?.name).toBe('opentelemetry/proto/collector/trace/v1/trace_service.proto');
    expect(first?.dependency).toEqual(['opentelemetry/proto/trace/v1/trace.proto']);
    const method = first?.service?.[0]?.method?.[0];
    expect(method).toMatchObject({ name: 'Export', inputType: EXPORT_TRACE_REQUEST });
  });

  test('ExportTraceServiceRequest reaches every nested span type by fully-qualified name', async () => {
    const files = await fetchLikeGrpcurl(client, 'opentelemetry.proto.collector.trace.v1.TraceService');
    const reachable = reachableTypes(files, EXPORT_TRACE_REQUEST);
    for (const type of [
      'trace.v1.ResourceSpans', 'trace.v1.ScopeSpans', 'trace.v1.Span', 'trace.v1.Span.Event', 'trace.v1.Span.Link',
      'trace.v1.Span.SpanKind', 'trace.v1.Status', 'trace.v1.Status.StatusCode', 'resource.v1.Resource',
      'common.v1.KeyValue', 'common.v1.AnyValue', 'common.v1.ArrayValue', 'common.v1.KeyValueList',
      'common.v1.InstrumentationScope',
    ]) {
      expect(reachable).toContain(`.opentelemetry.proto.${type}`);
    }
  });

  test('proto3 optional fields keep their synthetic oneofs', async () => {
    const files = await fetchLikeGrpcurl(client, 'opentelemetry.proto.collector.metrics.v1.MetricsService');
    const histogramPoint = symbolTable(files.values()).get('.opentelemetry.proto.metrics.v1.HistogramDataPoint');
    const sum = histogramPoint?.message?.field?.find((f) => f.name === 'sum');
    expect(sum?.proto3Optional).toBe(true);
    expect(histogramPoint?.message?.oneofDecl?.[sum?.oneofIndex ?? -1]?.name).toBe('_sum');
  });

  test('the reflected schema decodes a real OTLP exporter payload', async () => {
    const files = await fetchLikeGrpcurl(client, 'opentelemetry.proto.collector.trace.v1.TraceService');
    const root = rootFromDescriptors(files);
    const payload = await exportedTracePayload();
    const type = root.lookupType(EXPORT_TRACE_REQUEST.slice(1));
    // Descriptor-built protobufjs types keep the .proto field names.
    const decoded = type.toObject(type.decode(payload), { longs: String }) as {
      resource_spans: { scope_spans: { spans: { name: string; events: { name: string }[] }[] }[] }[];
    };
    const span = decoded.resource_spans[0]?.scope_spans[0]?.spans[0];
    expect(span?.name).toBe('reflected-span');
    expect(span?.events[0]?.name).toBe('reflected-event');
  });

  test('a health check can be invoked with nothing but reflected descriptors', async () => {
    const files = await fetchLikeGrpcurl(client, 'grpc.health.v1.Health');
    const root = rootFromDescriptors(files);
    const request = root.lookupType('grpc.health.v1.HealthCheckRequest');
    const response = root.lookupType('grpc.health.v1.HealthCheckResponse');
    const generic = new grpc.Client(address, grpc.credentials.createInsecure());
    try {
      const answer = await new Promise<protobuf.Message>((resolve, reject) => {
        generic.makeUnaryRequest(
          '/grpc.health.v1.Health/Check',
          (value: object) => Buffer.from(request.encode(request.fromObject(value)).finish()),
          (bytes: Buffer) => response.decode(bytes),
          { service: '' },
          (error, value) => (error || !value ? reject(error ?? new Error('no response')) : resolve(value)),
        );
      });
      expect(response.toObject(answer, { enums: String })).toEqual({ status: 'SERVING' });
    } finally {
      generic.close();
    }
  });

  test('unknown symbols and files are NOT_FOUND errors, not empty answers', async () => {
    await expect(client.fileContainingSymbol('no.such.Service')).rejects.toThrow(/"error_code":5/);
    await expect(client.fileByFilename('no/such.proto')).rejects.toThrow(/"error_code":5/);
  });
});

function rootFromDescriptors(files: Map<string, FileDescriptor>): protobuf.Root {
  const set = descriptor.FileDescriptorSet.fromObject({ file: [...files.values()] });
  const fromDescriptor = (protobuf.Root as unknown as { fromDescriptor(set: protobuf.Message): protobuf.Root })
    .fromDescriptor;
  const root = fromDescriptor(set);
  root.resolveAll();
  return root;
}

async function exportedTracePayload(): Promise<Uint8Array> {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const span = provider.getTracer('reflection-test').startSpan('reflected-span');
  span.addEvent('reflected-event');
  span.end();
  await provider.forceFlush();
  const payload = ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans());
  await provider.shutdown();
  if (!payload) throw new Error('serializer produced nothing');
  return payload;
}
