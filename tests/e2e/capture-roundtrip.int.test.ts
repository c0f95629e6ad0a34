// The first promise of the product, end to end: real OpenTelemetry exporters send traces, metrics and logs to
// `otlp-capture serve`; `list` shows each request with its counts, services and time range; `get` returns the
// exact bytes the exporter sent, or their OTLP JSON.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExportResultCode } from '@opentelemetry/core';
import { nanosToIso, type RequestView } from '../../src/query/request-view.js';
import type { Signal } from '../../src/model.js';
import { getBytes, listJson } from '../helpers/capture-cli.js';
import { exportPayload, type Compression } from '../helpers/exporters.js';
import { normalizeOtlpJson } from '../helpers/otlp-json-normalize.js';
import { logsPayload, metricsPayload, tracePayload, type GeneratedPayload } from '../helpers/otlp-payloads.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { waitFor } from '../helpers/wait.js';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { scanRequest } from '../../src/otlp/scanner.js';

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

interface Sent {
  signal: Signal;
  proto: Buffer;
  json: unknown;
  compression: Compression;
}

let dir: string;
let server: ServerProcess;
const sent: Sent[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-e2e-'));
  const config = path.join(dir, 'config.yaml');
  writeFileSync(config, 'archiver:\n  maxObjectAge: 300ms\n');
  server = await startServer(['--config', config, '--data-dir', path.join(dir, 'data')]);

  let seed = 100;
  for (const compression of ['none', 'gzip'] as const) {
    const payloads: [Signal, GeneratedPayload][] = [
      ['traces', tracePayload(seed++, 60)],
      ['metrics', metricsPayload(seed++)],
      ['logs', logsPayload(seed++, 40)],
    ];
    for (const [signal, payload] of payloads) {
      const results = await exportPayload(server.grpcAddress, payload, compression);
      for (const result of results) expect(result).toEqual({ code: ExportResultCode.SUCCESS });
      if (signal === 'metrics') {
        // The metrics exporter sends one request per ResourceMetrics.
        for (const resourceMetrics of payload.sdk!.resourceMetrics!) {
          const proto = Buffer.from(ProtobufMetricsSerializer.serializeRequest(resourceMetrics)!);
          sent.push({ signal, proto, json: undefined, compression });
        }
      } else {
        sent.push({ signal, proto: Buffer.from(payload.proto), json: payload.json, compression });
      }
    }
  }
}, 120_000);

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function archived(): Promise<RequestView[]> {
  return waitFor('every request to be archived and listed', async () => {
    const rows = await listJson(path.join(dir, 'data'));
    return rows.length >= sent.length ? rows : undefined;
  });
}

test('list --json shows every acknowledged request once, with correct counts, services and time ranges', async () => {
  const rows = await archived();
  expect(rows).toHaveLength(sent.length);
  const bytesById = new Map<string, Buffer>();
  for (const row of rows) bytesById.set(row.id, await getBytes(path.join(dir, 'data'), row.id));

  for (const item of sent) {
    const matches = rows.filter((row) => sha(bytesById.get(row.id)!) === sha(item.proto));
    expect(matches).toHaveLength(1);
    const row = matches[0]!;
    // Expected values come from the generator's own bookkeeping for traces and logs, and from the scanner's
    // independent twin (checked against protobufjs in tests/otlp) for the per-resource metrics requests.
    const expected = scanRequest(item.signal, item.proto);
    expect(row).toMatchObject({
      signal: item.signal,
      tenant: 'default',
      items: expected.items,
      services: expected.services,
      bytes: item.proto.length,
      timeRange: { start: nanosToIso(expected.startNs!), end: nanosToIso(expected.endNs!) },
    });
    expect(row.items).toBeGreaterThan(0);
    expect(Date.parse(row.receivedAt)).toBeGreaterThan(Date.now() - 10 * 60_000);
    expect(row.object).toMatch(new RegExp(`^default/${item.signal}/\\d{4}/\\d{2}/\\d{2}/\\d{2}/[0-9A-Z]{26}\\.otlpc$`));
  }
});

test('the generator-known counts match for traces and logs (not only the scanner)', async () => {
  const rows = await archived();
  const trace = tracePayload(100, 60);
  const logs = logsPayload(102, 40);
  const traceRow = rows.find((row) => row.signal === 'traces')!;
  const logRow = rows.find((row) => row.signal === 'logs')!;
  expect(traceRow.items).toBe(trace.expected.items);
  expect(traceRow.services).toEqual(trace.expected.services);
  expect(traceRow.timeRange).toEqual({ start: nanosToIso(trace.expected.startNs!), end: nanosToIso(trace.expected.endNs!) });
  expect(logRow.items).toBe(logs.expected.items);
  expect(logRow.services).toEqual(logs.expected.services);
});

test('get --format proto returns exactly the bytes the exporter sent, gzip on and off', async () => {
  const rows = await archived();
  const stored = new Set<string>();
  for (const row of rows) stored.add(sha(await getBytes(path.join(dir, 'data'), row.id)));
  for (const item of sent) expect(stored.has(sha(item.proto))).toBe(true);
  expect(sent.filter((item) => item.compression === 'gzip').length).toBeGreaterThan(0);
});

test('get --format json is the OTLP JSON of the same data', async () => {
  const rows = await archived();
  for (const item of sent.filter((entry) => entry.json !== undefined)) {
    let matched = false;
    for (const row of rows.filter((r) => r.signal === item.signal)) {
      const proto = await getBytes(path.join(dir, 'data'), row.id);
      if (sha(proto) !== sha(item.proto)) continue;
      const json = JSON.parse((await getBytes(path.join(dir, 'data'), row.id, 'json')).toString('utf8')) as unknown;
      expect(normalizeOtlpJson(json)).toEqual(normalizeOtlpJson(item.json));
      matched = true;
    }
    expect(matched).toBe(true);
  }
});

test('list filters by signal and service', async () => {
  const rows = await archived();
  const traces = await listJson(path.join(dir, 'data'), '--signal', 'traces');
  expect(traces.length).toBe(rows.filter((row) => row.signal === 'traces').length);
  expect(traces.every((row) => row.signal === 'traces')).toBe(true);
  const service = rows[0]!.services[0]!;
  const byService = await listJson(path.join(dir, 'data'), '--service', service);
  expect(byService.length).toBe(rows.filter((row) => row.services.includes(service)).length);
  expect(byService.length).toBeGreaterThan(0);
});
