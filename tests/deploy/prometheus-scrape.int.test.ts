// A real Prometheus (Debian's package) scrapes a running `serve` every second — from the network, with a bearer token
// that has the metrics scope, as the ServiceMonitor and PodMonitor do — with the rule file loaded, while a
// short load goes through it (traces, metrics and logs of two tenants over TLS, some malformed requests, read-side
// calls). Then, through Prometheus's HTTP API: every rule evaluates without error, every recording rule has data,
// every query of the dashboard is accepted, and all but a named few return data; the dashboard's variables have
// values. Bounded: about 30 s.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { makePki, pem } from '../helpers/certs.js';
import { grpcExport, unary } from '../helpers/grpc-calls.js';
import { logsPayload, metricsPayload, tracePayload } from '../helpers/otlp-payloads.js';
import { startPrometheus, type PrometheusServer } from '../helpers/prometheus-server.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { waitFor } from '../helpers/wait.js';
import { nonLoopbackAddress } from '../helpers/network-address.js';
import { recordNames, RULES_FILE } from './prometheus-rules.js';
import { repoPath, type Tree } from './repo-yaml.js';

/** Dashboard queries that may rightly have no data here, and why. */
const MAY_BE_EMPTY: Record<string, string> = {
  'Readiness B': 'the not-ready reasons, filtered to > 0: serve is ready throughout',
};

/** One token for everything this test does: the load (ingest), the read-side calls (read) and the scrape (metrics). */
const TOKEN = 'prometheus-scrape-5b0e61c2d9';
const bearer = { authorization: `Bearer ${TOKEN}` };

let dir: string;
let server: ServerProcess;
let prometheus: PrometheusServer;

const dashboard = JSON.parse(readFileSync(repoPath('deploy/grafana/otlp-capture.json'), 'utf8')) as Tree;
const dashboardQueries = (dashboard.panels as Tree[])
  .filter((panel) => panel.type !== 'row')
  .flatMap((panel) => (panel.targets as Tree[]).map((target) => ({ name: `${String(panel.title)} ${String(target.refId)}`, expr: String(target.expr) })));

/** A dashboard query as Grafana sends it with every instance and tenant chosen. */
function asGrafanaSends(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$job', 'otlp-capture')
    .replaceAll('$instance', '.*')
    .replaceAll('$tenant', '.*');
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'prometheus-scrape-'));
  const pki = makePki(dir);
  const config = path.join(dir, 'capture.yaml');
  writeFileSync(
    config,
    [
      'archiver:',
      '  maxObjectAge: 1s',
      'server:',
      '  tls:',
      `    certFile: ${pki.server.cert}`,
      `    keyFile: ${pki.server.key}`,
      'retention:',
      '  interval: 2s',
      '  policies:',
      '    - { name: drop-old, match: { olderThan: 30d }, action: { type: delete } }',
      'auth:',
      '  bearerTokens:',
      `    - { token: ${TOKEN}, scopes: [ingest, read, metrics] }`,
      '',
    ].join('\n'),
  );
  const tokenFile = path.join(dir, 'scrape.token');
  writeFileSync(tokenFile, TOKEN);
  server = await startServer(['--config', config, '--data-dir', path.join(dir, 'data'), '--admin-listen', '0.0.0.0:0']);
  prometheus = await startPrometheus(
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      `  - ${repoPath(RULES_FILE)}`,
      'scrape_configs:',
      '  - job_name: otlp-capture',
      '    authorization:',
      `      credentials_file: ${tokenFile}`,
      '    static_configs:',
      `      - targets: ['${nonLoopbackAddress()}:${server.adminPort}']`,
      '',
    ].join('\n'),
  );

  // About 8 s of load: every signal, two tenants, a malformed request now and then; then read-side calls.
  const credentials = grpc.credentials.createSsl(pem(pki.ca.cert));
  const address = `127.0.0.1:${server.grpcPort}`;
  const call = (method: string, request: object) =>
    unary(`127.0.0.1:${server.apiPort}`, credentials, 'otlpcapture.v1.CaptureService', method, request, bearer);
  const payloads = { traces: tracePayload(7, 40).proto, metrics: metricsPayload(7).proto, logs: logsPayload(7, 40).proto };
  const until = Date.now() + 8000;
  for (let round = 0; Date.now() < until; round++) {
    const tenant = round % 2 === 0 ? 'team-a' : 'team-b';
    for (const [signal, payload] of Object.entries(payloads)) {
      const outcome = await grpcExport(address, credentials, Buffer.from(payload), { ...bearer, 'x-scope-orgid': tenant }, signal as 'traces');
      expect(outcome).toEqual({ ok: true });
    }
    if (round % 5 === 0) {
      const malformed = await grpcExport(address, credentials, Buffer.from([0x0a, 0xff, 0x01]), bearer, 'traces');
      expect(malformed).toMatchObject({ ok: false, code: grpc.status.INVALID_ARGUMENT });
    }
    if (round === 3) {
      // Early, so that Prometheus has scraped their series several times by the end.
      expect((await call('ListRequests', { page_size: 5 })).error).toBeNull();
      expect((await call('FindTrace', { trace_id: 'ab'.repeat(16) })).error?.code).toBe(grpc.status.NOT_FOUND);
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}, 90_000);

