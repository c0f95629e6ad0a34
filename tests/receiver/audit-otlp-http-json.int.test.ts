// OTLP/JSON over real HTTP: what proto3 JSON and the OTLP spec let a client write, and what a hostile body may
// not cost. Each request's fate is checked at the HTTP response and in the archive: exactly the accepted ones are
// stored, as the protobuf encoding of what was meant (64-bit integers exact, snake_case names understood).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { CaptureServer } from '../../src/app/capture-server.js';
import { loadConfig } from '../../src/config/load.js';
import { fromOtlpJson } from '../../src/otlp/json.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { readArchive } from '../helpers/archive-reader.js';
import { LOOPBACK_LISTENERS } from '../helpers/loopback-listeners.js';
import { decodeStatus, post, type HttpReply } from '../helpers/otlp-http-client.js';

const JSON_TYPE = { 'content-type': 'application/json' };
const TRACE_ID = '5b8efff798038103d269b633813fc60c';
const SPAN_ID = 'eee19b7ec3c1b174';

let dir: string;
let server: CaptureServer;
let url: string;
/** The protobuf encoding of every request that got a 200, as it must be archived. */
const accepted: Buffer[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-otlp-http-json-'));
  const config = loadConfig({
    env: {},
    overrides: { dataDir: dir, ...LOOPBACK_LISTENERS, 'spool.durability': 'none', 'log.level': 'silent', 'server.http.maxReceiveBytes': '8MiB' },
  });
  server = new CaptureServer(config, silentLogger());
  url = `http://127.0.0.1:${(await server.start()).http}`;
});

afterAll(async () => {
  await server?.stop(0);
  fs.rmSync(dir, { recursive: true, force: true });
});

/** One span with `fields` merged in; `spanKey` names the spans field (camelCase or snake_case). */
function traces(fields: Record<string, unknown>, keys: { resourceSpans?: string; scopeSpans?: string } = {}): Record<string, unknown> {
  const span = { traceId: TRACE_ID, spanId: SPAN_ID, name: 'op', ...fields };
  return { [keys.resourceSpans ?? 'resourceSpans']: [{ [keys.scopeSpans ?? 'scopeSpans']: [{ spans: [span] }] }] };
}

function expectRefused(reply: HttpReply, message: RegExp): void {
  expect(reply.status).toBe(400);
  expect(reply.headers['content-type']).toBe('application/json');
  const status = decodeStatus(reply.body, 'json');
  expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(status.message).toMatch(message);
}

test('snake_case field names (the .proto names, which proto3 JSON parsers accept) are read, not dropped', async () => {
  // What protobuf's own JSON printers write with "preserving proto field names" (Python json_format, Go protojson
  // UseProtoNames), and what the Collector's receiver reads.
  const snake = {
    resource_spans: [{
      resource: { attributes: [{ key: 'service.name', value: { string_value: 'snake-svc' } }], dropped_attributes_count: 1 },
      scope_spans: [{ spans: [{
        trace_id: TRACE_ID, span_id: SPAN_ID, parent_span_id: 'eee19b7ec3c1b175', name: 'snake',
        start_time_unix_nano: '1700000000000000001', end_time_unix_nano: '1700000000000000002',
        attributes: [{ key: 'n', value: { int_value: '7' } }],
      }] }],
      schema_url: 'https://opentelemetry.io/schemas/1.21.0',
    }],
  };
  const camel = {
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'snake-svc' } }], droppedAttributesCount: 1 },
      scopeSpans: [{ spans: [{
        traceId: TRACE_ID, spanId: SPAN_ID, parentSpanId: 'eee19b7ec3c1b175', name: 'snake',
        startTimeUnixNano: '1700000000000000001', endTimeUnixNano: '1700000000000000002',
        attributes: [{ key: 'n', value: { intValue: '7' } }],
      }] }],
      schemaUrl: 'https://opentelemetry.io/schemas/1.21.0',
    }],
  };
  const reply = await post(`${url}/v1/traces`, JSON.stringify(snake), JSON_TYPE);
  expect([reply.status, reply.body.toString()]).toEqual([200, '{}']);
  accepted.push(fromOtlpJson('traces', camel));

  // The same field under both names is ambiguous: refused, as proto3 JSON parsers refuse a field given twice.
  const both = { resourceSpans: camel.resourceSpans, resource_spans: camel.resourceSpans };
  expectRefused(await post(`${url}/v1/traces`, JSON.stringify(both), JSON_TYPE), /given twice, as "resourceSpans" and as "resource_spans"/);
});

