// OTLP/HTTP end to end with the OpenTelemetry JS HTTP exporters — protobuf (exporter-*-otlp-proto) and JSON
// (exporter-*-otlp-http) — beside the gRPC exporters, all sending the same SDK records to one `serve` process, each
// path under its own tenant. The protobuf path must archive exactly the bytes the gRPC path archives; the JSON path
// the protobuf encoding of the same data.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { JsonLogsSerializer, JsonMetricsSerializer, JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { Signal } from '../../src/model.js';
import { fromOtlpJson, toOtlpJson } from '../../src/otlp/json.js';
import { getBytes, listJson, allArchived } from '../helpers/capture-cli.js';
import { exportPayload } from '../helpers/exporters.js';
import { normalizeOtlpJson } from '../helpers/otlp-json-normalize.js';
import { logsPayload, metricsPayload, tracePayload, type GeneratedPayload } from '../helpers/otlp-payloads.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { waitFor } from '../helpers/wait.js';

interface Exporter<T> {
  export(items: T, done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
}

type Flavour = 'proto' | 'json';
const TENANT: Record<Flavour | 'grpc', string> = { grpc: 'default', proto: 'via-http-proto', json: 'via-http-json' };

let dir: string;
let server: ServerProcess;
const payloads: [Signal, GeneratedPayload][] = [
  ['traces', tracePayload(301, 50)],
  ['metrics', metricsPayload(302)],
  ['logs', logsPayload(303, 30)],
];

async function send<T>(exporter: Exporter<T>, batches: T[]): Promise<void> {
  for (const batch of batches) {
    const result = await new Promise<ExportResult>((resolve) => exporter.export(batch, resolve));
    expect(result).toEqual({ code: ExportResultCode.SUCCESS });
  }
  await exporter.shutdown();
}

async function exportOverHttp(flavour: Flavour, payload: GeneratedPayload): Promise<void> {
  const base = `http://127.0.0.1:${server.httpPort}`;
  const options = (signal: string) => ({
    url: `${base}/v1/${signal}`,
    headers: { 'X-Scope-OrgID': TENANT[flavour] },
    // gzip from the protobuf exporters, none from the JSON ones: both request codings go through.
    compression: (flavour === 'proto' ? 'gzip' : 'none') as never,
  });
  const sdk = payload.sdk!;
  if (sdk.spans) await send(flavour === 'proto' ? new ProtoTraceExporter(options('traces')) : new JsonTraceExporter(options('traces')), [sdk.spans]);
  if (sdk.resourceMetrics) {
    const exporter = flavour === 'proto' ? new ProtoMetricExporter(options('metrics')) : new JsonMetricExporter(options('metrics'));
    await send(exporter, sdk.resourceMetrics);
  }
  if (sdk.logs) await send(flavour === 'proto' ? new ProtoLogExporter(options('logs')) : new JsonLogExporter(options('logs')), [sdk.logs]);
}

/** What the JSON exporters send, request by request, as the transformer serializes it. */
function jsonRequests(signal: Signal, payload: GeneratedPayload): unknown[] {
  const sdk = payload.sdk!;
  const parse = (bytes: Uint8Array | undefined): unknown => JSON.parse(Buffer.from(bytes!).toString('utf8'));
  if (signal === 'traces') return [parse(JsonTraceSerializer.serializeRequest(sdk.spans!))];
  if (signal === 'logs') return [parse(JsonLogsSerializer.serializeRequest(sdk.logs!))];
  return sdk.resourceMetrics!.map((resourceMetrics) => parse(JsonMetricsSerializer.serializeRequest(resourceMetrics)));
}

const archiveCache = new Map<string, Promise<Map<Signal, Buffer[]>>>();

/** Archived bytes per signal for one tenant, in the order they were received (read once with the CLI). */
function archivedFor(tenant: string): Promise<Map<Signal, Buffer[]>> {
  if (!archiveCache.has(tenant)) archiveCache.set(tenant, readWithCli(tenant));
  return archiveCache.get(tenant)!;
}

async function readWithCli(tenant: string): Promise<Map<Signal, Buffer[]>> {
  const data = path.join(dir, 'data');
  const rows = await listJson(data, '--tenant', tenant);
  const out = new Map<Signal, Buffer[]>();
  for (const row of rows) {
    const signal = row.signal as Signal;
    out.set(signal, [...(out.get(signal) ?? []), await getBytes(data, row.id)]);
  }
  return out;
}

const expectedCount = payloads.reduce((sum, [signal, payload]) => sum + (signal === 'metrics' ? payload.sdk!.resourceMetrics!.length : 1), 0);

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-http-e2e-'));
  const config = path.join(dir, 'config.yaml');
  writeFileSync(config, 'archiver:\n  maxObjectAge: 300ms\n');
  server = await startServer(['--config', config, '--data-dir', path.join(dir, 'data')]);
  for (const [, payload] of payloads) {
    for (const result of await exportPayload(server.grpcAddress, payload, 'gzip')) expect(result).toEqual({ code: ExportResultCode.SUCCESS });
    await exportOverHttp('proto', payload);
    await exportOverHttp('json', payload);
  }
  await waitFor('every request archived', async () => {
    const rows = await listJson(path.join(dir, 'data'));
    return allArchived(rows, 3 * expectedCount) ? rows : undefined;
  });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the serve log names the OTLP/HTTP address next to gRPC and admin', () => {
  expect(server.output()).toMatch(/"http":"127\.0\.0\.1:\d+"/);
  expect(server.httpPort).toBeGreaterThan(0);
});

