// The data-path metrics of src/telemetry/metrics.ts that the alerts and dashboard read: per-tenant ingest (bounded
// label values), ingest latency, series that exist before their first increment, and the text Prometheus scrapes.
import { expect, test } from '@jest/globals';
import { MAX_TENANT_LABELS, Metrics, OTHER_TENANTS } from '../../src/telemetry/metrics.js';
import { isValidTenant } from '../../src/admission/tenant.js';

const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

test('an acknowledged request moves requests, items and bytes of its signal and tenant, and the ingest latency', async () => {
  const metrics = new Metrics({ processMetrics: false });
  metrics.recordReceived('traces', 'team-a', 40, 1234, 0.003);
  metrics.recordReceived('traces', 'team-a', 2, 100, 0.2);
  metrics.recordReceived('logs', 'team-b', 7, 50, 0.001);
  const text = await metrics.render();
  expect(sample(text, 'otlpcapture_requests_received_total{signal="traces",tenant="team-a"}')).toBe(2);
  expect(sample(text, 'otlpcapture_items_received_total{signal="traces",tenant="team-a"}')).toBe(42);
  expect(sample(text, 'otlpcapture_bytes_received_total{signal="traces",tenant="team-a"}')).toBe(1334);
  expect(sample(text, 'otlpcapture_requests_received_total{signal="logs",tenant="team-b"}')).toBe(1);
  expect(sample(text, 'otlpcapture_ingest_duration_seconds_count{signal="traces"}')).toBe(2);
  expect(sample(text, 'otlpcapture_ingest_duration_seconds_bucket{le="0.005",signal="traces"}')).toBe(1);
  expect(sample(text, 'otlpcapture_ingest_duration_seconds_sum{signal="traces"}')).toBeCloseTo(0.203, 6);
});

test(`tenants beyond the first ${MAX_TENANT_LABELS} are counted under ${OTHER_TENANTS}, which no real tenant can be named`, async () => {
  const metrics = new Metrics({ processMetrics: false });
  for (let n = 0; n < MAX_TENANT_LABELS + 20; n++) metrics.recordReceived('metrics', `tenant-${n}`, 1, 10, 0.001);
  // A tenant seen before the limit keeps its own label afterwards.
  metrics.recordReceived('metrics', 'tenant-0', 1, 10, 0.001);
  const text = await metrics.render();
  const tenants = [...text.matchAll(/^otlpcapture_requests_received_total\{signal="metrics",tenant="([^"]+)"\}/gm)].map((m) => m[1]);
  expect(tenants).toHaveLength(MAX_TENANT_LABELS + 1);
  expect(sample(text, `otlpcapture_requests_received_total{signal="metrics",tenant="${OTHER_TENANTS}"}`)).toBe(20);
  expect(sample(text, 'otlpcapture_requests_received_total{signal="metrics",tenant="tenant-0"}')).toBe(2);
  expect(isValidTenant(OTHER_TENANTS)).toBe(false);
});

test('counters the alerts use exist at 0 before anything happened, for every signal, reason and stage', async () => {
  const text = await new Metrics({ processMetrics: false }).render();
  for (const signal of ['traces', 'metrics', 'logs']) {
    expect(sample(text, `otlpcapture_objects_archived_total{signal="${signal}"}`)).toBe(0);
    expect(sample(text, `otlpcapture_archived_raw_bytes_total{signal="${signal}"}`)).toBe(0);
    expect(sample(text, `otlpcapture_archived_stored_bytes_total{signal="${signal}"}`)).toBe(0);
    expect(sample(text, `otlpcapture_requests_rejected_total{signal="${signal}",reason="spool_full"}`)).toBe(0);
    expect(sample(text, `otlpcapture_requests_rejected_total{signal="${signal}",reason="malformed"}`)).toBe(0);
  }
  expect(sample(text, 'otlpcapture_archive_failures_total{stage="upload"}')).toBe(0);
  expect(sample(text, 'otlpcapture_archive_failures_total{stage="index"}')).toBe(0);
});

test('process metrics keep prom-client names (with the otlpcapture_ prefix), event-loop lag included', async () => {
  const text = await new Metrics().render();
  for (const name of [
    'otlpcapture_process_cpu_seconds_total',
    'otlpcapture_process_resident_memory_bytes',
    'otlpcapture_process_start_time_seconds',
    'otlpcapture_nodejs_eventloop_lag_p99_seconds',
    'otlpcapture_nodejs_heap_size_used_bytes',
  ]) {
    expect(text).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
  }
});