test('64-bit integers written as JSON numbers keep every digit (no rounding through a double)', async () => {
  // Written by hand: JSON.stringify cannot produce these numbers. int64 max, a nanosecond timestamp that a double
  // rounds, and a uint64 (fixed64) max; a double nearby must still be read as a double.
  const body = `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"${TRACE_ID}","spanId":"${SPAN_ID}","name":"big",`
    + '"startTimeUnixNano":1700000000123456789,"endTimeUnixNano":18446744073709551615,'
    + '"attributes":[{"key":"max","value":{"intValue":9223372036854775807}},{"key":"min","value":{"intValue":-9223372036854775808}},'
    + '{"key":"d","value":{"doubleValue":12345678901234567890}}]}]}]}]}';
  const reply = await post(`${url}/v1/traces`, body, JSON_TYPE);
  expect([reply.status, reply.body.toString()]).toEqual([200, '{}']);
  accepted.push(fromOtlpJson('traces', traces({
    name: 'big',
    startTimeUnixNano: '1700000000123456789',
    endTimeUnixNano: '18446744073709551615',
    attributes: [
      { key: 'max', value: { intValue: '9223372036854775807' } },
      { key: 'min', value: { intValue: '-9223372036854775808' } },
      { key: 'd', value: { doubleValue: 12345678901234567890 } },
    ],
  })));

  // Exponent notation is valid proto3 JSON for integers, quoted or not, when the value is whole.
  const exponent = await post(`${url}/v1/traces`, JSON.stringify(traces({ name: 'exp', startTimeUnixNano: '1.7e18', endTimeUnixNano: '17000000000000000.01e2' })), JSON_TYPE);
  expect(exponent.status).toBe(200);
  accepted.push(fromOtlpJson('traces', traces({ name: 'exp', startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000000000001' })));

  // Out of range stays out of range, however it is written; a fraction is not an integer.
  expectRefused(await post(`${url}/v1/traces`, body.replace('9223372036854775807', '9223372036854775808'), JSON_TYPE), /9223372036854775808 is out of range for int64/);
  expectRefused(await post(`${url}/v1/traces`, JSON.stringify(traces({ startTimeUnixNano: '1.5e0' })), JSON_TYPE), /startTimeUnixNano: expected an integer/);
  expectRefused(await post(`${url}/v1/traces`, JSON.stringify(traces({ startTimeUnixNano: '1e999999999' })), JSON_TYPE), /out of range for fixed64/);
  // A long number is still a number where a string goes.
  expectRefused(await post(`${url}/v1/traces`, body.replace('"name":"big"', '"name":12345678901234567890'), JSON_TYPE), /name: expected a string, got number 12345678901234567890/);
});

test('an empty body is an empty Export request in JSON too; a byte order mark is ignored', async () => {
  const empty = await post(`${url}/v1/logs`, '', JSON_TYPE);
  expect([empty.status, empty.headers['content-type'], empty.body.toString()]).toEqual([200, 'application/json', '{}']);
  const gzipped = await post(`${url}/v1/metrics`, gzipSync(Buffer.alloc(0)), { ...JSON_TYPE, 'content-encoding': 'gzip' });
  expect([gzipped.status, gzipped.body.toString()]).toEqual([200, '{}']);

  const json = traces({ name: 'bom' });
  const bom = await post(`${url}/v1/traces`, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(json))]), { 'content-type': 'application/json; charset=utf-8' });
  expect([bom.status, bom.body.toString()]).toEqual([200, '{}']);
  accepted.push(fromOtlpJson('traces', json));
});

test('JSON that is not UTF-8 is refused, not stored with U+FFFD in place of what was sent', async () => {
  const text = Buffer.from(JSON.stringify(traces({ name: 'XX' })));
  const at = text.indexOf('XX');
  text[at] = 0xc3; // a lead byte…
  text[at + 1] = 0x28; // …without its continuation byte
  expectRefused(await post(`${url}/v1/traces`, text, JSON_TYPE), /not JSON \(the text is not valid UTF-8\)/);
});

test('a nesting bomb (even under an unknown field) is refused before it is parsed', async () => {
  const depth = 3 * 2 ** 20; // 6 MiB of brackets: JSON.parse alone spends over a second and ~200 MB on it
  const bomb = Buffer.from(`{"resourceSpans":[],"future":${'['.repeat(depth)}${']'.repeat(depth)}}`);
  const reply = await post(`${url}/v1/traces`, gzipSync(bomb), { ...JSON_TYPE, 'content-encoding': 'gzip' });
  expectRefused(reply, /nesting is deeper than \d+ levels of JSON/);

  // The deepest request the reader itself accepts (message depth 100: the log record's body at 4, two more per
  // array level) passes the pre-check; one level more is the reader's own refusal.
  let value: unknown = { stringValue: 'leaf' };
  for (let i = 0; i < 48; i++) value = { arrayValue: { values: [value] } };
  const deep = { resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: value }] }] }] };
  expect((await post(`${url}/v1/logs`, JSON.stringify(deep), JSON_TYPE)).status).toBe(200);
  accepted.push(fromOtlpJson('logs', deep));
  value = { arrayValue: { values: [value] } };
  expectRefused(await post(`${url}/v1/logs`, JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: value }] }] }] }), JSON_TYPE),
    /nesting is deeper than 100 levels/);
});