test('protobuf exporters over HTTP: archived bytes are exactly what the gRPC path archives for the same data', async () => {
  const viaGrpc = await archivedFor(TENANT.grpc);
  const viaHttp = await archivedFor(TENANT.proto);
  for (const [signal] of payloads) {
    const grpcBytes = viaGrpc.get(signal)!;
    expect(grpcBytes.length).toBeGreaterThan(0);
    expect(viaHttp.get(signal)!.map((b) => b.toString('hex'))).toEqual(grpcBytes.map((b) => b.toString('hex')));
  }
});

test('JSON exporters over HTTP: archived bytes are the protobuf encoding of the JSON sent, the same data as via gRPC', async () => {
  const viaGrpc = await archivedFor(TENANT.grpc);
  const viaJson = await archivedFor(TENANT.json);
  for (const [signal, payload] of payloads) {
    const stored = viaJson.get(signal)!;
    const sent = jsonRequests(signal, payload);
    expect(stored).toHaveLength(sent.length);
    stored.forEach((bytes, i) => {
      expect(bytes.equals(fromOtlpJson(signal, sent[i]))).toBe(true);
      // The same data as the gRPC exporter's protobuf. Compared as normalized OTLP/JSON: the transformer's two
      // serializers differ in the defaults they write (and its JSON one sends `body: {}` for a log without a body).
      expect(normalizeOtlpJson(toOtlpJson(signal, bytes))).toEqual(normalizeOtlpJson(toOtlpJson(signal, viaGrpc.get(signal)![i]!)));
    });
  }
});

test('list shows the HTTP requests with the same counts and services as the gRPC ones', async () => {
  const data = path.join(dir, 'data');
  const strip = (rows: Awaited<ReturnType<typeof listJson>>) =>
    rows.map((row) => ({ signal: row.signal, items: row.items, services: row.services, timeRange: row.timeRange }));
  const grpcRows = strip(await listJson(data, '--tenant', TENANT.grpc));
  expect(strip(await listJson(data, '--tenant', TENANT.proto))).toEqual(grpcRows);
  expect(strip(await listJson(data, '--tenant', TENANT.json))).toEqual(grpcRows);
  expect(grpcRows).toHaveLength(expectedCount);
});
