// `otlp-capture export` end to end, as a user runs it (the real CLI on a real archive): a mixed archive of three
// signals, two tenants and three days of data time goes out as Parquet, which DuckDB (a real engine) reads back, and
// as OTLP JSON lines, which must be what `get --format json` prints and what otlp-transformer's own JSON serializer
// wrote for the same records. Also: --resume, and bad flags.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { decompress as zstdDecompress } from 'zstd-napi';
import type { IExportLogsServiceRequest } from '@opentelemetry/otlp-transformer/build/src/logs/internal-types.js';
import type { IExportMetricsServiceRequest } from '@opentelemetry/otlp-transformer/build/src/metrics/internal-types.js';
import type { IExportTraceServiceRequest } from '@opentelemetry/otlp-transformer/build/src/trace/internal-types.js';
import type { Signal } from '../../src/model.js';
import { toOtlpJson } from '../../src/otlp/json.js';
import { getBytes } from '../helpers/capture-cli.js';
import { buildMixedArchive, DAYS, TENANTS, type MixedArchive, type MixedEntry } from '../helpers/mixed-archive.js';
import { normalizeOtlpJson } from '../helpers/otlp-json-normalize.js';
import { runCli } from '../helpers/server-process.js';

type Json = Record<string, any>;

let dir: string;
let dataDir: string;
let archive: MixedArchive;
let duck: DuckDBInstance;
let db: DuckDBConnection;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'otlp-capture-export-'));
  dataDir = path.join(dir, 'data');
  archive = await buildMixedArchive(dataDir);
  await archive.close();
  duck = await DuckDBInstance.create(':memory:');
  db = await duck.connect();
});