test('a width bomb (millions of empty arrays under an unknown field) is refused before it is parsed', async () => {
  // 6 MiB of "[]," (2 million arrays, ~25 KiB gzipped): JSON.parse would build every one of them.
  const bomb = Buffer.from(`{"resourceSpans":[],"future":[${'[],'.repeat(2 * 2 ** 20)}[]]}`);
  const reply = await post(`${url}/v1/traces`, gzipSync(bomb), { ...JSON_TYPE, 'content-encoding': 'gzip' });
  expectRefused(reply, /2097156 JSON objects and arrays in \d+ bytes: OTLP\/JSON has at most one per 8 bytes; refused before parsing/);

  // Real traces are far from the bound: the same server takes a request of many spans with many attributes.
  const spans = Array.from({ length: 2000 }, (_, i) => ({
    traceId: TRACE_ID, spanId: (0x1000000000000000n + BigInt(i)).toString(16), name: `op-${i}`, kind: 2,
    startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000001000000',
    attributes: [{ key: 'n', value: { intValue: '1' } }, { key: 'ok', value: { boolValue: true } }, { key: 'a', value: { arrayValue: { values: [{ intValue: '2' }] } } }],
    events: [{ timeUnixNano: '1700000000000500000', name: 'e', attributes: [{ key: 'k', value: { intValue: '3' } }] }],
  }));
  const dense = { resourceSpans: [{ scopeSpans: [{ spans }] }] };
  expect((await post(`${url}/v1/traces`, JSON.stringify(dense), JSON_TYPE)).status).toBe(200);
  accepted.push(fromOtlpJson('traces', dense));
});

test('an absolute-form request target (what a client sends through a forward proxy) reaches its endpoint', async () => {
  const body = traces({ name: 'absolute-form' });
  const { port } = new URL(url);
  const reply = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port: Number(port), method: 'POST', path: `http://127.0.0.1:${port}/v1/traces?x=1`, headers: JSON_TYPE, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
  expect(reply).toEqual({ status: 200, text: '{}' });
  accepted.push(fromOtlpJson('traces', body));
});

test('exactly the accepted requests were stored, byte for byte', async () => {
  await server.stop(10_000);
  const archive = await readArchive(dir);
  expect(archive.map((entry) => entry.bytes.toString('hex')).sort()).toEqual(accepted.map((bytes) => bytes.toString('hex')).sort());
});
