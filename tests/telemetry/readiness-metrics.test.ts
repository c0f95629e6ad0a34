// otlpcapture_ready and otlpcapture_not_ready_reason follow what /readyz would answer at each scrape.
import { expect, test } from '@jest/globals';
import { Registry } from 'prom-client';
import { NOT_READY_REASONS, registerReadinessMetrics, type NotReady } from '../../src/telemetry/readiness-metrics.js';

test('ready is 1 with every reason at 0; not ready sets exactly the reason it has', async () => {
  const registry = new Registry();
  let state: NotReady | null = null;
  registerReadinessMetrics(registry, () => state);
  const values = async (): Promise<Record<string, number>> => {
    const out: Record<string, number> = {};
    for (const line of (await registry.metrics()).split('\n')) {
      const match = /^(otlpcapture_ready|otlpcapture_not_ready_reason\{reason="(\w+)"\}) (\S+)$/.exec(line);
      if (match) out[match[2] ?? 'ready'] = Number(match[3]);
    }
    return out;
  };
  expect(await values()).toEqual({ ready: 1, ...Object.fromEntries(NOT_READY_REASONS.map((r) => [r, 0])) });
  state = { reason: 'spool_full', message: 'spool is 93% full' };
  expect(await values()).toEqual({ ready: 0, ...Object.fromEntries(NOT_READY_REASONS.map((r) => [r, r === 'spool_full' ? 1 : 0])) });
  state = { reason: 'index', message: 'cannot reach ClickHouse' };
  const now = await values();
  expect([now.ready, now.index, now.spool_full]).toEqual([0, 1, 0]);
  state = null;
  expect((await values()).ready).toBe(1);
});