afterAll(async () => {
  db?.closeSync();
  duck?.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

async function exportCli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const result = await runCli(['export', '--data-dir', dataDir, ...args]);
  return { code: result.code, stdout: result.stdout.toString('utf8'), stderr: result.stderr };
}

/** `signal=…/tenant=…/dt=…/hour=…` of a unix-nanosecond time, computed here (not by the code under test). */
function partitionOf(signal: Signal, tenant: string, ns: bigint): string {
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  return `signal=${signal}/tenant=${tenant}/dt=${iso.slice(0, 10)}/hour=${iso.slice(11, 13)}`;
}

const nonZero = (value: unknown): bigint | null => (value === undefined || value === null || BigInt(value as string) === 0n ? null : BigInt(value as string));

/** The entry's data as OTLP JSON: otlp-transformer's own, or (hand-built payloads) a protobufjs decode. */
const jsonOf = (entry: MixedEntry): Json => entry.transformerJson ?? (toOtlpJson(entry.signal, entry.proto) as Json);

interface ExpectedItem {
  partition: string;
  item: Json;
  resource: Json;
  metric?: Json;
}

/** Every span / log record / data point of the archive, with the partition its own time puts it in. */
function expectedItems(entries: readonly MixedEntry[]): ExpectedItem[] {
  const items: ExpectedItem[] = [];
  for (const entry of entries) {
    const json = jsonOf(entry);
    const add = (ns: bigint, item: Json, resource: Json, metric?: Json): void => {
      items.push({ partition: partitionOf(entry.signal, entry.tenant, ns), item, resource, ...(metric ? { metric } : {}) });
    };
    if (entry.signal === 'traces') {
      for (const rs of json.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) for (const span of ss.spans ?? []) {
        add(nonZero(span.startTimeUnixNano)!, span, rs.resource ?? {});
      }
    } else if (entry.signal === 'logs') {
      for (const rl of json.resourceLogs ?? []) for (const sl of rl.scopeLogs ?? []) for (const record of sl.logRecords ?? []) {
        add(nonZero(record.timeUnixNano) ?? nonZero(record.observedTimeUnixNano)!, record, rl.resource ?? {});
      }
    } else {
      for (const rm of json.resourceMetrics ?? []) for (const sm of rm.scopeMetrics ?? []) for (const metric of sm.metrics ?? []) {
        const data = metric.gauge ?? metric.sum ?? metric.histogram ?? metric.exponentialHistogram ?? metric.summary;
        for (const point of data.dataPoints ?? []) {
          add(nonZero(point.timeUnixNano) ?? nonZero(point.startTimeUnixNano)!, point, rm.resource ?? {}, metric);
        }
      }
    }
  }
  return items;
}

function countBy<T>(values: readonly T[], key: (value: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(key(value), (counts.get(key(value)) ?? 0) + 1);
  return counts;
}

/** Rows as plain objects; MAP columns (which DuckDB hands over as [{key, value}, …]) as objects. */
async function rows(sql: string): Promise<Json[]> {
  const reader = await db.runAndReadAll(sql);
  const mapColumns = new Set(['resource_attributes', 'span_attributes', 'log_attributes', 'attributes']);
  return (reader.getRowObjectsJS() as Json[]).map((row) =>
    Object.fromEntries(
      Object.entries(row).map(([key, value]) => [
        key,
        mapColumns.has(key) && Array.isArray(value) ? Object.fromEntries(value.map((e: Json) => [e.key, e.value])) : value,
      ]),
    ),
  );
}

const table = (out: string, signal: Signal): string =>
  `read_parquet('${out}/signal=${signal}/*/*/*/*.parquet', hive_partitioning = true, hive_types_autocast = false)`;

function attributeText(value: Json | undefined): string | null {
  if (value === undefined) return null;
  if ('stringValue' in value) return value.stringValue;
  if ('intValue' in value) return String(value.intValue);
  if ('boolValue' in value) return String(value.boolValue);
  if ('doubleValue' in value) return String(value.doubleValue);
  return null;
}

function attributeOf(attributes: Json[] | undefined, key: string): string | null {
  return attributeText((attributes ?? []).find((kv) => kv.key === key)?.value);
}

function walkFiles(root: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const full = path.join(root, entry.name);
    if (entry.isDirectory()) out.push(...walkFiles(full));
    else out.push(full);
  }
  return out;
}

describe('export --format parquet', () => {
  let out: string;
  let expected: ExpectedItem[];

  beforeAll(async () => {
    out = path.join(dir, 'parquet');
    const result = await exportCli('--to', out, '--format', 'parquet');
    expect(result.stderr).not.toMatch(/damaged|error/i);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^exported \d+ rows in \d+ partitions \(\d+ files, .*\) from 36\/36 requests/);
    expected = expectedItems(archive.entries);
  });

  it('writes one partition per signal, tenant and hour of data time, each with a completion marker', () => {
    const partitions = new Set(expected.map((e) => e.partition));
    // 3 signals × 2 tenants × 3 days × 09h and 10h, and 11h for what the 10:59:30 requests hold after 11:00.
    expect(archive.requests).toHaveLength(3 * TENANTS.length * DAYS.length * 2);
    expect(partitions.size).toBeGreaterThan(3 * TENANTS.length * DAYS.length * 2);
    for (const partition of partitions) {
      const marker = JSON.parse(readFileSync(path.join(out, partition, '_SUCCESS'), 'utf8'));
      expect(marker.format).toBe('parquet');
      expect(marker.items).toBe(expected.filter((e) => e.partition === partition).length);
      for (const file of marker.files) expect(existsSync(path.join(out, partition, file))).toBe(true);
    }
    // Nothing else: no partition the data does not call for, no temp files left behind.
    const written = new Set(walkFiles(out).map((file) => path.relative(out, path.dirname(file))));
    expect([...written].sort()).toEqual([...partitions].sort());
  });

  it('DuckDB reads back as many spans, log records and data points per partition as the archive holds', async () => {
    for (const signal of ['traces', 'logs', 'metrics'] as const) {
      const counted = await rows(`SELECT tenant, dt, hour, count(*) AS n FROM ${table(out, signal)} GROUP BY ALL`);
      const got = new Map(counted.map((r) => [`signal=${signal}/tenant=${r.tenant}/dt=${r.dt}/hour=${r.hour}`, Number(r.n)]));
      const want = countBy(expected.filter((e) => e.partition.startsWith(`signal=${signal}/`)), (e) => e.partition);
      expect(got).toEqual(want);
      // …and the total equals what the index says each request holds.
      const items = archive.requests.filter((r) => r.signal === signal).reduce((sum, r) => sum + r.items, 0);
      expect([...got.values()].reduce((a, b) => a + b, 0)).toBe(items);
    }
  });

  it('span values equal the archived ones', async () => {
    const spans = expected.filter((e) => e.partition.startsWith('signal=traces/'));
    for (const { item: span, resource, partition } of spans.filter((_, i) => i % 37 === 0)) {
      const [row] = await rows(
        `SELECT *, epoch_us(start_time) AS start_us FROM ${table(out, 'traces')} WHERE span_id = '${span.spanId}' AND trace_id = '${span.traceId}'`,
      );
      expect(row).toBeDefined();
      expect(`signal=traces/tenant=${row!.tenant}/dt=${row!.dt}/hour=${row!.hour}`).toBe(partition);
      expect(row!.name).toBe(span.name);
      expect(row!.kind).toBe(['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'][span.kind]);
      expect(row!.parent_span_id).toBe(span.parentSpanId ? span.parentSpanId : null);
      expect(BigInt(row!.start_time_unix_nano)).toBe(BigInt(span.startTimeUnixNano));
      expect(BigInt(row!.end_time_unix_nano)).toBe(BigInt(span.endTimeUnixNano));
      expect(BigInt(row!.start_us)).toBe(BigInt(span.startTimeUnixNano) / 1000n);
      expect(BigInt(row!.duration_ns)).toBe(BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano));
      expect(row!.status_code).toBe(['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'][span.status?.code ?? 0]);
      expect(row!.status_message).toBe(span.status?.message ? span.status.message : null);
      expect(row!.service_name).toBe(attributeOf(resource.attributes, 'service.name'));
      const spanAttributes = row!.span_attributes as Record<string, string | null>;
      for (const kv of span.attributes ?? []) {
        const text = attributeText(kv.value);
        if (text !== null) expect(spanAttributes[kv.key]).toBe(text);
        else expect(spanAttributes[kv.key]).toEqual(expect.any(String));
      }
      expect(Object.keys(spanAttributes).length).toBe(new Set((span.attributes ?? []).map((kv: Json) => kv.key)).size);
      expect((row!.resource_attributes as Record<string, string>)['host.name']).toBe(attributeOf(resource.attributes, 'host.name'));
      const events = row!.events === null ? [] : JSON.parse(row!.events as string);
      expect(events.map((e: Json) => e.name)).toEqual((span.events ?? []).map((e: Json) => e.name));
    }
  });

  it('log record values equal the archived ones', async () => {
    const records = expected.filter((e) => e.partition.startsWith('signal=logs/'));
    let checked = 0;
    for (const { item: record } of records.filter((e, i) => i % 11 === 0 && e.item.timeUnixNano !== undefined)) {
      const time = nonZero(record.timeUnixNano);
      const observed = nonZero(record.observedTimeUnixNano);
      const [row] = await rows(
        `SELECT * FROM ${table(out, 'logs')} WHERE ${time === null ? 'time_unix_nano IS NULL' : `time_unix_nano = ${time}`} AND observed_time_unix_nano = ${observed}`,
      );
      expect(row).toBeDefined();
      expect(row!.severity_number).toBe(record.severityNumber ?? null);
      expect(row!.severity_text).toBe(record.severityText ?? null);
      if (record.body?.stringValue !== undefined) expect(row!.body).toBe(record.body.stringValue);
      expect(row!.trace_id).toBe(record.traceId ? record.traceId : null);
      expect((row!.log_attributes as Record<string, string>)['code.function']).toBe(attributeOf(record.attributes, 'code.function'));
      checked += 1;
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('metric data point values equal the archived ones, for every type', async () => {
    const points = expected.filter((e) => e.partition.startsWith('signal=metrics/'));
    const types = new Set<string>();
    for (const { item: point, metric } of points.filter((_, i) => i % 5 === 0)) {
      const time = nonZero(point.timeUnixNano)!;
      const [row] = await rows(
        `SELECT * FROM ${table(out, 'metrics')} WHERE metric_name = '${metric!.name}' AND time_unix_nano = ${time}` +
          ` AND ${nonZero(point.startTimeUnixNano) !== null ? `start_time_unix_nano = ${nonZero(point.startTimeUnixNano)}` : 'start_time_unix_nano IS NULL'}`,
      );
      expect(row).toBeDefined();
      const type = metric!.gauge ? 'gauge' : metric!.sum ? 'sum' : metric!.histogram ? 'histogram' : metric!.exponentialHistogram ? 'exponential_histogram' : 'summary';
      types.add(type);
      expect(row!.metric_type).toBe(type);
      if (type === 'gauge' || type === 'sum') {
        if (point.asInt !== undefined) expect(BigInt(row!.value_int)).toBe(BigInt(point.asInt));
        else expect(row!.value_double).toBe(point.asDouble);
      } else {
        expect(BigInt(row!.count)).toBe(BigInt(point.count));
      }
      if (type === 'histogram') {
        expect(((row!.bucket_counts ?? []) as bigint[]).map(Number)).toEqual((point.bucketCounts ?? []).map(Number));
        expect(row!.explicit_bounds ?? []).toEqual(point.explicitBounds ?? []);
      }
      if (type === 'exponential_histogram') {
        expect(row!.positive_offset).toBe(point.positive?.offset ?? 0);
        expect(((row!.positive_bucket_counts ?? []) as bigint[]).map(Number)).toEqual((point.positive?.bucketCounts ?? []).map(Number));
      }
      if (type === 'summary') {
        expect(row!.quantiles ?? []).toEqual((point.quantileValues ?? []).map((q: Json) => q.quantile ?? 0));
        expect(row!.quantile_values ?? []).toEqual((point.quantileValues ?? []).map((q: Json) => q.value ?? 0));
      }
      if (point.exemplars) {
        expect(JSON.parse(row!.exemplars as string).map((e: Json) => e.trace_id)).toEqual(point.exemplars.map((e: Json) => e.traceId ?? null));
      }
    }
    expect([...types].sort()).toEqual(['exponential_histogram', 'gauge', 'histogram', 'sum', 'summary']);
  });

  it('--resume skips complete partitions and rewrites one an interrupted run left incomplete', async () => {
    const incomplete = 'signal=logs/tenant=globex/dt=2024-03-02/hour=10';
    const kept = 'signal=traces/tenant=acme/dt=2024-03-01/hour=09';
    // An interrupted run: the marker never written, a stray part file left.
    rmSync(path.join(out, incomplete, '_SUCCESS'));
    writeFileSync(path.join(out, incomplete, 'part-00042.parquet'), 'torn');
    const keptMarker = statSync(path.join(out, kept, '_SUCCESS'));
    const result = await exportCli('--to', out, '--format', 'parquet', '--resume');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^exported [1-9]\d* rows in 1 partitions .* from [1-9]\d*\/36 requests .*; \d+ requests skipped/);
    expect(existsSync(path.join(out, incomplete, 'part-00042.parquet'))).toBe(false);
    expect(existsSync(path.join(out, incomplete, '_SUCCESS'))).toBe(true);
    expect(statSync(path.join(out, kept, '_SUCCESS')).mtimeMs).toBe(keptMarker.mtimeMs);
    const [count] = await rows(`SELECT count(*) AS n FROM ${table(out, 'logs')} WHERE tenant = 'globex' AND dt = '2024-03-02' AND hour = '10'`);
    expect(Number(count!.n)).toBe(expected.filter((e) => e.partition === incomplete).length);
  });
});

describe('export --format otlp-json', () => {
  let out: string;
  const lines = new Map<string, Json[]>();

  beforeAll(async () => {
    out = path.join(dir, 'jsonl');
    const result = await exportCli('--to', out, '--format', 'otlp-json', '--compression', 'gzip');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^exported 36 lines in 36 partitions \(36 files, .*\) from 36\/36 requests/);
    for (const file of walkFiles(out).filter((f) => f.endsWith('.jsonl.gz'))) {
      const partition = path.relative(out, path.dirname(file));
      const text = gunzipSync(readFileSync(file)).toString('utf8');
      expect(text.endsWith('\n')).toBe(true);
      lines.set(partition, [...(lines.get(partition) ?? []), ...text.slice(0, -1).split('\n').map((line) => JSON.parse(line) as Json)]);
    }
  });

  it('writes one line per request, in the partition of its first data time, typed as otlp-transformer types it', () => {
    const all = [...lines.values()].flat();
    expect(all).toHaveLength(archive.requests.length);
    for (const request of archive.requests) {
      expect(lines.has(partitionOf(request.signal, request.tenant, request.startNs))).toBe(true);
    }
    for (const [partition, partitionLines] of lines) {
      for (const line of partitionLines) {
        if (partition.startsWith('signal=traces/')) {
          const typed: IExportTraceServiceRequest = line;
          expect(typed.resourceSpans!.length).toBeGreaterThan(0);
        } else if (partition.startsWith('signal=logs/')) {
          const typed: IExportLogsServiceRequest = line;
          expect(typed.resourceLogs!.length).toBeGreaterThan(0);
        } else {
          const typed: IExportMetricsServiceRequest = line as IExportMetricsServiceRequest;
          expect(typed.resourceMetrics.length).toBeGreaterThan(0);
        }
      }
    }
  });

  it('each line is what otlp-transformer serialized for the same records, and what `get --format json` prints', async () => {
    const unmatched = [...lines.entries()].flatMap(([partition, list]) => list.map((line) => ({ partition, line: JSON.stringify(line) })));
    for (const [i, request] of archive.requests.entries()) {
      const entry = archive.entries[i]!;
      // The CLI for a few (it is slow to start), the same code in process for the rest.
      const viaGet = i % 20 === 0 ? JSON.parse((await getBytes(dataDir, request.id, 'json')).toString('utf8')) : toOtlpJson(request.signal, toProtoOf(request.id));
      const at = unmatched.findIndex((u) => u.partition === partitionOf(request.signal, request.tenant, request.startNs) && u.line === JSON.stringify(viaGet));
      expect(at).toBeGreaterThanOrEqual(0);
      if (entry.transformerJson !== null) {
        expect(normalizeOtlpJson(JSON.parse(unmatched[at]!.line))).toEqual(normalizeOtlpJson(entry.transformerJson));
      }
      unmatched.splice(at, 1);
    }
    expect(unmatched).toEqual([]);
  });
});

