import { flattenRequest, type RowSink } from '../../src/export/flatten.js';
import { Col } from '../../src/export/flatten-metrics.js';
import { METRICS_TABLE, TABLES, type Row } from '../../src/export/tables.js';
import { MalformedPayloadError } from '../../src/errors.js';
import type { Signal } from '../../src/model.js';
import { otlpType, requestType } from '../../src/otlp/proto-root.js';
import { metricsPayloadWithSummaryAndExemplars, payloadFor } from '../helpers/otlp-payloads.js';

function flatten(signal: Signal, bytes: Uint8Array, startNs = 42n): { rows: Row[]; times: bigint[] } {
  const rows: Row[] = [];
  const times: bigint[] = [];
  const sink: RowSink = { add: (row, time) => void (rows.push(row), times.push(time)) };
  flattenRequest({ id: 'req-1', signal, startNs }, bytes, sink);
  return { rows, times };
}

const column = (signal: Signal, name: string): number => TABLES[signal].columns.findIndex((c) => c.name === name);
const encode = (typeName: string, value: object): Uint8Array => {
  const type = otlpType(typeName);
  return type.encode(type.fromObject(value)).finish();
};
const mapOf = (pairs: unknown): Record<string, string | null> => {
  const list = pairs as (string | null)[];
  const out: Record<string, string | null> = {};
  for (let i = 0; i < list.length; i += 2) out[list[i] as string] = list[i + 1] ?? null;
  return out;
};

describe('flattenRequest', () => {
  it('makes rows of exactly the table width, one per item, for every signal', () => {
    for (const signal of ['traces', 'logs', 'metrics'] as const) {
      const payload = payloadFor(signal, 3);
      const { rows } = flatten(signal, payload.proto);
      expect(rows).toHaveLength(payload.expected.items);
      for (const row of rows) expect(row).toHaveLength(TABLES[signal].columns.length);
    }
    const summary = metricsPayloadWithSummaryAndExemplars(2);
    expect(flatten('metrics', summary.proto).rows).toHaveLength(summary.expected.items);
  });

  it('places metric values in the columns the table names', () => {
    const names = Object.entries(Col).filter(([key]) => Number.isNaN(Number(key)) && key !== 'Width');
    for (const [key, index] of names) {
      const snake = key.replace(/[A-Z]/g, (c, at: number) => (at === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`));
      expect(METRICS_TABLE.columns[index as number]!.name).toBe(snake);
    }
    expect(Col.Width).toBe(METRICS_TABLE.columns.length);
  });

  it('reads a resource that comes after its scopes, and a scope after its spans', () => {
    const span = { traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 2), name: 'late', startTimeUnixNano: '1709290800000000000' };
    const scopeSpans = Buffer.concat([
      encode('opentelemetry.proto.trace.v1.ScopeSpans', { spans: [span] }),
      encode('opentelemetry.proto.trace.v1.ScopeSpans', { scope: { name: 'lib', version: '1.2' } }),
    ]);
    const resourceSpans = Buffer.concat([
      encode('opentelemetry.proto.trace.v1.ResourceSpans', {}),
      Buffer.from([0x12, scopeSpans.length]), // field 2 (scope_spans) first
      scopeSpans,
      encode('opentelemetry.proto.trace.v1.ResourceSpans', {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'late-svc' } }] },
      }),
    ]);
    const request = Buffer.concat([Buffer.from([0x0a, resourceSpans.length]), resourceSpans]);
    const { rows, times } = flatten('traces', request);
    expect(rows).toHaveLength(1);
    expect(rows[0]![column('traces', 'service_name')]).toBe('late-svc');
    expect(rows[0]![column('traces', 'scope_name')]).toBe('lib');
    expect(rows[0]![column('traces', 'scope_version')]).toBe('1.2');
    expect(rows[0]![column('traces', 'trace_id')]).toBe('01'.repeat(16));
    expect(rows[0]![column('traces', 'end_time')]).toBeNull();
    expect(rows[0]![column('traces', 'duration_ns')]).toBeNull();
    expect(times).toEqual([1709290800000000000n]);
  });

  it('turns attribute values into text, JSON for arrays and maps, and keeps the last of a repeated key', () => {
    const attributes = [
      { key: 'dup', value: { stringValue: 'first' } },
      { key: 'big', value: { intValue: '9007199254740993' } },
      { key: 'neg', value: { intValue: '-5' } },
      { key: 'pi', value: { doubleValue: 3.25 } },
      { key: 'yes', value: { boolValue: true } },
      { key: 'raw', value: { bytesValue: Buffer.from([1, 2, 3]) } },
      { key: 'list', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '-9007199254740993' }, { doubleValue: Infinity }] } } },
      { key: 'map', value: { kvlistValue: { values: [{ key: 'k', value: { boolValue: false } }] } } },
      { key: 'empty', value: {} },
      { key: 'dup', value: { stringValue: 'second' } },
    ];
    const request = encode('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest', {
      resourceLogs: [{ scopeLogs: [{ logRecords: [{ observedTimeUnixNano: '1709290800000000001', attributes, body: { kvlistValue: { values: [{ key: 'n', value: { intValue: '7' } }] } } }] }] }],
    });
    const { rows, times } = flatten('logs', request);
    expect(mapOf(rows[0]![column('logs', 'log_attributes')])).toEqual({
      big: '9007199254740993',
      neg: '-5',
      pi: '3.25',
      yes: 'true',
      raw: 'AQID',
      list: '["a","-9007199254740993","Infinity"]',
      map: '{"k":false}',
      empty: null,
      dup: 'second',
    });
    expect(rows[0]![column('logs', 'body')]).toBe('{"n":7}');
    expect(rows[0]![column('logs', 'time')]).toBeNull();
    // No time: the observed time places it.
    expect(times).toEqual([1709290800000000001n]);
  });

  it('falls back to the request start for an item without any timestamp', () => {
    const request = encode('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest', {
      resourceLogs: [{ scopeLogs: [{ logRecords: [{ severityText: 'INFO' }] }] }],
    });
    expect(flatten('logs', request, 1234n).times).toEqual([1234n]);
  });

  it('refuses a damaged request with MalformedPayloadError', () => {
    const payload = payloadFor('traces', 1).proto;
    expect(() => flatten('traces', payload.subarray(0, payload.length - 7))).toThrow(MalformedPayloadError);
    expect(requestType('traces').name).toBe('ExportTraceServiceRequest');
  });
});
