// Every metric named in the alert rules, the dashboard, the README and the runbook exists on /metrics of a running
// `serve` (a histogram by its _bucket/_sum/_count series); every recording rule they name is defined in the rule
// file; and every otlp-capture metric serve exports is documented in the README's metrics table. Names are read
// from PromQL with Prometheus's own grammar, and from prose as whole tokens.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, type ServerProcess } from '../helpers/server-process.js';
import { grafanaToPromql, labelValuesMetric, parsePromql } from './promql.js';
import { recordNames, rules } from './prometheus-rules.js';
import { repoPath, type Tree } from './repo-yaml.js';

/** Series Prometheus itself makes for every target; not on /metrics. */
const PROMETHEUS_SYNTHETIC = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);
const PROSE = ['README.md', 'docs/RUNBOOK.md', 'collector-config/README.md', 'deploy/kubernetes/README.md'];

let dir: string;
let server: ServerProcess;
/** Every series name /metrics can have, from its # TYPE lines. */
const exported = new Set<string>();
const families = new Map<string, string>();

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'metric-names-'));
  server = await startServer(['--data-dir', path.join(dir, 'data')]);
  const text = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    families.set(name!, type!);
    exported.add(name!);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(`${name}${suffix}`);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) exported.add(`${name}${suffix}`);
  }
}, 60_000);

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Metric and recording-rule names in PromQL, and in prose (backticked code and plain text alike). */
function namesInProse(text: string): string[] {
  const names = new Set<string>();
  // A whole token; `otlpcapture_process_*` (a family prefix) and `otlpcapture_` alone are not names.
  for (const [token] of text.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*otlpcapture_[A-Za-z0-9_:]*(?![A-Za-z0-9_:*])/g)) {
    if (!token.endsWith('_')) names.add(token);
  }
  for (const [token] of text.matchAll(/(?<![A-Za-z0-9_:])otlpcapture_[A-Za-z0-9_:]*(?![A-Za-z0-9_:*])/g)) {
    if (!token.endsWith('_')) names.add(token);
  }
  return [...names];
}

function checkNames(where: string, names: readonly string[]): void {
  const records = new Set(recordNames());
  const missing = names.filter((name) => (name.includes(':') ? !records.has(name) : !exported.has(name) && !PROMETHEUS_SYNTHETIC.has(name)));
  expect({ where, missing }).toEqual({ where, missing: [] });
}

test('serve exports the metric families (and prom-client process metrics)', () => {
  expect(families.get('otlpcapture_requests_received_total')).toBe('counter');
  expect(families.get('otlpcapture_archive_lag_seconds')).toBe('histogram');
  expect(families.get('otlpcapture_tls_certificate_expiry_timestamp_seconds')).toBe('gauge');
  expect(families.get('otlpcapture_nodejs_eventloop_lag_p99_seconds')).toBe('gauge');
  expect(exported.has('otlpcapture_archive_lag_seconds_bucket')).toBe(true);
});

test('every metric in the rule file exists', () => {
  const names = rules().flatMap((rule) => {
    const parsed = parsePromql(rule.expr);
    expect({ rule: rule.alert ?? rule.record, errors: parsed.errors }).toEqual({ rule: rule.alert ?? rule.record, errors: [] });
    return parsed.metrics;
  });
  expect(names.length).toBeGreaterThan(20);
  checkNames('deploy/prometheus/otlp-capture.rules.yaml', names);
});

test('every metric in the dashboard exists', () => {
  const dashboard = JSON.parse(readFileSync(repoPath('deploy/grafana/otlp-capture.json'), 'utf8')) as Tree;
  const exprs = (dashboard.panels as Tree[]).flatMap((panel) => ((panel.targets as Tree[] | undefined) ?? []).map((t) => String(t.expr)));
  const names = exprs.flatMap((expr) => parsePromql(grafanaToPromql(expr)).metrics);
  for (const variable of (dashboard.templating as { list: Tree[] }).list) {
    const metric = variable.type === 'query' ? labelValuesMetric(String(variable.definition)) : undefined;
    if (metric !== undefined) names.push(metric);
  }
  expect(names.length).toBeGreaterThan(40);
  checkNames('deploy/grafana/otlp-capture.json', names);
});

/** Every file under deploy/ that names an otlp-capture metric: rule files, their promtool tests, the generated
 * PrometheusRule, the dashboard (nested and collapsed rows included), manifests and READMEs. */
function deployFilesNamingMetrics(relative = 'deploy'): string[] {
  return readdirSync(repoPath(relative), { withFileTypes: true }).flatMap((entry) => {
    const child = path.posix.join(relative, entry.name);
    if (entry.isDirectory()) return deployFilesNamingMetrics(child);
    return readFileSync(repoPath(child), 'utf8').includes('otlpcapture_') ? [child] : [];
  });
}

test('every otlp-capture metric named anywhere under deploy/ exists (whole tokens, whatever the file format)', () => {
  const files = deployFilesNamingMetrics();
  for (const expected of ['deploy/prometheus/otlp-capture.rules.yaml', 'deploy/prometheus/kubernetes/prometheusrule.yaml', 'deploy/grafana/otlp-capture.json', 'deploy/prometheus/tests/spool.yaml']) {
    expect(files).toContain(expected);
  }
  for (const file of files) checkNames(file, namesInProse(readFileSync(repoPath(file), 'utf8')));
});

test.each(PROSE)('every metric named in %s exists', (file) => {
  checkNames(file, namesInProse(readFileSync(repoPath(file), 'utf8')));
});

test('the prose check reads names, recording rules and families as whole tokens', () => {
  expect(namesInProse('`otlpcapture_spool_bytes` and rate(otlpcapture_x_total[5m]), `otlpcapture_process_*`, grep otlpcapture_'))
    .toEqual(['otlpcapture_spool_bytes', 'otlpcapture_x_total']);
  expect(namesInProse('`job:otlpcapture_a:rate5m`')).toEqual(['job:otlpcapture_a:rate5m']);
  expect(() => checkNames('a test', ['otlpcapture_no_such_metric'])).toThrow();
});

test('every otlp-capture metric serve exports is in the README metrics table', () => {
  const readme = readFileSync(repoPath('README.md'), 'utf8');
  const table = readme.slice(readme.indexOf('### Metrics'));
  const documented = new Set(namesInProse(table.slice(0, table.indexOf('\n## '))));
  const own = [...families.keys()].filter((name) => !/^otlpcapture_(process|nodejs)_/.test(name));
  expect(own.length).toBeGreaterThan(30);
  expect(own.filter((name) => !documented.has(name))).toEqual([]);
});