describe('export --format otlp-json --compression zstd', () => {
  it('writes .jsonl.zst files whose lines are the gzip run\'s lines', async () => {
    const gzOut = path.join(dir, 'jsonl');
    const out = path.join(dir, 'jsonl-zstd');
    const result = await exportCli('--to', out, '--format', 'otlp-json', '--compression', 'zstd', '--signal', 'logs');
    expect(result.code).toBe(0);
    const files = walkFiles(out).filter((f) => f.endsWith('.jsonl.zst'));
    expect(files.length).toBeGreaterThan(0);
    expect(walkFiles(out).filter((f) => /\.jsonl(\.gz)?$/.test(f))).toEqual([]);
    for (const file of files) {
      const partition = path.relative(out, path.dirname(file));
      const text = zstdDecompress(readFileSync(file)).toString('utf8');
      const gz = gunzipSync(readFileSync(path.join(gzOut, partition, path.basename(file).replace(/\.zst$/, '.gz')))).toString('utf8');
      expect(text).toBe(gz);
    }
  });
});

/** The archived bytes of a request: the archive builder gives ids in capture order, so entry i is request i. */
function toProtoOf(id: string): Uint8Array {
  const index = archive.requests.findIndex((r) => r.id === id);
  return archive.entries[index]!.proto;
}

