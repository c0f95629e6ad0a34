// The first promise of the product, end to end, on both adapter pairs it ships: real OpenTelemetry exporters send
// traces, metrics and logs to `otlp-capture serve`; `list` shows each request with its counts, services and time
// range; `get` returns the exact bytes the exporter sent, or their OTLP JSON. The same cases run once on the embedded
// default (filesystem + SQLite) and once on S3 + ClickHouse (s3rver and ClickHouse 18.16, started here; `serve` and
// the CLI get only the S3_* / CLICKHOUSE_* environment), and a last case checks that both pairs answered the same
// data with the same `list --json` and `get` output.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExportResultCode } from '@opentelemetry/core';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { BLOCK_HEADER_SIZE, OBJECT_HEADER_SIZE } from '../../src/archiver/object-format.js';
import type { Signal } from '../../src/model.js';
import { scanRequest } from '../../src/otlp/scanner.js';
import { nanosToIso, type RequestView } from '../../src/query/request-view.js';
import { ADAPTER_PAIRS, type AdapterPair, type AdapterPairSpec } from '../helpers/adapter-pairs.js';
import { exportPayload, type Compression } from '../helpers/exporters.js';
import { normalizeOtlpJson } from '../helpers/otlp-json-normalize.js';
import { logsPayload, metricsPayload, tracePayload, type GeneratedPayload } from '../helpers/otlp-payloads.js';
import { runCli, startServer, type ServerProcess } from '../helpers/server-process.js';
import { waitFor } from '../helpers/wait.js';
import { allArchived } from '../helpers/capture-cli.js';

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const UNKNOWN_ID = '01ZZZZZZZZZZZZZZZZZZZZZZZZ';

interface Sent {
  signal: Signal;
  proto: Buffer;
  json: unknown;
  compression: Compression;
}

/** What one pair answered, kept for the comparison between pairs. */
interface Answered {
  rows: RequestView[];
  proto: Map<string, Buffer>;
  json: Map<string, unknown>;
  unknownIdError: { code: number | null; stderr: string };
}

const answeredBy = new Map<string, Answered>();

