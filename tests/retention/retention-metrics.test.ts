// Retention inside serve as metrics: the scheduler's runs (succeeded / failed), objects per policy and result, when
// the last run and the last clean run finished — also as recorded in the blob store by an earlier process — and
// the interval (0 when serve runs no retention).
import { afterEach, beforeEach, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { NoopNotifier } from '../../src/notify/noop-notifier.js';
import { retentionSchema } from '../../src/retention/retention-config.js';
import { registerRetentionMetrics } from '../../src/retention/retention-metrics.js';
import { RetentionScheduler } from '../../src/retention/retention-scheduler.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { buildArchive, type BuiltArchive } from '../helpers/archive-builder.js';
import { tracePayload } from '../helpers/otlp-payloads.js';
import { waitFor } from '../helpers/wait.js';

let dir: string;
let archive: BuiltArchive;
const schedulers: RetentionScheduler[] = [];

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'retention-metrics-'));
  const entries = ['drop', 'drop', 'drop', 'drop', 'move', 'move'].map((tenant, i) => ({ tenant, signal: 'traces' as const, bytes: tracePayload(i + 1, 10).proto }));
  archive = await buildArchive(dir, entries, 2);
});

afterEach(async () => {
  for (const scheduler of schedulers.splice(0)) await scheduler.stop();
  await archive.close();
  rmSync(dir, { recursive: true, force: true });
});

function scheduler(policies: unknown[], interval = '150ms'): { scheduler: RetentionScheduler; registry: Registry } {
  const config = retentionSchema.parse({ interval, leaseTtl: '2s', policies });
  const scheduler = new RetentionScheduler({ blobs: archive.blobs, index: archive.index, config, notifier: new NoopNotifier(), logger: silentLogger() });
  schedulers.push(scheduler);
  const registry = new Registry();
  registerRetentionMetrics(registry, () => scheduler.stats());
  return { scheduler, registry };
}

async function values(registry: Registry): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of (await registry.metrics()).matchAll(/^(otlpcapture_retention_\w+(?:\{[^}]*\})?) (\S+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

test('a clean run moves runs, objects and both timestamps; a later process reads the last run back', async () => {
  const { scheduler: first, registry } = scheduler([{ name: 'drop-old', match: { tenant: 'drop', olderThan: '1ms' }, action: { type: 'delete' } }]);
  const before = await values(registry);
  expect(before).toMatchObject({
    'otlpcapture_retention_runs_total{result="succeeded"}': 0,
    'otlpcapture_retention_objects_total{policy="drop-old",action="delete",result="succeeded"}': 0,
    otlpcapture_retention_last_run_timestamp_seconds: 0,
    otlpcapture_retention_interval_seconds: 0.15,
  });
  const startedAt = Date.now() / 1000;
  first.start();
  await waitFor('a retention run', async () => (first.runs >= 1 ? true : undefined), 10_000, 20);
  const after = await values(registry);
  expect(after['otlpcapture_retention_runs_total{result="succeeded"}']).toBeGreaterThanOrEqual(1);
  expect(after['otlpcapture_retention_runs_total{result="failed"}']).toBe(0);
  expect(after['otlpcapture_retention_objects_total{policy="drop-old",action="delete",result="succeeded"}']).toBe(2);
  expect(after['otlpcapture_retention_objects_total{policy="drop-old",action="delete",result="failed"}']).toBe(0);
  expect(after.otlpcapture_retention_last_run_timestamp_seconds).toBeGreaterThanOrEqual(startedAt);
  expect(after.otlpcapture_retention_last_success_timestamp_seconds).toBe(after.otlpcapture_retention_last_run_timestamp_seconds);
  await first.stop();

  // A restarted serve (its first run an interval away) knows when the last run was from the record in the blob store.
  const { scheduler: second, registry: secondRegistry } = scheduler([{ name: 'drop-old', match: { tenant: 'drop', olderThan: '1ms' }, action: { type: 'delete' } }], '1h');
  second.start();
  const seeded = await waitFor('the recorded last run', async () => {
    const now = await values(secondRegistry);
    return now.otlpcapture_retention_last_run_timestamp_seconds! > 0 ? now : undefined;
  }, 5000, 20);
  expect(seeded.otlpcapture_retention_last_run_timestamp_seconds).toBeGreaterThanOrEqual(startedAt);
  expect(seeded.otlpcapture_retention_last_success_timestamp_seconds).toBe(seeded.otlpcapture_retention_last_run_timestamp_seconds);
  expect(seeded['otlpcapture_retention_runs_total{result="succeeded"}']).toBe(0);
});

test('objects that fail make the run count as failed and leave the last success where it was', async () => {
  // The archive target is a regular file: no object can be copied under it.
  const notADirectory = path.join(dir, 'not-a-directory');
  writeFileSync(notADirectory, 'x');
  const { scheduler: failing, registry } = scheduler([{ name: 'cold', match: { tenant: 'move', olderThan: '1ms' }, action: { type: 'archive', dir: notADirectory } }]);
  failing.start();
  await waitFor('a retention run', async () => (failing.runs >= 1 ? true : undefined), 10_000, 20);
  const after = await values(registry);
  expect(after['otlpcapture_retention_runs_total{result="failed"}']).toBeGreaterThanOrEqual(1);
  expect(after['otlpcapture_retention_runs_total{result="succeeded"}']).toBe(0);
  expect(after['otlpcapture_retention_objects_total{policy="cold",action="archive",result="failed"}']).toBeGreaterThanOrEqual(1);
  expect(after.otlpcapture_retention_last_run_timestamp_seconds).toBeGreaterThan(0);
  expect(after.otlpcapture_retention_last_success_timestamp_seconds).toBe(0);
});

test('without a retention section the series exist with interval 0', async () => {
  const registry = new Registry();
  registerRetentionMetrics(registry, () => null);
  expect(await values(registry)).toEqual({
    otlpcapture_retention_interval_seconds: 0,
    otlpcapture_retention_last_run_timestamp_seconds: 0,
    otlpcapture_retention_last_success_timestamp_seconds: 0,
    'otlpcapture_retention_runs_total{result="succeeded"}': 0,
    'otlpcapture_retention_runs_total{result="failed"}': 0,
    'otlpcapture_retention_runs_total{result="skipped"}': 0,
  });
});