describe('export with bad flags', () => {
  it.each([
    [['--to', 'x'], /--format/],
    [['--format', 'parquet'], /--to/],
    [['--to', 'x', '--format', 'csv'], /--format must be parquet or otlp-json, not "csv"/],
    [['--to', 'x', '--format', 'parquet', '--compression', 'lz4'], /--compression for parquet must be zstd, snappy, gzip, none, not "lz4"/],
    [['--to', 'x', '--format', 'otlp-json', '--compression', 'brotli'], /--compression: unknown compression "brotli"/],
    [['--to', 'x', '--format', 'parquet', '--max-file-size', '10KB'], /--max-file-size must be a size of at least 1MiB/],
    [['--to', 'ftp://host/x', '--format', 'parquet'], /only local directories and s3:\/\/ destinations are supported/],
    [['--to', 's3://Bad_Bucket/x', '--format', 'parquet'], /is not an S3 bucket name/],
    [['--to', 'x', '--format', 'parquet', '--signal', 'spans'], /--signal must be traces, metrics or logs/],
    [['--to', 'x', '--format', 'parquet', '--since', 'yesterday-ish'], /--since must be a time/],
    [['--to', 'x', '--format', 'parquet', '--bogus'], /unknown option '--bogus'/],
  ])('%j → exit 2', async (args, message) => {
    const result = await exportCli(...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('refuses to export into the archive itself', async () => {
    const result = await exportCli('--to', path.join(dataDir, 'objects', 'exports'), '--format', 'parquet');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/overlaps the archive's own directory/);
  });
});