/** Exports the same deterministic payloads (seeded generators, fixed timestamps) through the OTel JS exporters. */
async function sendAll(grpcAddress: string): Promise<Sent[]> {
  const sent: Sent[] = [];
  let seed = 100;
  for (const compression of ['none', 'gzip'] as const) {
    const payloads: [Signal, GeneratedPayload][] = [
      ['traces', tracePayload(seed++, 60)],
      ['metrics', metricsPayload(seed++)],
      ['logs', logsPayload(seed++, 40)],
    ];
    for (const [signal, payload] of payloads) {
      const results = await exportPayload(grpcAddress, payload, compression);
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
  return sent;
}

/** Runs `work` over `items`, a few at a time (each is a CLI process; the machine has two cores). */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

describe.each(ADAPTER_PAIRS as AdapterPairSpec[])('capture round trip on the $name', (spec) => {
  let dir: string;
  let dataDir: string;
  let pair: AdapterPair;
  let server: ServerProcess;
  let sent: Sent[];
  // Every row's `get --format proto` and `get --format json`, fetched once: each is a CLI process.
  const answered: Answered = { rows: [], proto: new Map(), json: new Map(), unknownIdError: { code: null, stderr: '' } };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-e2e-'));
    dataDir = path.join(dir, 'data');
    pair = await spec.start();
    const config = path.join(dir, 'config.yaml');
    writeFileSync(config, 'archiver:\n  maxObjectAge: 300ms\n');
    server = await startServer(['--config', config, '--data-dir', dataDir], { env: pair.env });
    sent = await sendAll(server.grpcAddress);

    answered.rows = await waitFor(
      'every request to be archived and listed',
      async () => {
        const rows = await pair.list(dataDir);
        return allArchived(rows, sent.length) ? rows : undefined;
      },
      60_000,
      250,
    );
    await eachLimited(answered.rows, 3, async (row) => {
      answered.proto.set(row.id, await pair.get(dataDir, row.id, 'proto'));
      answered.json.set(row.id, JSON.parse((await pair.get(dataDir, row.id, 'json')).toString('utf8')) as unknown);
    });
    const unknown = await runCli(['get', UNKNOWN_ID, '--data-dir', dataDir], { env: pair.env });
    answered.unknownIdError = { code: unknown.code, stderr: unknown.stderr };
    answeredBy.set(spec.name, answered);
  }, 240_000);

  afterAll(async () => {
    await server?.stop();
    await pair?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('serve uses this pair of adapters, chosen by the environment alone', () => {
    expect(server.output()).toMatch(pair.servingLog);
  });

  test('list --json shows every acknowledged request once, with correct counts, services and time ranges', () => {
    const { rows } = answered;
    expect(rows).toHaveLength(sent.length);
    for (const item of sent) {
      const matches = rows.filter((row) => sha(answered.proto.get(row.id)!) === sha(item.proto));
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
      // The archive codec, or — sent gzip-compressed — possibly the exporter's own gzip member, kept as the block
      // (archiver.keepClientBlocks; which ones is the archiver's call, tested in tests/e2e/grpc-encodings).
      expect(item.compression === 'gzip' ? ['zstd', 'gzip'] : ['zstd']).toContain(row.codec);
      expect(row.items).toBeGreaterThan(0);
      expect(Date.parse(row.receivedAt)).toBeGreaterThan(Date.now() - 10 * 60_000);
      expect(row.object).toMatch(new RegExp(`^default/${item.signal}/\\d{4}/\\d{2}/\\d{2}/\\d{2}/[0-9A-Z]{26}\\.otlpc$`));
    }
    // Oldest first: ids are ULIDs assigned on receipt.
    expect(rows.map((row) => row.id)).toEqual([...rows.map((row) => row.id)].sort());
  });

  test('the generator-known counts match for traces and logs (not only the scanner)', () => {
    const trace = tracePayload(100, 60);
    const logs = logsPayload(102, 40);
    const traceRow = answered.rows.find((row) => row.signal === 'traces')!;
    const logRow = answered.rows.find((row) => row.signal === 'logs')!;
    expect(traceRow.items).toBe(trace.expected.items);
    expect(traceRow.services).toEqual(trace.expected.services);
    expect(traceRow.timeRange).toEqual({ start: nanosToIso(trace.expected.startNs!), end: nanosToIso(trace.expected.endNs!) });
    expect(logRow.items).toBe(logs.expected.items);
    expect(logRow.services).toEqual(logs.expected.services);
  });

  test('get --format proto returns exactly the bytes the exporter sent, gzip on and off', () => {
    const stored = new Set([...answered.proto.values()].map(sha));
    for (const item of sent) expect(stored.has(sha(item.proto))).toBe(true);
    expect(sent.filter((item) => item.compression === 'gzip').length).toBeGreaterThan(0);
  });

  test('get --format json is the OTLP JSON of the same data', () => {
    const withJson = sent.filter((entry) => entry.json !== undefined);
    expect(withJson.length).toBeGreaterThan(0);
    for (const item of withJson) {
      const row = answered.rows.find((r) => r.signal === item.signal && sha(answered.proto.get(r.id)!) === sha(item.proto));
      expect(row).toBeDefined();
      expect(normalizeOtlpJson(answered.json.get(row!.id))).toEqual(normalizeOtlpJson(item.json));
    }
  });

  test('get of an id that was never captured: exit 1, one line naming it', () => {
    expect(answered.unknownIdError.code).toBe(1);
    expect(answered.unknownIdError.stderr.trim().split('\n')).toHaveLength(1);
    expect(answered.unknownIdError.stderr).toContain(UNKNOWN_ID);
  });

  test('list filters by signal and service', async () => {
    const { rows } = answered;
    const traces = await pair.list(dataDir, '--signal', 'traces');
    expect(traces).toEqual(rows.filter((row) => row.signal === 'traces'));
    expect(traces.length).toBeGreaterThan(0);
    const service = rows[0]!.services[0]!;
    const byService = await pair.list(dataDir, '--service', service);
    expect(byService).toEqual(rows.filter((row) => row.services.includes(service)));
    expect(byService.length).toBeGreaterThan(0);
  });

  test("the objects are in this pair's blob store and the rows in its index backend", async () => {
    const listedObjects = [...new Set(answered.rows.map((row) => row.object))].sort();
    expect(await pair.objectKeys(dataDir)).toEqual(listedObjects);
    // ClickHouse receives rows from the local outbox in batches (index.clickhouse.batchInterval, 1 s): wait for them.
    const ids = answered.rows.map((row) => row.id).sort();
    const indexed = await waitFor('the index backend to hold every listed row', async () => {
      const held = await pair.indexedIds(dataDir);
      return held.length >= ids.length ? held : undefined;
    }, 30_000, 250);
    expect(indexed).toEqual(ids);
  });

  test('blocks sit back to back in append order after the object header, so offsets follow from lengths', () => {
    const byObject = new Map<string, RequestView[]>();
    for (const row of answered.rows) byObject.set(row.object, [...(byObject.get(row.object) ?? []), row]);
    for (const blocks of byObject.values()) {
      blocks.sort((a, b) => (a.id < b.id ? -1 : 1));
      let offset = OBJECT_HEADER_SIZE + BLOCK_HEADER_SIZE;
      for (const block of blocks) {
        expect(block.offset).toBe(offset);
        offset += block.length + BLOCK_HEADER_SIZE;
      }
    }
  });
});

/**
 * The fields that may differ between two captures of the same data, whatever the adapters:
 * - `id`: a ULID made on receipt (time + randomness);
 * - `receivedAt`: the wall-clock time of receipt;
 * - `object`: the object key holds a new ULID and the UTC hour the object was opened;
 * - `offset`: which requests share an object depends on when the archiver sealed it (archiver.maxObjectAge, 300 ms
 *   here, against the moment each export arrived), so a block's position within its object does too. The per-pair
 *   case above pins offsets down to the block lengths, which are compared here.
 */
function comparable(row: RequestView): Omit<RequestView, 'id' | 'receivedAt' | 'object' | 'offset'> {
  const { id: _id, receivedAt: _receivedAt, object: _object, offset: _offset, ...rest } = row;
  return rest;
}

describe('the same data on both adapter pairs', () => {
  test('list --json is identical except id, receivedAt, object and offset; get returns the same bytes and JSON', () => {
    const [first, second] = ADAPTER_PAIRS.map((spec) => answeredBy.get(spec.name));
    if (!first || !second) throw new Error('a pair did not complete its round trip (see its failure above)');
    expect(second.rows.map(comparable)).toEqual(first.rows.map(comparable));
    expect(second.rows.length).toBeGreaterThan(0);
    for (const [index, row] of first.rows.entries()) {
      const other = second.rows[index]!;
      expect(sha(second.proto.get(other.id)!)).toBe(sha(first.proto.get(row.id)!));
      expect(second.json.get(other.id)).toEqual(first.json.get(row.id));
    }
    expect(second.unknownIdError).toEqual(first.unknownIdError);
  });
});