afterAll(async () => {
  await prometheus?.stop();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('Prometheus scrapes serve and evaluates every rule of the rule file without error', async () => {
  const [up] = await prometheus.query('up{job="otlp-capture"}');
  expect(up?.value[1]).toBe('1');
  const groups = await waitFor('every rule evaluated', async () => {
    const data = await prometheus.api<{ groups: { name: string; rules: { name: string; health: string; lastError?: string; type: string }[] }[] }>('rules');
    const all = data.groups.flatMap((group) => group.rules);
    return all.length > 0 && all.every((rule) => rule.health !== 'unknown') ? data.groups : undefined;
  }, 20_000, 250);
  expect(groups.map((group) => group.name).sort()).toEqual(['otlp-capture.alerts', 'otlp-capture.recording']);
  const unhealthy = groups.flatMap((group) => group.rules).filter((rule) => rule.health !== 'ok');
  expect(unhealthy).toEqual([]);
  // A healthy serve under a short load fires nothing but the truth: the test certificate is valid for 2 days only.
  const firing = await waitFor('the certificate alerts', async () => {
    const { alerts } = await prometheus.api<{ alerts: { labels: Record<string, string>; state: string }[] }>('alerts');
    const now = alerts.filter((alert) => alert.state === 'firing');
    return now.length >= 2 ? now : undefined;
  }, 10_000, 250);
  expect(firing.map((alert) => `${alert.labels.alertname} ${alert.labels.severity} ${alert.labels.listener}`).sort()).toEqual([
    'OtlpCaptureTlsCertificateExpiring critical otlp',
    'OtlpCaptureTlsCertificateExpiring warning otlp',
  ]);
});

test('every recording rule has data, with the labels it aggregates by', async () => {
  const results = await waitFor('data in every recording rule', async () => {
    const now = await Promise.all(recordNames().map(async (name) => [name, await prometheus.query(name)] as const));
    return now.every(([, samples]) => samples.length > 0) ? new Map(now) : undefined;
  }, 30_000, 500);
  const ingest = results.get('job_signal_tenant:otlpcapture_requests_received:rate5m')!;
  expect(new Set(ingest.map((s) => `${s.metric.signal} ${s.metric.tenant}`))).toEqual(
    new Set(['traces team-a', 'traces team-b', 'metrics team-a', 'metrics team-b', 'logs team-a', 'logs team-b']),
  );
  for (const sample of ingest) {
    expect(sample.metric.job).toBe('otlp-capture');
    expect(Number(sample.value[1])).toBeGreaterThan(0);
  }
  const rejected = results.get('job_reason:otlpcapture_requests_rejected:rate5m')!;
  expect(Number(rejected.find((s) => s.metric.reason === 'malformed')!.value[1])).toBeGreaterThan(0);
  const compression = results.get('job_signal:otlpcapture_compression:ratio_rate1h')!;
  for (const sample of compression) expect(Number(sample.value[1])).toBeGreaterThan(1);
  const fill = results.get('instance:otlpcapture_spool_fill:ratio')!;
  expect(Number(fill[0]!.value[1])).toBeGreaterThan(0);
});

test('every dashboard query is accepted by Prometheus, and returns data', async () => {
  const empty: string[] = [];
  for (const { name, expr } of dashboardQueries) {
    const samples = await prometheus.query(asGrafanaSends(expr));
    if (samples.length === 0) empty.push(name);
  }
  expect(empty.sort()).toEqual(Object.keys(MAY_BE_EMPTY).sort());
  expect(dashboardQueries.length).toBeGreaterThan(40);
});

test('a sample of dashboard panels shows what the load did', async () => {
  const value = async (title: string, refId = 'A'): Promise<{ metric: Record<string, string>; value: number }[]> => {
    const query = dashboardQueries.find((q) => q.name === `${title} ${refId}`)!;
    return (await prometheus.query(asGrafanaSends(query.expr))).map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
  };
  const requests = await value('Requests / s by signal and tenant');
  expect(requests.length).toBe(6);
  for (const series of requests) expect(series.value).toBeGreaterThan(0);
  expect((await value('Objects sealed / s by signal')).map((s) => s.metric.signal).sort()).toEqual(['logs', 'metrics', 'traces']);
  expect((await value('Ready instances'))[0]!.value).toBe(1);
  const expiry = (await value('Certificate expiry'))[0]!.value;
  expect(expiry).toBeGreaterThan(86_400);
  expect(expiry).toBeLessThanOrEqual(2 * 86_400);
  expect((await value('CaptureService calls / s')).map((s) => `${s.metric.method} ${s.metric.code}`).sort()).toEqual(['FindTrace NOT_FOUND', 'ListRequests OK']);
  expect((await value('Find-trace latency', 'B'))[0]!.metric.outcome).toBe('not_found');
  expect((await value('Event-loop lag'))[0]!.value).toBeGreaterThan(0);
  expect((await value('Since last clean retention run'))[0]!.value).toBeLessThan(60);
});

test("the dashboard's variables have values", async () => {
  const jobs = await prometheus.api<string[]>(`label/job/values?${new URLSearchParams({ 'match[]': 'otlpcapture_ready' })}`);
  expect(jobs).toEqual(['otlp-capture']);
  const tenants = await prometheus.api<string[]>(`label/tenant/values?${new URLSearchParams({ 'match[]': 'otlpcapture_requests_received_total{job=~"otlp-capture"}' })}`);
  expect(tenants).toEqual(['team-a', 'team-b']);
});
